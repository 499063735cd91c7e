"""Writes for calls and incidents: the one path for every state change.

Each service (1) runs in ``transaction.atomic``, (2) locks the incident row with
``select_for_update``, (3) checks the transition map, (4) saves with ``update_fields``,
(5) writes the timeline event in the same transaction and (6) schedules side effects with
``transaction.on_commit``. The admin, the API, the web views and Celery tasks all call these.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from semarang112.core import config_cache
from semarang112.core.inserts import insert, insert_pair
from semarang112.core.transactions import service_atomic
from semarang112.exceptions import ApplicationError, Conflict, InvalidTransition

from . import sla
from .models import Call, CallerNumber, Category, Channel, District, Incident, Priority, Region, TimelineEvent, Village
from .references import reference_value
from .transitions import allowed_next, check_transition

S = Incident.Status
K = TimelineEvent.Kind


@dataclass(frozen=True)
class Actor:
    """Who is acting: a staff user, or a named system actor (Celery, an API client)."""

    user: AbstractBaseUser | None = None
    label: str = ""

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(user=None, label=label)

    @property
    def user_or_none(self):
        return self.user if self.user is not None and self.user.is_authenticated else None

    @property
    def display(self) -> str:
        if self.label:
            return self.label
        user = self.user_or_none
        return user.get_username() if user is not None else "system"


def as_actor(actor: Actor | AbstractBaseUser | None) -> Actor:
    if isinstance(actor, Actor):
        return actor
    if actor is None:
        return Actor.system()
    return Actor(user=actor)


# ------------------------------------------------------------------------------------------------
# Timeline
# ------------------------------------------------------------------------------------------------
def timeline_event_create(**fields: Any) -> TimelineEvent:
    """Append one timeline event (``fields`` as ``timeline_event_build`` takes them). Call inside the
    transaction that made the change."""
    return insert(timeline_event_build(**fields))


def timeline_event_build(
    *,
    incident: Incident,
    kind: str,
    actor: Actor,
    from_state: str = "",
    to_state: str = "",
    note: str = "",
    payload: dict[str, Any] | None = None,
    assignment=None,
    at: datetime | None = None,
) -> TimelineEvent:
    """The unsaved event (``timeline_event_create`` saves it; ``incident_create`` saves it with
    the incident, in one statement)."""
    return TimelineEvent(
        incident=incident,
        assignment=assignment,
        actor=actor.user_or_none,
        actor_label=actor.label if actor.user_or_none is None else "",
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        note=note,
        payload=payload or {},
        created_at=at or timezone.now(),
    )


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------
_PHONE_JUNK = re.compile(r"[^\d+]")


def normalize_caller_number(raw: str) -> str:
    """Normalise an Indonesian number to +62… so one caller is one key (0812… and 62812… alike).

    Short service numbers (e.g. 112, 110) are kept as dialled.
    """
    number = _PHONE_JUNK.sub("", raw or "")
    if not number:
        return ""
    if number.startswith("+"):
        return "+" + number[1:].replace("+", "")
    number = number.replace("+", "")
    if len(number) <= 5:
        return number
    if number.startswith("0"):
        return "+62" + number[1:]
    if number.startswith("62"):
        return "+" + number
    return number


def default_region() -> Region:
    """The region reports go to unless said otherwise (``DEFAULT_REGION_CODE``)."""
    code = settings.DEFAULT_REGION_CODE
    try:
        return copy.copy(config_cache.cached(f"incidents.region:{code}", lambda: Region.objects.get(code=code)))
    except Region.DoesNotExist:
        raise ApplicationError(
            _("Region %(code)s is not set up; run `manage.py seed_semarang`.") % {"code": settings.DEFAULT_REGION_CODE},
            code="region_missing",
        ) from None


def category_chain(category: Category) -> list[int]:
    """Ids of the category and its parents, nearest first (through the configuration cache)."""
    return config_cache.cached(
        f"incidents.category_chain:{category.pk}", lambda: [node.pk for node in category.ancestors_and_self()]
    )


def _lock_incident(incident: Incident | int) -> Incident:
    pk = incident.pk if isinstance(incident, Incident) else incident
    return Incident.objects.select_for_update(of=("self",)).select_related("category").get(pk=pk)


def validate_place(
    *, region: Region, district: District | None, village: Village | None, latitude, longitude
) -> District | None:
    """Check that district, village and coordinates fit together; returns the district
    (taken from the village when only the village is given). Raises ApplicationError."""
    if district is not None and district.region_id != region.pk:
        raise ApplicationError(
            _("District %(district)s is not in region %(region)s.") % {"district": district, "region": region},
            code="district_not_in_region",
            extra={"field": "district"},
        )
    if village is not None:
        if district is None:
            district = village.district
        elif village.district_id != district.pk:
            raise ApplicationError(
                _("Village %(village)s is not in district %(district)s.") % {"village": village, "district": district},
                code="village_not_in_district",
                extra={"field": "village"},
            )
    if (latitude is None) != (longitude is None):
        raise ApplicationError(
            _("Give both latitude and longitude, or neither."),
            code="coordinates_incomplete",
            extra={"field": "latitude" if latitude is None else "longitude"},
        )
    if latitude is not None and not (Decimal("-90") <= Decimal(str(latitude)) <= Decimal("90")):
        raise ApplicationError(_("Latitude must be between -90 and 90."), code="invalid_latitude", extra={"field": "latitude"})
    if longitude is not None and not (Decimal("-180") <= Decimal(str(longitude)) <= Decimal("180")):
        raise ApplicationError(
            _("Longitude must be between -180 and 180."), code="invalid_longitude", extra={"field": "longitude"}
        )
    return district


def check_category(category: Category) -> None:
    if not category.is_active:
        raise ApplicationError(
            _("Category %(code)s is not active.") % {"code": category.code},
            code="category_inactive",
            extra={"field": "category"},
        )


# ------------------------------------------------------------------------------------------------
# Calls
# ------------------------------------------------------------------------------------------------
@service_atomic
def call_create(
    *,
    actor: Actor | AbstractBaseUser | None,
    region: Region | None = None,
    channel: str = Channel.PHONE_112,
    caller_number: str = "",
    caller_name: str = "",
    started_at: datetime | None = None,
    answered_at: datetime | None = None,
    ended_at: datetime | None = None,
    outcome: str = Call.Outcome.PENDING,
    notes: str = "",
) -> Call:
    """Record an inbound contact. Non-case outcomes (prank, silent, information…) end here.

    Emergency and duplicate outcomes need an incident: use ``incident_create(call=…)`` or
    ``call_attach_to_incident`` instead of passing them here.
    """
    actor = as_actor(actor)
    if outcome in (Call.Outcome.EMERGENCY, Call.Outcome.DUPLICATE):
        raise ApplicationError(
            _("An emergency or duplicate call must be linked to an incident."),
            code="call_outcome_needs_incident",
            extra={"field": "outcome"},
        )
    now = timezone.now()
    started_at = started_at or now
    if answered_at is not None and answered_at < started_at:
        raise ApplicationError(_("A call cannot be answered before it started."), code="call_times_invalid", extra={"field": "answered_at"})
    if ended_at is not None and ended_at < started_at:
        raise ApplicationError(_("A call cannot end before it started."), code="call_times_invalid", extra={"field": "ended_at"})
    call = Call.objects.create(
        region=region or default_region(),
        channel=channel,
        caller_number=normalize_caller_number(caller_number),
        caller_name=caller_name,
        started_at=started_at,
        answered_at=answered_at,
        ended_at=ended_at,
        operator=actor.user_or_none,
        outcome=outcome,
        notes=notes,
    )
    if outcome in Call.PRANK_OUTCOMES:
        _caller_number_count_prank(call.caller_number, at=started_at)
    return call


@transaction.atomic
def call_set_outcome(*, call: Call, outcome: str, actor: Actor | AbstractBaseUser | None, notes: str | None = None) -> Call:
    """Close a pending call with a non-case outcome (prank, silent, information, wrong number…)."""
    call = Call.objects.select_for_update().get(pk=call.pk)
    if call.outcome != Call.Outcome.PENDING:
        raise Conflict(_("This call already has an outcome."), code="call_outcome_already_set")
    if outcome not in Call.NON_CASE_OUTCOMES:
        raise ApplicationError(
            _("Use incident creation or attachment for emergency and duplicate calls."),
            code="call_outcome_needs_incident",
            extra={"field": "outcome"},
        )
    call.outcome = outcome
    fields = ["outcome"]
    if notes is not None:
        call.notes = notes
        fields.append("notes")
    if call.ended_at is None:
        call.ended_at = timezone.now()
        fields.append("ended_at")
    call.save(update_fields=fields)
    if outcome in Call.PRANK_OUTCOMES:
        _caller_number_count_prank(call.caller_number, at=call.started_at)
    return call


def _caller_number_count_prank(number: str, *, at: datetime) -> None:
    """Count a prank/silent call and flag (and block for a while) a repeat caller."""
    if not number:
        return
    record, _created = CallerNumber.objects.select_for_update().get_or_create(number=number)
    window_start = at - timedelta(days=settings.PRANK_FLAG_WINDOW_DAYS)
    recent = Call.objects.filter(
        caller_number=number, outcome__in=Call.PRANK_OUTCOMES, started_at__gte=window_start
    ).count()
    record.prank_count += 1
    fields = ["prank_count", "updated_at"]
    if recent >= settings.PRANK_FLAG_THRESHOLD:
        record.is_flagged = True
        record.blocked_until = timezone.now() + timedelta(minutes=settings.PRANK_BLOCK_MINUTES)
        fields += ["is_flagged", "blocked_until"]
    record.save(update_fields=fields)


@transaction.atomic
def caller_number_set_flag(
    *, number: str, flagged: bool, blocked_until: datetime | None = None, note: str | None = None
) -> CallerNumber:
    """Flag or clear a caller number by hand (supervisor decision)."""
    number = normalize_caller_number(number)
    if not number:
        raise ApplicationError(_("A caller number is required."), code="caller_number_required", extra={"field": "number"})
    record, _created = CallerNumber.objects.select_for_update().get_or_create(number=number)
    record.is_flagged = flagged
    record.blocked_until = blocked_until if flagged else None
    fields = ["is_flagged", "blocked_until", "updated_at"]
    if note is not None:
        record.note = note
        fields.append("note")
    record.save(update_fields=fields)
    return record


@transaction.atomic
def call_attach_to_incident(*, call: Call, incident: Incident, actor: Actor | AbstractBaseUser | None) -> Call:
    """Another call about an incident already open: link it as a duplicate call."""
    actor = as_actor(actor)
    incident = _lock_incident(incident)
    call = Call.objects.select_for_update().get(pk=call.pk)
    if call.incident_id is not None:
        raise Conflict(_("This call is already linked to an incident."), code="call_already_linked")
    if call.outcome not in (Call.Outcome.PENDING,):
        raise Conflict(_("This call already has an outcome."), code="call_outcome_already_set")
    if not incident.is_open:
        raise Conflict(
            _("Incident %(ref)s is no longer open.") % {"ref": incident.reference}, code="incident_not_open"
        )
    call.incident = incident
    call.outcome = Call.Outcome.DUPLICATE
    call.save(update_fields=["incident", "outcome"])
    timeline_event_create(
        incident=incident,
        kind=K.CALL_LINKED,
        actor=actor,
        payload={"call_id": call.pk, "channel": call.channel, "outcome": call.outcome},
    )
    return call


# ------------------------------------------------------------------------------------------------
# Incidents
# ------------------------------------------------------------------------------------------------
@service_atomic  # no savepoint inside the API's all-or-nothing intake (semarang112.core.transactions)
@config_cache.pinned()
def incident_create(
    *,
    actor: Actor | AbstractBaseUser | None,
    category: Category,
    description: str,
    region: Region | None = None,
    priority: int | None = None,
    channel: str = Channel.PHONE_112,
    address: str = "",
    district: District | None = None,
    village: Village | None = None,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    caller_name: str = "",
    caller_number: str = "",
    received_at: datetime | None = None,
    call: Call | None = None,
) -> Incident:
    """Open a case. With ``call``, the call becomes its reporting call (outcome emergency)."""
    from dispatch.services import routing_suggest

    actor = as_actor(actor)
    check_category(category)
    if not description or not description.strip():
        raise ApplicationError(_("A description is required."), code="description_required", extra={"field": "description"})
    if call is not None:
        call = Call.objects.select_for_update().get(pk=call.pk)
        if call.incident_id is not None or call.outcome != Call.Outcome.PENDING:
            raise Conflict(_("This call already has an outcome."), code="call_outcome_already_set")
        region = region or call.region
        caller_number = caller_number or call.caller_number
        caller_name = caller_name or call.caller_name
        channel = call.channel
        received_at = received_at or call.answered_at or call.started_at
    region = region or default_region()
    district = validate_place(region=region, district=district, village=village, latitude=latitude, longitude=longitude)
    now = timezone.now()
    received_at = received_at or now
    if received_at > now + timedelta(minutes=5):
        raise ApplicationError(
            _("The received time is in the future."), code="received_in_future", extra={"field": "received_at"}
        )
    incident = Incident(
        reference=reference_value(region=region, when=received_at),  # drawn in the INSERT on PostgreSQL
        region=region,
        category=category,
        priority=priority or category.default_priority,
        channel=channel,
        description=description.strip(),
        address=address,
        district=district,
        village=village,
        latitude=latitude,
        longitude=longitude,
        caller_name=caller_name,
        caller_number=normalize_caller_number(caller_number),
        created_by=actor.user_or_none,
        received_at=received_at,
        **sla.incident_due_times(category=category, priority=priority or category.default_priority, start=received_at),
    )
    suggested = routing_suggest(category=category, district=district)
    created = timeline_event_build(
        incident=incident,
        kind=K.CREATED,
        actor=actor,
        to_state=incident.status,
        payload={
            "category": category.code,
            "priority": incident.priority,
            "channel": channel,
            "suggested_agencies": [agency.code for agency in suggested],
        },
        at=now,
    )
    # The incident and its first timeline event in one statement, compiled once
    # (semarang112.core.inserts): every report runs it.
    insert_pair(incident, created, link="incident")
    if call is not None:
        call.incident = incident
        call.outcome = Call.Outcome.EMERGENCY
        call.save(update_fields=["incident", "outcome"])
        timeline_event_create(
            incident=incident, kind=K.CALL_LINKED, actor=actor, payload={"call_id": call.pk, "channel": call.channel}, at=now
        )
    return incident


EDITABLE_FIELDS = (
    "priority",
    "description",
    "address",
    "district",
    "village",
    "latitude",
    "longitude",
    "caller_name",
    "caller_number",
)


@transaction.atomic
def incident_update(
    *,
    incident: Incident,
    actor: Actor | AbstractBaseUser | None,
    data: dict[str, Any],
    expected_version: int | None = None,
) -> Incident:
    """Edit the editable details (never status or milestones). ``expected_version`` guards edits."""
    actor = as_actor(actor)
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(
            _("These fields cannot be edited: %(fields)s.") % {"fields": ", ".join(sorted(unknown))},
            code="field_not_editable",
            extra={"field": sorted(unknown)[0]},
        )
    incident = _lock_incident(incident)
    _check_version(incident, expected_version)
    if incident.status in Incident.FINAL_STATUSES:
        raise Conflict(_("A closed incident cannot be edited."), code="incident_final")
    if "caller_number" in data:
        data = {**data, "caller_number": normalize_caller_number(data["caller_number"] or "")}
    if data.get("village") is not None and "district" not in data:
        data = {**data, "district": data["village"].district}  # a village implies its district
    if "priority" in data and data["priority"] not in Priority.values:
        raise ApplicationError(_("Priority must be 1 to 4."), code="invalid_priority", extra={"field": "priority"})
    if "description" in data and not (data["description"] or "").strip():
        raise ApplicationError(_("A description is required."), code="description_required", extra={"field": "description"})
    merged = {field: data.get(field, getattr(incident, field)) for field in EDITABLE_FIELDS}
    validate_place(
        region=incident.region,
        district=merged["district"],
        village=merged["village"],
        latitude=merged["latitude"],
        longitude=merged["longitude"],
    )
    changes: dict[str, list[Any]] = {}
    for field, value in data.items():
        old = getattr(incident, field)
        if old != value:
            changes[field] = [_jsonable(old), _jsonable(value)]
            setattr(incident, field, value)
    if not changes:
        return incident
    payload: dict[str, Any] = {"changes": changes}
    due_fields: list[str] = []
    if "priority" in changes:
        # Policies may differ per priority: the deadlines follow, still counted from the time
        # received, and the timeline records the new ones (as a re-categorisation does).
        due_fields = sla.incident_due_times_apply(incident)
        payload.update(sla.due_times_payload(incident))
    incident.version += 1
    incident.save(update_fields=[*changes.keys(), *due_fields, "version", "updated_at"])
    timeline_event_create(incident=incident, kind=K.UPDATED, actor=actor, payload=payload)
    return incident


def _check_version(incident: Incident, expected_version: int | None) -> None:
    """Refuse an edit made against an older version (409 ``stale_version``). Caller holds the row lock."""
    if expected_version is not None and incident.version != expected_version:
        raise Conflict(
            _("The incident was changed by someone else; reload and try again."),
            code="stale_version",
            extra={"current_version": incident.version},
        )


def _jsonable(value: Any) -> Any:
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, Decimal):
        return str(value)
    return value


@transaction.atomic
def incident_change_category(
    *,
    incident: Incident,
    category: Category,
    actor: Actor | AbstractBaseUser | None,
    note: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Re-categorise: re-runs routing and records old, new and the new routing suggestion.

    ``expected_version`` guards it as it guards ``incident_update``: checked under the row lock.
    """
    from dispatch.services import routing_suggest

    actor = as_actor(actor)
    check_category(category)
    incident = _lock_incident(incident)
    _check_version(incident, expected_version)
    if incident.status in Incident.FINAL_STATUSES:
        raise Conflict(_("A closed incident cannot be edited."), code="incident_final")
    if incident.category_id == category.pk:
        return incident
    old = incident.category
    incident.category = category
    # The deadlines follow the new category's targets, still counted from the time received.
    due_fields = sla.incident_due_times_apply(incident)
    incident.version += 1
    incident.save(update_fields=["category", *due_fields, "version", "updated_at"])
    suggested = routing_suggest(category=category, district=incident.district)
    timeline_event_create(
        incident=incident,
        kind=K.CATEGORY_CHANGED,
        actor=actor,
        from_state=old.code,
        to_state=category.code,
        note=note,
        payload={
            "suggested_agencies": [agency.code for agency in suggested],
            **sla.due_times_payload(incident),
        },
    )
    return incident


def _set_status(
    incident: Incident,
    target: str,
    *,
    actor: Actor,
    note: str = "",
    payload: dict[str, Any] | None = None,
    milestone: str | None = None,
    extra_fields: tuple[str, ...] = (),
    at: datetime | None = None,
) -> Incident:
    """Move a locked incident to ``target`` and record it. Caller holds the row lock."""
    check_transition(incident.status, target)
    at = at or timezone.now()
    previous = incident.status
    incident.status = target
    fields = ["status", "version", "updated_at", *extra_fields]
    if milestone and getattr(incident, milestone) is None:
        setattr(incident, milestone, at)
        fields.append(milestone)
    incident.version += 1
    incident.save(update_fields=fields)
    timeline_event_create(
        incident=incident,
        kind=K.STATUS_CHANGED,
        actor=actor,
        from_state=previous,
        to_state=target,
        note=note,
        payload=payload,
        at=at,
    )
    return incident


def _require_from(incident: Incident, sources: tuple[str, ...], target: str) -> None:
    """Some targets are reachable from several states but each service owns only some of those
    paths (verify ≠ reopen ≠ return-to-dispatch): refuse the others with the usual 409."""
    if incident.status not in sources:
        raise InvalidTransition(
            _("Cannot change status from %(current)s to %(target)s.") % {"current": incident.status, "target": target},
            extra={"current": incident.status, "target": target, "allowed": allowed_next(incident.status)},
        )


@transaction.atomic
def incident_verify(*, incident: Incident, actor: Actor | AbstractBaseUser | None, note: str = "") -> Incident:
    """A call-taker confirms a received report is real."""
    incident = _lock_incident(incident)
    _require_from(incident, (S.RECEIVED,), S.VERIFIED)
    return _set_status(incident, S.VERIFIED, actor=as_actor(actor), note=note, milestone="verified_at")


@transaction.atomic
def incident_resolve(*, incident: Incident, actor: Actor | AbstractBaseUser | None, note: str = "") -> Incident:
    """The situation is handled: agencies still on scene are completed, the others withdrawn, so
    nobody can "arrive" at a resolved incident."""
    from dispatch.services import assignments_cancel_active

    actor = as_actor(actor)
    incident = _lock_incident(incident)
    check_transition(incident.status, S.RESOLVED)
    assignments_cancel_active(incident=incident, actor=actor, reason=note or _("Incident resolved"))
    return _set_status(incident, S.RESOLVED, actor=actor, note=note, milestone="resolved_at")


@transaction.atomic
def incident_close(*, incident: Incident, actor: Actor | AbstractBaseUser | None, note: str = "") -> Incident:
    from dispatch.services import assignments_cancel_active

    actor = as_actor(actor)
    incident = _lock_incident(incident)
    check_transition(incident.status, S.CLOSED)
    assignments_cancel_active(incident=incident, actor=actor, reason=_("Incident closed"))
    return _set_status(incident, S.CLOSED, actor=actor, note=note, milestone="closed_at")


@transaction.atomic
def incident_reopen(*, incident: Incident, actor: Actor | AbstractBaseUser | None, note: str) -> Incident:
    """Supervisor: take a resolved or closed incident back to the dispatcher."""
    if not note or not note.strip():
        raise ApplicationError(_("Give a reason for reopening."), code="reason_required", extra={"field": "note"})
    incident = _lock_incident(incident)
    _require_from(incident, (S.RESOLVED, S.CLOSED), S.VERIFIED)
    incident.resolved_at = None
    incident.closed_at = None
    return _set_status(
        incident, S.VERIFIED, actor=as_actor(actor), note=note, extra_fields=("resolved_at", "closed_at")
    )


def _end_incident(incident: Incident, target: str, *, actor: Actor, note: str, **kwargs) -> Incident:
    from dispatch.services import assignments_cancel_active

    check_transition(incident.status, target)
    assignments_cancel_active(incident=incident, actor=actor, reason=note)
    return _set_status(incident, target, actor=actor, note=note, milestone="closed_at", **kwargs)


@transaction.atomic
def incident_cancel(*, incident: Incident, actor: Actor | AbstractBaseUser | None, reason: str) -> Incident:
    if not reason or not reason.strip():
        raise ApplicationError(_("Give a reason for cancelling."), code="reason_required", extra={"field": "reason"})
    incident = _lock_incident(incident)
    return _end_incident(incident, S.CANCELLED, actor=as_actor(actor), note=reason)


@transaction.atomic
def incident_mark_false_alarm(*, incident: Incident, actor: Actor | AbstractBaseUser | None, reason: str = "") -> Incident:
    incident = _lock_incident(incident)
    return _end_incident(incident, S.FALSE_ALARM, actor=as_actor(actor), note=reason)


@transaction.atomic
def incident_merge(
    *, incident: Incident, into: Incident, actor: Actor | AbstractBaseUser | None, note: str = ""
) -> Incident:
    """Mark ``incident`` as a duplicate of ``into``; its calls and history stay where they are."""
    actor = as_actor(actor)
    if incident.pk == into.pk:
        raise ApplicationError(_("An incident cannot be merged into itself."), code="merge_into_self", extra={"field": "into"})
    # Lock both rows in primary-key order so two opposite merges cannot deadlock.
    locked = {obj.pk: obj for obj in Incident.objects.select_for_update().filter(pk__in=[incident.pk, into.pk]).order_by("pk")}
    incident, into = locked[incident.pk], locked[into.pk]
    if into.region_id != incident.region_id:
        raise ApplicationError(_("Incidents of different regions cannot be merged."), code="merge_region_mismatch", extra={"field": "into"})
    if not into.is_open:
        raise Conflict(_("Incident %(ref)s is no longer open.") % {"ref": into.reference}, code="incident_not_open")
    incident.duplicate_of = into
    _end_incident(
        incident, S.MERGED, actor=actor, note=note, payload={"into": into.reference}, extra_fields=("duplicate_of",)
    )
    timeline_event_create(incident=incident, kind=K.MERGED_INTO, actor=actor, note=note, payload={"into": into.reference})
    timeline_event_create(
        incident=into, kind=K.DUPLICATE_MERGED, actor=actor, note=note, payload={"duplicate": incident.reference}
    )
    return incident


@transaction.atomic
def incident_add_note(*, incident: Incident, actor: Actor | AbstractBaseUser | None, note: str) -> TimelineEvent:
    if not note or not note.strip():
        raise ApplicationError(_("A note cannot be empty."), code="note_required", extra={"field": "note"})
    incident = _lock_incident(incident)
    return timeline_event_create(incident=incident, kind=K.NOTE, actor=as_actor(actor), note=note.strip())
