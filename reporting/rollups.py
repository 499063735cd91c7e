"""Maintaining the reporting tables (``IncidentFact``, ``AssignmentFact``, ``CallFact``).

Each fact row is computed in the database with the same expressions the raw figures use
(``Seconds``, local ``TruncDate``/``ExtractHour`` in the report time zone, the stored-deadline
comparisons), so a figure read from the facts equals the figure read from the operational tables —
``tests/reporting/test_rollups.py`` proves it for every figure.

* ``rollups_rebuild()`` recomputes everything (first deployment, ``manage.py report_rollups_rebuild``).
* ``rollups_refresh()`` runs every minute (Celery beat): every change of an incident or an
  assignment writes a timeline event in the same transaction, and so does every SLA warning or
  breach the SLA engine records (``incidents.sla``, its batch and its per-incident path alike), so
  the incidents with new timeline events since the last run are the ones to recompute (with their
  assignments, their SLA counts and their calls); new calls, calls still pending, and calls of
  changed incidents are recomputed too. Safe to run twice and concurrently (the state row is
  locked); a late-committing transaction is caught by re-reading an overlap of recent ids.

SLA counts are read per chunk of fact rows (one grouped query over ``SlaEvent`` per chunk) rather
than by a correlated subquery per row and column: most incidents have no SLA event at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from django.db import transaction
from django.db.models import BooleanField, Case, Count, Exists, ExpressionWrapper, F, Max, OuterRef, Q, When
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from dispatch.models import Assignment
from incidents.models import Call, Incident, SlaEvent, SlaTarget, TimelineEvent

from .db import Seconds
from .filters import report_timezone
from .models import AssignmentFact, CallDailyStat, CallFact, IncidentFact, RollupState, sla_count_field

BATCH = 2000
# Ids below the last one read that are read again, so a transaction that committed late (its id
# was taken before the last run but it became visible after) is not missed.
OVERLAP = 1000
# At most this many timeline events and calls per run; a backlog is worked off over several runs.
REFRESH_LIMIT = 50_000

INCIDENT_FACT_FIELDS = [f.name for f in IncidentFact._meta.concrete_fields if not f.primary_key]
ASSIGNMENT_FACT_FIELDS = [f.name for f in AssignmentFact._meta.concrete_fields if not f.primary_key]
CALL_FACT_FIELDS = [f.name for f in CallFact._meta.concrete_fields if not f.primary_key]


def _chunks(values: Iterable, size: int = BATCH) -> Iterator[list]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _flag(condition: Q) -> ExpressionWrapper:
    # NULL when either side is NULL, exactly like the raw figures' filtered counts.
    return ExpressionWrapper(condition, output_field=BooleanField())


# ------------------------------------------------------------------------------------------------
# Computing fact rows
# ------------------------------------------------------------------------------------------------
def incident_facts(incidents) -> Iterator[IncidentFact]:
    tz = report_timezone()
    rows = incidents.annotate(
        f_day=TruncDate("received_at", tzinfo=tz),
        f_hour=ExtractHour("received_at", tzinfo=tz),
        f_response=Seconds(F("first_on_scene_at"), F("received_at")),
        f_dispatch=Seconds(F("first_dispatched_at"), F("received_at")),
        f_acknowledge=Seconds(F("first_acknowledged_at"), F("first_dispatched_at")),
        f_response_cat=_flag(Q(first_on_scene_at__lte=F("response_due_at"))),
        f_dispatch_cat=_flag(Q(first_dispatched_at__lte=F("dispatch_due_at"))),
    ).values_list(
        "pk",
        "region_id",
        "district_id",
        "category_id",
        "channel",
        "priority",
        "status",
        "f_day",
        "f_hour",
        "f_response",
        "f_dispatch",
        "f_acknowledge",
        "f_response_cat",
        "f_dispatch_cat",
    )
    for chunk in _chunks(rows.iterator(chunk_size=BATCH)):
        sla = sla_counts(SlaEvent.objects.filter(incident_id__in=[row[0] for row in chunk]), "incident_id")
        for counts in sla.values():
            counts["sla_events"] = sum(counts.values())
        for pk, region, district, category, channel, priority, status, day, hour, *rest in chunk:
            response, dispatch, acknowledge, response_cat, dispatch_cat = rest
            yield IncidentFact(
                incident_id=pk,
                region_id=region,
                district_id=district,
                category_id=category,
                channel=channel,
                priority=priority,
                status=status,
                day=day,
                hour=hour,
                response_s=response,
                dispatch_s=dispatch,
                acknowledge_s=acknowledge,
                response_in_category=response_cat,
                dispatch_in_category=dispatch_cat,
                **sla.get(pk, {}),
            )


def sla_counts(events, key: str) -> dict[int, dict[str, int]]:
    """{key value: {fact column: events}} of the SLA events, counted by target and level in the database."""
    counts: dict[int, dict[str, int]] = {}
    for value, target, level, n in (
        events.values(key, "target", "level")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list(key, "target", "level", "n")
    ):
        counts.setdefault(value, {})[sla_count_field(target, level)] = n
    return counts


def assignment_facts(assignments) -> Iterator[AssignmentFact]:
    tz = report_timezone()
    earlier_of_agency = Assignment.objects.filter(
        incident_id=OuterRef("incident_id"), agency_id=OuterRef("agency_id"), pk__lt=OuterRef("pk")
    )
    columns = {
        "assignment_id": F("pk"),
        "incident_id": F("incident_id"),
        "agency_id": F("agency_id"),
        "unit_id": F("unit_id"),
        "region_id": F("incident__region_id"),
        "district_id": F("incident__district_id"),
        "category_id": F("incident__category_id"),
        "channel": F("incident__channel"),
        "day": TruncDate("incident__received_at", tzinfo=tz),
        "first_of_agency": ~Exists(earlier_of_agency),
        "response_s": Seconds(F("on_scene_at"), F("incident__received_at")),
        "dispatch_s": Seconds(F("requested_at"), F("incident__received_at")),
        "acknowledge_s": Seconds(F("acknowledged_at"), F("requested_at")),
        "response_in_category": _flag(Q(on_scene_at__lte=F("incident__response_due_at"))),
        "dispatch_in_category": _flag(Q(requested_at__lte=F("incident__dispatch_due_at"))),
        "acknowledge_in_category": _flag(Q(acknowledged_at__lte=F("acknowledge_due_at"))),
        # The incident's own figures (the same expressions as incident_facts).
        "status": F("incident__status"),
        "priority": F("incident__priority"),
        "hour": ExtractHour("incident__received_at", tzinfo=tz),
        "incident_response_s": Seconds(F("incident__first_on_scene_at"), F("incident__received_at")),
        "incident_dispatch_s": Seconds(F("incident__first_dispatched_at"), F("incident__received_at")),
        "incident_acknowledge_s": Seconds(F("incident__first_acknowledged_at"), F("incident__first_dispatched_at")),
        "incident_response_in_category": _flag(Q(incident__first_on_scene_at__lte=F("incident__response_due_at"))),
        "incident_dispatch_in_category": _flag(Q(incident__first_dispatched_at__lte=F("incident__dispatch_due_at"))),
    }
    # The agency answers for the incident's on-scene and resolve events unless it declined: counted
    # once per agency, on its first assignment that is not declined (the raw figure counts distinct events).
    not_declined = ~Q(status=Assignment.Status.DECLINED)
    answers_for_incident = _flag(not_declined & ~Exists(earlier_of_agency.filter(not_declined)))
    aliases = {f"f_{name}": expression for name, expression in columns.items()}
    rows = assignments.annotate(**aliases, f_answers=answers_for_incident).values_list(*aliases, "f_answers")
    for chunk in _chunks(rows.iterator(chunk_size=BATCH)):
        facts = [(AssignmentFact(**dict(zip(columns, values[:-1], strict=True))), values[-1]) for values in chunk]
        own = sla_counts(
            SlaEvent.objects.filter(assignment_id__in=[fact.pk for fact, _ in facts], target=SlaTarget.ACKNOWLEDGE),
            "assignment_id",
        )
        of_incident = sla_counts(
            SlaEvent.objects.filter(
                incident_id__in={fact.incident_id for fact, answers in facts if answers},
                target__in=(SlaTarget.RESPONSE, SlaTarget.RESOLVE),
            ),
            "incident_id",
        )
        for fact, answers in facts:
            counts = own.get(fact.pk, {}) | (of_incident.get(fact.incident_id, {}) if answers else {})
            for name, n in counts.items():
                setattr(fact, name, n)
            fact.sla_events = sum(counts.values())
            yield fact


PROCESSED = Q(outcome=Call.Outcome.EMERGENCY, answered_at__isnull=False, incident__first_dispatched_at__isnull=False)


def call_facts(calls) -> Iterator[CallFact]:
    tz = report_timezone()
    rows = calls.annotate(
        f_day=TruncDate("started_at", tzinfo=tz),
        f_hour=ExtractHour("started_at", tzinfo=tz),
        f_answer=Seconds(F("answered_at"), F("started_at")),
        f_processing=Case(When(PROCESSED, then=Seconds(F("incident__first_dispatched_at"), F("answered_at")))),
    ).values_list("pk", "region_id", "channel", "outcome", "f_day", "f_hour", "f_answer", "f_processing")
    for pk, region, channel, outcome, day, hour, answer, processing in rows.iterator(chunk_size=BATCH):
        yield CallFact(
            call_id=pk,
            region_id=region,
            channel=channel,
            outcome=outcome,
            day=day,
            hour=hour,
            answer_s=answer,
            processing_s=processing,
        )


def _upsert(model, objects: Iterable, fields: list[str], key: str) -> int:
    written = 0
    for chunk in _chunks(objects):
        model.objects.bulk_create(chunk, update_conflicts=True, unique_fields=[key], update_fields=fields)
        written += len(chunk)
    return written


def _refresh_incidents(incident_ids: list[int]) -> tuple[int, int]:
    incidents = assignments = 0
    for chunk in _chunks(sorted(incident_ids)):
        incidents += _upsert(
            IncidentFact, incident_facts(Incident.objects.filter(pk__in=chunk)), INCIDENT_FACT_FIELDS, "incident"
        )
        assignments += _upsert(
            AssignmentFact,
            assignment_facts(Assignment.objects.filter(incident_id__in=chunk)),
            ASSIGNMENT_FACT_FIELDS,
            "assignment",
        )
    return incidents, assignments


def _refresh_calls(call_ids: Iterable[int]) -> int:
    written, days = 0, set()
    for chunk in _chunks(sorted(set(call_ids))):
        written += _upsert(CallFact, call_facts(Call.objects.filter(pk__in=chunk)), CALL_FACT_FIELDS, "call")
        days.update(CallFact.objects.filter(pk__in=chunk).values_list("day", flat=True).distinct())
    _refresh_call_days(days)
    return written


def call_daily_stats(call_facts_queryset) -> Iterator[CallDailyStat]:
    """The daily counts, aggregated in the database from the call facts."""
    within = {f"answer_{s}s": Count("pk", filter=Q(answer_s__lte=float(s))) for s in (10, 15, 20)}
    rows = (
        call_facts_queryset.values("day", "region_id", "channel", "hour", "outcome")
        .annotate(
            calls=Count("pk"),
            answered=Count("answer_s"),
            **within,
            processed=Count("processing_s"),
            processing_60s=Count("pk", filter=Q(processing_s__lte=60.0)),
        )
        .order_by()
    )
    for row in rows.iterator(chunk_size=BATCH):
        yield CallDailyStat(**row)


def _refresh_call_days(days: Iterable) -> None:
    """Recompute the daily call counts of these local days (all regions) from the call facts."""
    for chunk in _chunks(sorted(set(days)), 31):
        CallDailyStat.objects.filter(day__in=chunk).delete()
        for batch in _chunks(call_daily_stats(CallFact.objects.filter(day__in=chunk))):
            CallDailyStat.objects.bulk_create(batch)


# ------------------------------------------------------------------------------------------------
# Rebuild and refresh
# ------------------------------------------------------------------------------------------------
@dataclass
class RollupResult:
    incidents: int = 0
    assignments: int = 0
    calls: int = 0


def rollups_rebuild() -> RollupResult:
    """Recompute every fact row. The watermarks are read first, so changes made while it runs are
    picked up by the next refresh."""
    with transaction.atomic():
        state, _created = RollupState.objects.select_for_update().get_or_create(pk=1)
        state.last_timeline_id = TimelineEvent.objects.aggregate(m=Max("pk"))["m"] or 0
        state.last_call_id = Call.objects.aggregate(m=Max("pk"))["m"] or 0
        IncidentFact.objects.all().delete()
        AssignmentFact.objects.all().delete()
        CallFact.objects.all().delete()
        CallDailyStat.objects.all().delete()
        result = RollupResult(
            incidents=_upsert(
                IncidentFact, incident_facts(Incident.objects.order_by("pk")), INCIDENT_FACT_FIELDS, "incident"
            ),
            assignments=_upsert(
                AssignmentFact,
                assignment_facts(Assignment.objects.order_by("pk")),
                ASSIGNMENT_FACT_FIELDS,
                "assignment",
            ),
            calls=_upsert(CallFact, call_facts(Call.objects.order_by("pk")), CALL_FACT_FIELDS, "call"),
        )
        for batch in _chunks(call_daily_stats(CallFact.objects.all())):
            CallDailyStat.objects.bulk_create(batch)
        state.rebuilt_at = state.refreshed_at = timezone.now()
        state.save()
    return result


def rollups_refresh() -> RollupResult | None:
    """Recompute the facts of what changed since the last run. None until the first rebuild."""
    with transaction.atomic():
        state = RollupState.objects.select_for_update().filter(pk=1).first()
        if state is None or state.rebuilt_at is None:
            return None
        events = list(
            TimelineEvent.objects.filter(pk__gt=max(0, state.last_timeline_id - OVERLAP))
            .order_by("pk")
            .values_list("pk", "incident_id")[: REFRESH_LIMIT + OVERLAP]
        )
        incident_ids = {incident_id for _pk, incident_id in events}
        new_calls = list(
            Call.objects.filter(pk__gt=max(0, state.last_call_id - OVERLAP))
            .order_by("pk")
            .values_list("pk", flat=True)[: REFRESH_LIMIT + OVERLAP]
        )
        call_ids = set(new_calls)
        call_ids |= set(CallFact.objects.filter(outcome=Call.Outcome.PENDING).values_list("pk", flat=True))
        if incident_ids:
            call_ids |= set(Call.objects.filter(incident_id__in=incident_ids).values_list("pk", flat=True))
        incidents, assignments = _refresh_incidents(list(incident_ids))
        calls = _refresh_calls(call_ids)
        state.last_timeline_id = max([state.last_timeline_id, *(pk for pk, _ in events)])
        state.last_call_id = max([state.last_call_id, *new_calls])
        state.refreshed_at = timezone.now()
        state.save(update_fields=["last_timeline_id", "last_call_id", "refreshed_at"])
    return RollupResult(incidents=incidents, assignments=assignments, calls=calls)
