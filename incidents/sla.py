"""SLA engine: targets, deadlines, and the sweep that records warnings and breaches.

Targets
    ``targets_for`` resolves the active ``SlaPolicy`` rows target by target: agency + priority, then
    agency, then priority, then the category-wide policy, then the category's own ``sla_*`` columns
    (and ``SLA_RESOLVE_MINUTES_DEFAULT`` / ``SLA_WARNING_PERCENT_DEFAULT``). The incident's own clocks
    start before any agency is known, so agency policies only set an agency's acknowledge target.

Deadlines
    Each clock's warning threshold and deadline are computed when it starts and stored on the row
    (``Incident.{dispatch,response,resolve}_{warn,due}_at``, ``Assignment.acknowledge_{warn,due}_at``),
    so a later policy edit never rewrites history and the sweep never reads a policy; re-categorising
    recomputes the incident's (the category service records the new values on its timeline event).

    ============  =====================  =================================================
    target        starts                 stops
    ============  =====================  =================================================
    dispatch      received               first dispatch
    acknowledge   each dispatch          that assignment leaves "requested"
    response      received               first unit on scene
    resolve       received               resolved
    ============  =====================  =================================================

    Cancelled, false-alarm and merged incidents stop every clock, and so does a resolution, for
    good: a reopened incident gets no new incident deadlines (new dispatches still get their
    acknowledge clocks). A threshold counts if its clock was still running when it fell due, judged
    from the milestone times rather than from when the sweep happens to look: a dispatch at 65 s
    seen by the sweep at 90 s is still a breach of a 60 s target, a dispatch at 59 s is not. A
    warning whose clock has stopped by the time it is recorded is kept as evidence, but nobody is
    notified about it (a breach is always notified).

The sweep
    ``Incident.sla_next_check_at`` holds the earliest threshold the sweep still has to look at; it is
    indexed where not NULL and set to NULL once every clock has stopped. ``sla_sweep`` reads only that
    index (``sla_next_check_at <= now``), so its cost follows the deadlines falling due, never the
    size of history; closed incidents are not in the index at all.

    The due incidents are checked in batches (``SLA_SWEEP_BATCH``), each by ``sla_batch_check`` in
    one transaction with a fixed number of statements, whatever the number of incidents or events:
    lock the batch's incidents still due (``SELECT … FOR UPDATE SKIP LOCKED``, the row lock every
    service takes, re-reading the milestones: a dispatch committed a moment before the sweep never
    yields a false breach), read their assignments, recorded events and first resolutions (one
    query each), judge the thresholds in Python, insert every new warning and breach in one
    ``INSERT … ON CONFLICT DO NOTHING RETURNING`` against the unique constraints on (incident,
    target, level) and (assignment, target, level) — exactly one row wins whatever the number of
    overlapping sweeps, redelivered messages or killed workers, and only the winners get their
    timeline events (one insert), webhook outbox rows (one ``INSERT … SELECT``, the same rows the
    per-event receiver writes) and notifications (one query for the recipients of the whole batch,
    one insert) — then move every next check on (one ``UPDATE … FROM (VALUES …)``) and commit once.
    A worker killed mid-batch rolls the whole batch back; the next sweep finds it still due. Emails
    and webhook HTTP calls go after commit (``transaction.on_commit``), and the outbox task picks up
    any whose message was lost.

    The per-incident path, ``incident_sla_check`` (public: services may call it), takes over three
    cases. An incident the batch found locked — a service is writing it, or a concurrent sweep's
    batch holds it — is not left for the next sweep (a warning up to one interval late) but checked
    right after the batch, waiting for the lock like a service: it is held for milliseconds, and a
    concurrent sweep's batch leaves nothing to do but read that the next check has moved on. An
    unacknowledged assignment to re-route (``SLA_REROUTE_UNACKNOWLEDGED``, rare) goes through the
    dispatch services there. And when a batch fails, its incidents are checked one by one, so one
    incident whose data breaks the batch fails alone and never blocks the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from semarang112.core import config_cache

from . import webhooks
from .models import Category, Incident, SlaEvent, SlaLevel, SlaPolicy, SlaTarget, SweepHeartbeat, TimelineEvent

logger = logging.getLogger(__name__)

S = Incident.Status
T = SlaTarget
L = SlaLevel

SWEEP_NAME = "sla"
SWEEP_ACTOR_LABEL = "system: SLA sweep"

#: Incident fields written when the incident's clocks start (``incident_due_times``).
INCIDENT_DUE_FIELDS = (
    "dispatch_warn_at",
    "dispatch_due_at",
    "response_warn_at",
    "response_due_at",
    "resolve_warn_at",
    "resolve_due_at",
)
_INCIDENT_CLOCKS = {
    T.DISPATCH: ("dispatch_warn_at", "dispatch_due_at"),
    T.RESPONSE: ("response_warn_at", "response_due_at"),
    T.RESOLVE: ("resolve_warn_at", "resolve_due_at"),
}


# ------------------------------------------------------------------------------------------------
# Targets
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Targets:
    """Minutes per target (``resolve_minutes`` None: no resolve clock) and the warning share."""

    dispatch_minutes: int
    acknowledge_minutes: int
    response_minutes: int
    resolve_minutes: int | None
    warning_percent: int


def _specificity(policy: SlaPolicy) -> tuple[bool, bool]:
    # False sorts first: agency + priority, agency, priority, category-wide.
    return (policy.agency_id is None, policy.priority is None)


class PolicyBook:
    """Active policies of the categories asked about, read once (a sweep resolves many incidents)."""

    def __init__(self) -> None:
        self._by_category: dict[int, list[SlaPolicy]] = {}

    def policies(self, category_id: int) -> list[SlaPolicy]:
        if category_id not in self._by_category:
            self._by_category[category_id] = config_cache.cached(
                f"sla.policies:{category_id}",
                lambda: list(SlaPolicy.objects.filter(category_id=category_id, is_active=True)),
            )
        return self._by_category[category_id]

    def targets(self, *, category: Category, priority: int | None, agency_id: int | None = None) -> Targets:
        candidates = sorted(
            (
                policy
                for policy in self.policies(category.pk)
                if policy.priority in (None, priority) and policy.agency_id in (None, agency_id)
            ),
            key=_specificity,
        )

        def pick(attribute: str, fallback: int | None) -> int | None:
            for policy in candidates:
                value = getattr(policy, attribute)
                if value:
                    return value
            return fallback

        return Targets(
            dispatch_minutes=pick("dispatch_minutes", category.sla_dispatch_minutes),
            acknowledge_minutes=pick("acknowledge_minutes", category.sla_acknowledge_minutes),
            response_minutes=pick("response_minutes", category.sla_response_minutes),
            resolve_minutes=pick("resolve_minutes", settings.SLA_RESOLVE_MINUTES_DEFAULT or None),
            warning_percent=candidates[0].warning_percent if candidates else settings.SLA_WARNING_PERCENT_DEFAULT,
        )


def targets_for(*, category: Category, priority: int | None, agency=None) -> Targets:
    """The targets in force for a category and priority (and, for acknowledgement, an agency)."""
    return PolicyBook().targets(category=category, priority=priority, agency_id=getattr(agency, "pk", agency))


def _window(start: datetime, minutes: int, percent: int) -> tuple[datetime, datetime]:
    """(warning threshold, deadline) of a clock started at ``start``."""
    target = timedelta(minutes=minutes)
    return start + target * (percent / 100), start + target


# ------------------------------------------------------------------------------------------------
# Deadlines (called by the services when a clock starts)
# ------------------------------------------------------------------------------------------------
def incident_due_times(*, category: Category, priority: int, start: datetime) -> dict[str, datetime | None]:
    """Warning thresholds and deadlines of a new incident, plus its first ``sla_next_check_at``.

    For ``Incident.objects.create(**…)`` in ``incident_create``.
    """
    targets = targets_for(category=category, priority=priority)
    values: dict[str, datetime | None] = {}
    values["dispatch_warn_at"], values["dispatch_due_at"] = _window(
        start, targets.dispatch_minutes, targets.warning_percent
    )
    values["response_warn_at"], values["response_due_at"] = _window(
        start, targets.response_minutes, targets.warning_percent
    )
    if targets.resolve_minutes:
        values["resolve_warn_at"], values["resolve_due_at"] = _window(
            start, targets.resolve_minutes, targets.warning_percent
        )
    else:
        values["resolve_warn_at"] = values["resolve_due_at"] = None
    values["sla_next_check_at"] = min(value for value in values.values() if value is not None)
    return values


def incident_due_times_apply(incident: Incident) -> list[str]:
    """Recompute an incident's deadlines from its (new) category and priority, still from received.

    Caller holds the incident's row lock and saves the returned fields. Events already recorded stay;
    the next check moves no later than before, so a pending acknowledge threshold is not skipped.
    """
    values = incident_due_times(category=incident.category, priority=incident.priority, start=incident.received_at)
    next_check = values.pop("sla_next_check_at")
    if incident.sla_next_check_at is not None:
        next_check = min(next_check, incident.sla_next_check_at)
    for name, value in values.items():
        setattr(incident, name, value)
    incident.sla_next_check_at = next_check
    return [*values, "sla_next_check_at"]


def due_times_payload(incident: Incident) -> dict[str, str | None]:
    """The incident's deadlines for a timeline payload."""
    return {name: _iso(getattr(incident, name)) for name in INCIDENT_DUE_FIELDS}


def acknowledge_clock_start(*, incident: Incident, agency, start: datetime) -> dict[str, datetime]:
    """The acknowledge warning threshold and deadline of a new assignment of ``agency`` requested at
    ``start``, for ``Assignment.objects.create(**…)``: ``acknowledge_warn_at``, ``acknowledge_due_at``.

    Caller (``incident_dispatch``) holds the incident's row lock. Also brings the incident's
    ``sla_next_check_at`` forward to the assignment's warning threshold, so the sweep looks at it
    in time.
    """
    targets = targets_for(category=incident.category, priority=incident.priority, agency=agency)
    warn_at, due_at = _window(start, targets.acknowledge_minutes, targets.warning_percent)
    Incident.objects.filter(pk=incident.pk).filter(
        Q(sla_next_check_at__isnull=True) | Q(sla_next_check_at__gt=warn_at)
    ).update(sla_next_check_at=warn_at)
    if incident.sla_next_check_at is None or incident.sla_next_check_at > warn_at:
        incident.sla_next_check_at = warn_at
    return {"acknowledge_warn_at": warn_at, "acknowledge_due_at": due_at}


# ------------------------------------------------------------------------------------------------
# Clocks of one incident
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Threshold:
    """A warning threshold or deadline of one clock, and when that clock stopped (None: running)."""

    target: str
    level: str
    at: datetime
    stopped_at: datetime | None = None
    assignment: object | None = None  # dispatch.Assignment for the acknowledge target

    @property
    def key(self) -> tuple[str, str, int | None]:
        return (self.target, self.level, getattr(self.assignment, "pk", None))

    def passed(self, now: datetime) -> bool:
        """Due, and the clock was still running when it fell due (judged by the milestone times,
        so a dispatch at 65 s seen by a sweep at 90 s is still a breach of a 60 s target)."""
        return self.at <= now and (self.stopped_at is None or self.stopped_at > self.at)

    def pending(self, now: datetime) -> bool:
        return self.at > now and self.stopped_at is None


def _earliest(*values: datetime | None) -> datetime | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None


def first_resolutions(incidents: Iterable[Incident]) -> dict[int, datetime]:
    """{incident id: when it was first resolved}, in one query for all the incidents that may have
    been (a reopen clears ``resolved_at``, so the timeline is the record)."""
    ids = [incident.pk for incident in incidents if incident.resolved_at is not None or incident.verified_at is not None]
    if not ids:
        return {}
    rows = (
        TimelineEvent.objects.filter(incident_id__in=ids, kind=TimelineEvent.Kind.STATUS_CHANGED, to_state=S.RESOLVED)
        .values("incident_id")
        .annotate(first=Min("created_at"))
        .order_by()
        .values_list("incident_id", "first")
    )
    return dict(rows)


def _incident_ended_at(incident: Incident, resolutions: dict[int, datetime] | None = None) -> datetime | None:
    """When the incident's own clocks stopped for good: its first resolution (a reopen restarts
    nothing), or its cancellation, false alarm or merge. ``resolutions``: ``first_resolutions`` of
    a batch that includes this incident (else one query for it)."""
    if resolutions is None:
        resolutions = first_resolutions([incident])
    resolved = resolutions.get(incident.pk)
    if incident.status in (S.CANCELLED, S.FALSE_ALARM, S.MERGED):
        return _earliest(resolved, incident.closed_at or incident.updated_at)
    return _earliest(resolved, incident.resolved_at)


def _assignments(incident: Incident) -> list:
    from dispatch.models import Assignment

    return list(Assignment.objects.filter(incident_id=incident.pk).select_related("agency").order_by("pk"))


def _acknowledge_warn_at(incident: Incident, assignment, book: PolicyBook) -> datetime:
    """Stored at dispatch; an assignment written before that column existed (or by code that
    predates it) gets the share of the policy in force now, as the sweep used to compute it."""
    if assignment.acknowledge_warn_at is not None:
        return assignment.acknowledge_warn_at
    percent = book.targets(
        category=incident.category, priority=incident.priority, agency_id=assignment.agency_id
    ).warning_percent
    window = assignment.acknowledge_due_at - assignment.requested_at
    return assignment.requested_at + window * (percent / 100)


def thresholds_of(
    incident: Incident, assignments: Iterable, book: PolicyBook, *, resolutions: dict[int, datetime] | None = None
) -> list[Threshold]:
    """Every threshold of the incident's clocks and its assignments' acknowledge clocks, earliest first.

    No query when ``resolutions`` (``first_resolutions`` of the batch) is given and every assignment
    has its stored warning threshold.
    """
    ended_at = _incident_ended_at(incident, resolutions)
    stops = {
        T.DISPATCH: _earliest(incident.first_dispatched_at, ended_at),
        T.RESPONSE: _earliest(incident.first_on_scene_at, ended_at),
        T.RESOLVE: ended_at,
    }
    thresholds: list[Threshold] = []
    for target, (warn_field, due_field) in _INCIDENT_CLOCKS.items():
        for level, name in ((L.WARNING, warn_field), (L.BREACH, due_field)):
            at = getattr(incident, name)
            if at is not None:
                thresholds.append(Threshold(target, level, at, stops[target]))
    for assignment in assignments:
        if assignment.acknowledge_due_at is None:
            continue
        stopped_at = _earliest(assignment.acknowledged_at, assignment.declined_at, assignment.cancelled_at)
        warn_at = _acknowledge_warn_at(incident, assignment, book)
        thresholds.append(Threshold(T.ACKNOWLEDGE, L.WARNING, warn_at, stopped_at, assignment))
        thresholds.append(Threshold(T.ACKNOWLEDGE, L.BREACH, assignment.acknowledge_due_at, stopped_at, assignment))
    thresholds.sort(key=lambda threshold: (threshold.at, threshold.level != L.WARNING))
    return thresholds


# ------------------------------------------------------------------------------------------------
# Recording
# ------------------------------------------------------------------------------------------------
def _event_insert(*, incident_id: int, threshold: Threshold, recorded_at: datetime) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new event's id, or None if it already exists.

    ``bulk_create(ignore_conflicts=True)`` cannot say which rows were new; this can, on PostgreSQL
    and on SQLite (3.35+), and a conflict does not abort the surrounding transaction.
    """
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {SlaEvent._meta.db_table} (incident_id, assignment_id, target, level, due_at, recorded_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            [
                incident_id,
                getattr(threshold.assignment, "pk", None),
                threshold.target,
                threshold.level,
                adapt(threshold.at),
                adapt(recorded_at),
            ],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def sla_event_describe(*, target: str, level: str, due_at: datetime, agency=None) -> str:
    """One line for people: "On scene target breached (due 14:05:00)"."""
    values = {
        "target": SlaTarget(target).label,
        "time": timezone.localtime(due_at).strftime("%H:%M:%S"),
        "agency": str(agency) if agency is not None else "",
    }
    if level == L.WARNING:
        text = _("%(target)s target at risk (warning threshold %(time)s passed)") % values
    else:
        text = _("%(target)s target breached (due %(time)s)") % values
    if agency is not None:
        text = f"{text} — {values['agency']}"
    return text


def _timeline_values(threshold: Threshold, event_pk: int) -> dict:
    """The timeline event of a recorded threshold (both paths write the same one)."""
    agency = getattr(threshold.assignment, "agency", None)
    payload = {
        "sla_event_id": event_pk,
        "target": threshold.target,
        "level": threshold.level,
        "due_at": _iso(threshold.at),
    }
    if agency is not None:
        payload["agency"] = agency.code
    return {
        "kind": TimelineEvent.Kind.SLA_WARNING if threshold.level == L.WARNING else TimelineEvent.Kind.SLA_BREACH,
        "assignment": threshold.assignment,
        "to_state": threshold.level,
        "note": sla_event_describe(target=threshold.target, level=threshold.level, due_at=threshold.at, agency=agency),
        "payload": payload,
    }


def _event_record(incident: Incident, threshold: Threshold, now: datetime) -> SlaEvent | None:
    """Record one threshold: the event and its timeline event, or nothing if it is already taken."""
    from .services import Actor, timeline_event_create

    pk = _event_insert(incident_id=incident.pk, threshold=threshold, recorded_at=now)
    if pk is None:
        return None
    event = SlaEvent(
        pk=pk,
        incident=incident,
        assignment=threshold.assignment,
        target=threshold.target,
        level=threshold.level,
        due_at=threshold.at,
        recorded_at=now,
    )
    timeline_event_create(incident=incident, actor=Actor.system(SWEEP_ACTOR_LABEL), at=now, **_timeline_values(threshold, pk))
    return event


def _to_notify(threshold: Threshold) -> bool:
    # People are told about breaches, and about warnings while there is still time to act.
    return threshold.level == L.BREACH or threshold.stopped_at is None


def _needs_reroute(threshold: Threshold) -> bool:
    return threshold.target == T.ACKNOWLEDGE and threshold.level == L.BREACH and threshold.stopped_at is None


def _notify(items: list[tuple[Incident, list[SlaEvent], list]]) -> None:
    """Tell people about the events just recorded ((incident, events, assignments) per incident), in
    one savepoint: a bug in telling them must not cost the record itself."""
    from . import notifications

    items = [item for item in items if item[1]]
    if not items:
        return
    try:
        with transaction.atomic():
            notifications.sla_events_notify_many(items)
    except Exception:
        events = [event.pk for _incident, events, _assignments in items for event in events]
        logger.exception("notifications of SLA events %s failed; the events are recorded", events)


def _reroute(incident: Incident, assignment) -> None:
    """Unacknowledged past its deadline: dispatch the next agency of the routing rule, cancel this one.

    Runs inside the sweep's transaction (under the incident lock) and through the dispatch services,
    in a savepoint: a refusal (agency inactive, incident moved on) is logged and leaves the breach.
    """
    from dispatch import services as dispatch_services
    from dispatch.models import Assignment
    from semarang112.exceptions import ApplicationError

    from .services import Actor, timeline_event_create

    actor = Actor.system("system: SLA re-route")
    tried = set(Assignment.objects.filter(incident_id=incident.pk).values_list("agency_id", flat=True))
    candidates = [
        agency
        for agency in dispatch_services.routing_suggest(category=incident.category, district=incident.district)
        if agency.pk not in tried
    ]
    if not candidates:
        timeline_event_create(
            incident=incident,
            kind=TimelineEvent.Kind.NOTE,
            actor=actor,
            assignment=assignment,
            note=_("Not acknowledged in time; no other agency in the routing rule to re-route to."),
        )
        return
    replacement = candidates[0]
    reason = _("Not acknowledged in time; re-routed to %(agency)s.") % {"agency": replacement.code}
    try:
        with transaction.atomic():
            # Dispatch first, then cancel: the incident never looks uncovered in between.
            dispatch_services.incident_dispatch(incident=incident, agencies=[replacement], actor=actor, note=reason)
            dispatch_services.assignment_cancel(assignment=assignment, actor=actor, reason=reason)
    except ApplicationError as exc:
        logger.warning("SLA re-route of assignment %s refused: %s", assignment.pk, exc.code)


#: How long a batch waits for a lock held by someone else (PostgreSQL) before it gives up and its
#: incidents are checked one by one. The batch holds the locks of all its incidents meanwhile, so it
#: must not queue behind, say, a task that keeps an assignment locked while it sends an email.
BATCH_LOCK_TIMEOUT_MS = 1000


def _commit_without_waiting_for_disk(*, lock_timeout_ms: int | None = None) -> None:
    """PostgreSQL: this transaction's COMMIT does not wait for its WAL to reach the disk (and, with
    ``lock_timeout_ms``, no lock is waited for longer than that) — one statement.

    On ordinary disks the flush is most of a small transaction's cost. Safe here because the check
    is recomputed from the database: if PostgreSQL itself crashed within the WAL writer's delay
    (< 1 s), the last checks would be lost whole (events, timeline, notifications and next checks
    together, never in part) and the next sweep would record them again. Only when the check owns
    its transaction (not inside a caller's, whose durability and locks are the caller's business).
    """
    if connection.vendor == "postgresql" and not connection.savepoint_ids:
        sql = "SELECT set_config('synchronous_commit', 'off', true)"
        params: list = []
        if lock_timeout_ms:
            sql += ", set_config('lock_timeout', %s, true)"
            params.append(f"{int(lock_timeout_ms)}ms")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def incident_sla_check(*, incident_id: int, now: datetime | None = None, book: PolicyBook | None = None) -> list[SlaEvent]:
    """Record the incident's warnings and breaches that have passed, and move its next check on.

    The per-incident path: the sweep's batches hand it the incidents they could not lock at once,
    those due for a re-route, and every incident of a batch that failed; services may call it too.
    Takes the incident's row lock (waiting for it), so it queues behind any service writing the
    incident and behind a concurrent sweep; the second one finds the next check moved past ``now``
    and does nothing. Returns the events recorded by this call.
    """
    now = now or timezone.now()
    book = book or PolicyBook()
    with transaction.atomic():
        _commit_without_waiting_for_disk()
        incident = (
            Incident.objects.select_for_update(of=("self",))
            .select_related("category")
            .filter(pk=incident_id)
            .first()
        )
        if incident is None or incident.sla_next_check_at is None or incident.sla_next_check_at > now:
            return []
        assignments = _assignments(incident)
        thresholds = thresholds_of(incident, assignments, book)
        passed = [threshold for threshold in thresholds if threshold.passed(now)]
        recorded: set[tuple[str, str, int | None]] = set()
        if passed:
            recorded = set(
                SlaEvent.objects.filter(incident_id=incident.pk).values_list("target", "level", "assignment_id")
            )
        events, to_notify, stale = [], [], []
        for threshold in passed:
            if threshold.key in recorded:
                continue
            event = _event_record(incident, threshold, now)
            if event is None:
                continue
            events.append(event)
            if _to_notify(threshold):
                to_notify.append(event)
            if _needs_reroute(threshold):
                stale.append(threshold.assignment)
        _notify([(incident, to_notify, assignments)])
        if stale and settings.SLA_REROUTE_UNACKNOWLEDGED:
            for assignment in stale:
                _reroute(incident, assignment)
            incident = Incident.objects.select_related("category").get(pk=incident.pk)
            thresholds = thresholds_of(incident, _assignments(incident), book)
        next_check = min((threshold.at for threshold in thresholds if threshold.pending(now)), default=None)
        Incident.objects.filter(pk=incident.pk).update(sla_next_check_at=next_check)
    return events


# ------------------------------------------------------------------------------------------------
# A batch of incidents at once (the sweep)
# ------------------------------------------------------------------------------------------------
#: Rows per multi-row INSERT (bounds the statement and its parameters; SQLite allows 32,766).
_INSERT_CHUNK = 1000


@dataclass
class BatchResult:
    events: list[SlaEvent] = field(default_factory=list)
    checked: list[int] = field(default_factory=list)  # locked and judged in the batch
    deferred: list[int] = field(default_factory=list)  # left to incident_sla_check


def sla_batch_check(*, incident_ids: list[int], now: datetime, book: PolicyBook | None = None) -> BatchResult:
    """``incident_sla_check`` of many incidents in one transaction, in a fixed number of statements.

    Locks those of ``incident_ids`` still due with ``FOR UPDATE SKIP LOCKED`` (the lock every
    service takes: a milestone committed before the lock is seen, one being written is waited for
    by the per-incident path); reads their assignments, recorded events and first resolutions in one
    query each; inserts every new event in one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (the
    unique constraints keep each event once, whatever runs concurrently), their timeline events in
    one insert and their webhook outbox rows in one more; the recipients of all of them in one query
    and the notifications in one insert; the next checks in one UPDATE; one commit.

    Left to ``incident_sla_check`` (``deferred``): incidents another transaction held locked at that
    moment (a service writing them, or a concurrent sweep's batch) and, with
    SLA_REROUTE_UNACKNOWLEDGED, those with an unacknowledged assignment to re-route. An exception
    rolls back the whole batch; the caller then checks its incidents one by one. So does waiting
    longer than ``BATCH_LOCK_TIMEOUT_MS`` for any other lock (a row the new rows refer to, held by a
    transaction that does not hold the incident's lock first): the batch never keeps its incidents
    locked behind someone else's long transaction.
    """
    from dispatch.models import Assignment

    book = book or PolicyBook()
    reroute = settings.SLA_REROUTE_UNACKNOWLEDGED
    result = BatchResult()
    with transaction.atomic():
        _commit_without_waiting_for_disk(lock_timeout_ms=BATCH_LOCK_TIMEOUT_MS)
        incidents = list(
            Incident.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("category")
            .filter(pk__in=incident_ids, sla_next_check_at__lte=now)
            .order_by("pk")
        )
        locked = {incident.pk for incident in incidents}
        result.deferred = [pk for pk in incident_ids if pk not in locked]
        if not incidents:
            return result
        assignments: dict[int, list] = {pk: [] for pk in locked}
        for assignment in (
            Assignment.objects.filter(incident_id__in=locked).select_related("agency").order_by("incident_id", "pk")
        ):
            assignments[assignment.incident_id].append(assignment)
        recorded: dict[int, set] = {pk: set() for pk in locked}
        for incident_id, target, level, assignment_id in (
            SlaEvent.objects.filter(incident_id__in=locked)
            .order_by()
            .values_list("incident_id", "target", "level", "assignment_id")
        ):
            recorded[incident_id].add((target, level, assignment_id))
        resolutions = first_resolutions(incidents)

        plans: list[tuple[Incident, Threshold]] = []
        next_checks: dict[int, datetime | None] = {}
        for incident in incidents:
            thresholds = thresholds_of(incident, assignments[incident.pk], book, resolutions=resolutions)
            new = [t for t in thresholds if t.passed(now) and t.key not in recorded[incident.pk]]
            if reroute and any(_needs_reroute(threshold) for threshold in new):
                result.deferred.append(incident.pk)  # rare: the per-incident path re-routes
                continue
            plans += [(incident, threshold) for threshold in new]
            next_checks[incident.pk] = min((t.at for t in thresholds if t.pending(now)), default=None)
            result.checked.append(incident.pk)

        won = _events_insert(plans, now)
        timeline, to_notify = [], {}
        for incident, threshold in plans:
            event = won.get((incident.pk, *threshold.key))
            if event is None:
                continue
            result.events.append(event)
            timeline.append(
                TimelineEvent(
                    incident=incident,
                    actor=None,
                    actor_label=SWEEP_ACTOR_LABEL,
                    created_at=now,
                    **_timeline_values(threshold, event.pk),
                )
            )
            if _to_notify(threshold):
                to_notify.setdefault(incident.pk, (incident, [], assignments[incident.pk]))[1].append(event)
        if timeline:
            # bulk_create fires no post_save: the outbox rows are written here, by the same rule.
            TimelineEvent.objects.bulk_create(timeline)
            webhooks.timeline_events_fan_out(timeline)
        _notify(list(to_notify.values()))
        _next_checks_update(next_checks)
    return result


def _events_insert(plans: list[tuple[Incident, Threshold]], now: datetime) -> dict[tuple, SlaEvent]:
    """Insert the events of ``plans`` (multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING``):
    {(incident id, target, level, assignment id): event} of the rows that were new."""
    adapt = connection.ops.adapt_datetimefield_value
    by_key = {(incident.pk, *threshold.key): (incident, threshold) for incident, threshold in plans}
    won: dict[tuple, SlaEvent] = {}
    for offset in range(0, len(plans), _INSERT_CHUNK):
        chunk = plans[offset : offset + _INSERT_CHUNK]
        params: list = []
        for incident, threshold in chunk:
            params += [
                incident.pk,
                getattr(threshold.assignment, "pk", None),
                threshold.target,
                threshold.level,
                adapt(threshold.at),
                adapt(now),
            ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {SlaEvent._meta.db_table} (incident_id, assignment_id, target, level, due_at, recorded_at) "
                f"VALUES {', '.join(['(%s, %s, %s, %s, %s, %s)'] * len(chunk))} "
                "ON CONFLICT DO NOTHING RETURNING id, incident_id, target, level, assignment_id",
                params,
            )
            rows = cursor.fetchall()
        for pk, incident_id, target, level, assignment_id in rows:
            incident, threshold = by_key[(incident_id, target, level, assignment_id)]
            won[(incident_id, target, level, assignment_id)] = SlaEvent(
                pk=pk,
                incident=incident,
                assignment=threshold.assignment,
                target=target,
                level=level,
                due_at=threshold.at,
                recorded_at=now,
            )
    return won


def _next_checks_update(next_checks: dict[int, datetime | None]) -> None:
    """``UPDATE … FROM (VALUES …)``: every incident's next check in one statement."""
    if not next_checks:
        return
    adapt = connection.ops.adapt_datetimefield_value
    # PostgreSQL types a VALUES column from its rows; a batch of NULLs only would be text.
    value = "CAST(%s AS timestamp with time zone)" if connection.vendor == "postgresql" else "%s"
    table = Incident._meta.db_table
    items = sorted(next_checks.items())
    for offset in range(0, len(items), _INSERT_CHUNK):
        chunk = items[offset : offset + _INSERT_CHUNK]
        params = [param for pk, at in chunk for param in (pk, adapt(at))]
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH v(id, next_check) AS (VALUES {', '.join([f'(%s, {value})'] * len(chunk))}) "
                f"UPDATE {table} SET sla_next_check_at = v.next_check FROM v WHERE {table}.id = v.id",
                params,
            )


# ------------------------------------------------------------------------------------------------
# The sweep
# ------------------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    checked: int = 0
    recorded: int = 0
    failed: int = 0
    complete: bool = True  # False when the time budget ran out with incidents still due
    duration_ms: int = 0
    events: list[SlaEvent] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "checked": self.checked,
            "recorded": self.recorded,
            "failed": self.failed,
            "complete": self.complete,
            "duration_ms": self.duration_ms,
        }


def sla_sweep(*, now: datetime | None = None, batch: int | None = None, time_budget: float | None = None) -> SweepResult:
    """Look at every incident whose next SLA check is due; record what has passed. Periodic (beat).

    Reads ``incident_sla_next_check_idx`` in keyset batches until it is exhausted or the time budget
    is spent (the next run continues), and checks each batch at once (``sla_batch_check``). A batch
    that fails is checked again incident by incident, so one bad row never blocks the others; one
    incident failing is logged and does not stop the others; a lost database connection does stop
    the sweep (the next run retries). Safe to run concurrently.
    """
    started_at = timezone.now()
    clock = time.monotonic()
    now = now or started_at
    batch = batch or settings.SLA_SWEEP_BATCH
    budget = settings.SLA_SWEEP_TIME_BUDGET_SECONDS if time_budget is None else time_budget
    book = PolicyBook()
    result = SweepResult()
    with config_cache.pinned():  # policies and webhook subscriptions: one configuration version per sweep
        _sweep_batches(now=now, batch=batch, budget=budget, clock=clock, book=book, result=result)
    result.duration_ms = int((time.monotonic() - clock) * 1000)
    heartbeat_record(
        name=SWEEP_NAME,
        started_at=started_at,
        duration_ms=result.duration_ms,
        incidents_checked=result.checked,
        events_recorded=result.recorded,
    )
    return result


def _sweep_batches(*, now: datetime, batch: int, budget: float, clock: float, book: PolicyBook, result: SweepResult) -> None:
    after: tuple[datetime, int] | None = None
    while True:
        queryset = Incident.objects.filter(sla_next_check_at__lte=now)
        if after is not None:
            queryset = queryset.filter(Q(sla_next_check_at__gt=after[0]) | Q(sla_next_check_at=after[0], pk__gt=after[1]))
        rows = list(queryset.order_by("sla_next_check_at", "pk").values_list("sla_next_check_at", "pk")[:batch])
        if rows:
            _batch_run([pk for _at, pk in rows], now=now, book=book, result=result)
        if len(rows) < batch:
            break
        after = rows[-1]
        if time.monotonic() - clock > budget:
            result.complete = False
            logger.warning("SLA sweep stopped at its time budget with incidents still due; the next run continues")
            break


def _batch_run(ids: list[int], *, now: datetime, book: PolicyBook, result: SweepResult) -> None:
    try:
        outcome = sla_batch_check(incident_ids=ids, now=now, book=book)
    except InterfaceError:
        raise
    except Exception:
        # Rolled back whole; one incident at a time, the bad one fails alone (and a lost connection
        # fails the first of them, which stops the sweep).
        logger.exception("SLA check of the batch of incidents %s…%s failed; checking them one by one", ids[0], ids[-1])
        deferred = ids
    else:
        result.checked += len(outcome.checked)
        result.recorded += len(outcome.events)
        result.events.extend(outcome.events)
        deferred = outcome.deferred
    # Incidents locked by someone else a moment ago (waited for now), re-routes, a failed batch.
    for pk in deferred:
        try:
            events = incident_sla_check(incident_id=pk, now=now, book=book)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.exception("SLA check of incident %s failed; the next sweep tries again", pk)
            result.failed += 1
            continue
        result.checked += 1
        result.recorded += len(events)
        result.events.extend(events)


def heartbeat_record(*, name: str, started_at: datetime, duration_ms: int, incidents_checked: int, events_recorded: int) -> None:
    """Note that a sweep completed (for /health/)."""
    values = {
        "started_at": started_at,
        "finished_at": timezone.now(),
        "duration_ms": duration_ms,
        "incidents_checked": incidents_checked,
        "events_recorded": events_recorded,
    }
    if not SweepHeartbeat.objects.filter(name=name).update(**values):
        SweepHeartbeat.objects.bulk_create([SweepHeartbeat(name=name, **values)], ignore_conflicts=True)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
