"""Writes for dispatch: routing, dispatching agencies, and each step of an assignment.

Lock order is always incident first, then its assignments, so concurrent steps on one incident
queue up instead of deadlocking. Incident milestones follow from assignment milestones here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from guardian.shortcuts import assign_perm, remove_perm

from incidents import sla
from incidents.models import Category, District, Incident, TimelineEvent
from incidents.services import Actor, _lock_incident, _set_status, as_actor, category_chain, timeline_event_create
from incidents.transitions import check_transition
from semarang112.core import config_cache
from semarang112.exceptions import ApplicationError, Conflict

from .access import SHARE_CODENAMES
from .models import AccessEvent, Agency, Assignment, FieldUnit, IncidentShare, Membership, RoutingRule, Volunteer
from .transitions import check_assignment_transition

A = Assignment.Status
S = Incident.Status
K = TimelineEvent.Kind


# ------------------------------------------------------------------------------------------------
# Routing
# ------------------------------------------------------------------------------------------------
@config_cache.pinned()
def routing_suggest(*, category: Category, district: District | None) -> list[Agency]:
    """Agencies for a category (and district), in order.

    Rules for the district win over the category's all-district rules; a category without
    rules of its own inherits its parent's. A category's rules are read through the
    configuration cache (one query per category until the configuration changes).
    """
    district_id = district.pk if district is not None else None
    for node_id in category_chain(category):
        rules = config_cache.cached(f"dispatch.routing:{node_id}", lambda node_id=node_id: _routing_rules(node_id))
        own = [rule for rule in rules if district_id is not None and rule.district_id == district_id]
        chosen = own or [rule for rule in rules if rule.district_id is None]
        if chosen:
            seen, agencies = set(), []
            for rule in chosen:
                if rule.agency_id not in seen:
                    seen.add(rule.agency_id)
                    agencies.append(copy.copy(rule.agency))
            return agencies
    return []


def _routing_rules(category_id: int) -> list[RoutingRule]:
    """A category's active rules of active agencies, every district, in order (read-only, shared)."""
    return list(
        RoutingRule.objects.filter(category_id=category_id, is_active=True, agency__is_active=True)
        .select_related("agency")
        .order_by("order", "agency__code", "pk")
    )


# ------------------------------------------------------------------------------------------------
# Dispatch
# ------------------------------------------------------------------------------------------------
@transaction.atomic
def incident_dispatch(
    *,
    incident: Incident,
    agencies: Iterable[Agency],
    actor: Actor | AbstractBaseUser | None,
    note: str = "",
    via_share: IncidentShare | None = None,
) -> list[Assignment]:
    """Ask one or more agencies to respond. Also adds agencies to an incident already dispatched.

    ``via_share``: the agency joins on its own through that assist share (``incident_assist_join``).
    """
    actor = as_actor(actor)
    agencies = list({agency.pk: agency for agency in agencies}.values())
    if not agencies:
        raise ApplicationError(_("Choose at least one agency."), code="agencies_required", extra={"field": "agencies"})
    inactive = [agency.code for agency in agencies if not agency.is_active]
    if inactive:
        raise ApplicationError(
            _("These agencies are not active: %(codes)s.") % {"codes": ", ".join(inactive)},
            code="agency_inactive",
            extra={"field": "agencies", "agencies": inactive},
        )
    incident = _lock_incident(incident)
    if incident.status not in (S.DISPATCHED, S.ON_SCENE):
        check_transition(incident.status, S.DISPATCHED)
    busy = set(
        Assignment.objects.filter(
            incident=incident, agency__in=agencies, status__in=Assignment.ACTIVE_STATUSES
        ).values_list("agency__code", flat=True)
    )
    if busy:
        raise Conflict(
            _("Already dispatched to: %(codes)s.") % {"codes": ", ".join(sorted(busy))},
            code="already_dispatched",
            extra={"agencies": sorted(busy)},
        )
    now = timezone.now()
    assignments = [
        Assignment.objects.create(
            incident=incident,
            agency=agency,
            dispatched_by=actor.user_or_none,
            note=note,
            requested_at=now,
            **sla.acknowledge_clock_start(incident=incident, agency=agency, start=now),  # warning threshold, deadline
            via_share=via_share,
        )
        for agency in agencies
    ]
    for assignment in assignments:
        payload = {"agency": assignment.agency.code}
        if via_share is not None:
            payload["via_share"] = via_share.pk
        timeline_event_create(
            incident=incident,
            kind=K.ASSIGNMENT_CREATED,
            actor=actor,
            assignment=assignment,
            to_state=assignment.status,
            note=note,
            payload=payload,
            at=now,
        )
    if incident.status in (S.RECEIVED, S.VERIFIED):
        if incident.verified_at is None:
            # Dispatching straight from "received" is an implicit verification.
            incident.verified_at = now
            extra = ("verified_at",)
        else:
            extra = ()
        _set_status(
            incident,
            S.DISPATCHED,
            actor=actor,
            milestone="first_dispatched_at",
            extra_fields=extra,
            payload={"agencies": [agency.code for agency in agencies]},
            at=now,
        )
    from .tasks import assignment_notify_agency_task

    for assignment in assignments:
        transaction.on_commit(lambda pk=assignment.pk: assignment_notify_agency_task.delay(pk))
    return assignments


# ------------------------------------------------------------------------------------------------
# Assignment steps
# ------------------------------------------------------------------------------------------------
_STEP_TIMESTAMP = {
    A.ACKNOWLEDGED: "acknowledged_at",
    A.EN_ROUTE: "en_route_at",
    A.ON_SCENE: "on_scene_at",
    A.COMPLETED: "completed_at",
    A.DECLINED: "declined_at",
    A.CANCELLED: "cancelled_at",
}


def _lock_assignment(assignment: Assignment | int) -> tuple[Incident, Assignment]:
    pk = assignment.pk if isinstance(assignment, Assignment) else assignment
    incident_id = Assignment.objects.values_list("incident_id", flat=True).get(pk=pk)
    incident = _lock_incident(incident_id)
    return incident, Assignment.objects.select_for_update().select_related("agency").get(pk=pk)


def _step(
    incident: Incident,
    assignment: Assignment,
    target: str,
    *,
    actor: Actor,
    note: str = "",
    at: datetime | None = None,
    extra_fields: tuple[str, ...] = (),
) -> Assignment:
    """Move a locked assignment and record it. Caller holds the incident and assignment locks."""
    check_assignment_transition(assignment.status, target)
    at = at or timezone.now()
    previous = assignment.status
    assignment.status = target
    stamp = _STEP_TIMESTAMP[target]
    setattr(assignment, stamp, at)
    assignment.save(update_fields=["status", stamp, *extra_fields])
    if target not in Assignment.ACTIVE_STATUSES:
        _release_unit(assignment.unit_id)
    timeline_event_create(
        incident=incident,
        kind=K.ASSIGNMENT_STATUS,
        actor=actor,
        assignment=assignment,
        from_state=previous,
        to_state=target,
        note=note,
        payload={"agency": assignment.agency.code},
        at=at,
    )
    return assignment


def _return_to_dispatch_if_uncovered(incident: Incident, *, actor: Actor, at: datetime) -> None:
    """When no agency is left on a dispatched incident, hand it back to the dispatcher."""
    if incident.status != S.DISPATCHED:
        return
    if Assignment.objects.filter(incident=incident, status__in=Assignment.ACTIVE_STATUSES).exists():
        return
    _set_status(incident, S.VERIFIED, actor=actor, note=_("No agency left on this incident."), at=at)
    timeline_event_create(incident=incident, kind=K.RETURNED_TO_DISPATCH, actor=actor, at=at)


@transaction.atomic
def assignment_assign_resource(
    *,
    assignment: Assignment,
    actor: Actor | AbstractBaseUser | None,
    unit: FieldUnit | None = None,
    volunteer: Volunteer | None = None,
) -> Assignment:
    """Put a unit and/or a volunteer of the assignment's own agency on a live assignment.

    The unit is marked assigned; it is released when its last live assignment ends.
    """
    actor = as_actor(actor)
    incident, assignment = _lock_assignment(assignment)
    if assignment.status not in Assignment.ACTIVE_STATUSES:
        raise Conflict(_("This assignment is no longer active."), code="assignment_not_active")
    if unit is not None and unit.agency_id != assignment.agency_id:
        raise ApplicationError(
            _("The unit belongs to another agency."), code="unit_other_agency", extra={"field": "unit"}
        )
    if unit is not None and unit.status == FieldUnit.Status.OFF_DUTY:
        raise Conflict(_("The unit is off duty."), code="unit_off_duty", extra={"field": "unit"})
    if volunteer is not None and volunteer.community_id != assignment.agency_id:
        raise ApplicationError(
            _("The volunteer belongs to another community."),
            code="volunteer_other_agency",
            extra={"field": "volunteer"},
        )
    changes: dict[str, list] = {}
    previous_unit_id = assignment.unit_id
    if unit is not None and assignment.unit_id != unit.pk:
        changes["unit"] = [assignment.unit_id, unit.pk]
        assignment.unit = unit
    if volunteer is not None and assignment.volunteer_id != volunteer.pk:
        changes["volunteer"] = [assignment.volunteer_id, volunteer.pk]
        assignment.volunteer = volunteer
    if not changes:
        return assignment
    assignment.save(update_fields=list(changes))
    if "unit" in changes:
        FieldUnit.objects.filter(pk=unit.pk).update(status=FieldUnit.Status.ASSIGNED)
        _release_unit(previous_unit_id)
    timeline_event_create(
        incident=incident,
        kind=K.UPDATED,
        actor=actor,
        assignment=assignment,
        payload={"agency": assignment.agency.code, "changes": changes},
    )
    return assignment


@transaction.atomic
def unit_set_status(*, unit: FieldUnit, status: str, actor: Actor | AbstractBaseUser | None) -> FieldUnit:
    """Available / assigned / off duty, as the unit's own agency reports it."""
    if status not in FieldUnit.Status.values:
        raise ApplicationError(_("Unknown unit status."), code="invalid_unit_status", extra={"field": "status"})
    unit = FieldUnit.objects.select_for_update().get(pk=unit.pk)
    if unit.status != status:
        unit.status = status
        unit.save(update_fields=["status"])
    return unit


@transaction.atomic
def volunteer_set_availability(
    *, volunteer: Volunteer, is_available: bool, actor: Actor | AbstractBaseUser | None
) -> Volunteer:
    volunteer = Volunteer.objects.select_for_update().get(pk=volunteer.pk)
    if volunteer.is_available != is_available:
        volunteer.is_available = is_available
        volunteer.save(update_fields=["is_available"])
    return volunteer


def _release_unit(unit_id: int | None) -> None:
    """Mark a unit available again once no live assignment holds it (off-duty units stay off)."""
    if unit_id is None:
        return
    if Assignment.objects.filter(unit_id=unit_id, status__in=Assignment.ACTIVE_STATUSES).exists():
        return
    FieldUnit.objects.filter(pk=unit_id, status=FieldUnit.Status.ASSIGNED).update(status=FieldUnit.Status.AVAILABLE)


@transaction.atomic
def assignment_acknowledge(
    *, assignment: Assignment, actor: Actor | AbstractBaseUser | None, note: str = ""
) -> Assignment:
    actor = as_actor(actor)
    incident, assignment = _lock_assignment(assignment)
    now = timezone.now()
    _step(incident, assignment, A.ACKNOWLEDGED, actor=actor, note=note, at=now)
    if incident.first_acknowledged_at is None:
        incident.first_acknowledged_at = now
        incident.version += 1
        incident.save(update_fields=["first_acknowledged_at", "version", "updated_at"])
    return assignment


@transaction.atomic
def assignment_en_route(
    *, assignment: Assignment, actor: Actor | AbstractBaseUser | None, note: str = ""
) -> Assignment:
    incident, assignment = _lock_assignment(assignment)
    return _step(incident, assignment, A.EN_ROUTE, actor=as_actor(actor), note=note)


@transaction.atomic
def assignment_on_scene(
    *, assignment: Assignment, actor: Actor | AbstractBaseUser | None, note: str = ""
) -> Assignment:
    """First arrival sets the incident's on-scene milestone (the response time) and status."""
    actor = as_actor(actor)
    incident, assignment = _lock_assignment(assignment)
    now = timezone.now()
    _step(incident, assignment, A.ON_SCENE, actor=actor, note=note, at=now)
    if incident.status == S.DISPATCHED:
        _set_status(incident, S.ON_SCENE, actor=actor, milestone="first_on_scene_at", at=now)
    elif incident.first_on_scene_at is None:
        incident.first_on_scene_at = now
        incident.version += 1
        incident.save(update_fields=["first_on_scene_at", "version", "updated_at"])
    return assignment


@transaction.atomic
def assignment_complete(
    *, assignment: Assignment, actor: Actor | AbstractBaseUser | None, note: str = ""
) -> Assignment:
    incident, assignment = _lock_assignment(assignment)
    return _step(incident, assignment, A.COMPLETED, actor=as_actor(actor), note=note)


@transaction.atomic
def assignment_decline(*, assignment: Assignment, actor: Actor | AbstractBaseUser | None, reason: str) -> Assignment:
    """The agency cannot respond; with no other agency left the incident goes back to dispatch."""
    if not reason or not reason.strip():
        raise ApplicationError(_("Give a reason for declining."), code="reason_required", extra={"field": "reason"})
    actor = as_actor(actor)
    incident, assignment = _lock_assignment(assignment)
    now = timezone.now()
    assignment.decline_reason = reason.strip()
    _step(incident, assignment, A.DECLINED, actor=actor, note=reason.strip(), at=now, extra_fields=("decline_reason",))
    _return_to_dispatch_if_uncovered(incident, actor=actor, at=now)
    return assignment


@transaction.atomic
def assignment_cancel(*, assignment: Assignment, actor: Actor | AbstractBaseUser | None, reason: str) -> Assignment:
    """The command center withdraws one agency (re-routing)."""
    if not reason or not reason.strip():
        raise ApplicationError(_("Give a reason for cancelling."), code="reason_required", extra={"field": "reason"})
    actor = as_actor(actor)
    incident, assignment = _lock_assignment(assignment)
    now = timezone.now()
    _step(incident, assignment, A.CANCELLED, actor=actor, note=reason.strip(), at=now)
    _return_to_dispatch_if_uncovered(incident, actor=actor, at=now)
    return assignment


def assignments_cancel_active(*, incident: Incident, actor: Actor, reason: str) -> int:
    """Cancel every live assignment of an incident that is ending. Caller holds the incident lock."""
    now = timezone.now()
    active = list(
        Assignment.objects.select_for_update()
        .select_related("agency")
        .filter(incident=incident, status__in=Assignment.ACTIVE_STATUSES)
        .order_by("pk")
    )
    for assignment in active:
        if assignment.status == A.ON_SCENE:
            _step(incident, assignment, A.COMPLETED, actor=actor, note=reason, at=now)
        else:
            _step(incident, assignment, A.CANCELLED, actor=actor, note=reason, at=now)
    return len(active)


@transaction.atomic
def assignment_notify_agency(*, assignment_id: int) -> bool:
    """Email the agency about a new assignment, once. Returns whether a message was sent.

    The row stays locked while the mail goes out and ``notified_at`` is written in the same
    transaction: a failure rolls back and the task retries (at least once, never silently lost).
    The lock is FOR NO KEY UPDATE: it keeps a second sender out but not the foreign-key checks of
    rows written meanwhile about this assignment (the SLA sweep's events and timeline entries).
    """
    assignment = (
        Assignment.objects.select_for_update(of=("self",), no_key=True)
        .select_related("agency", "incident", "incident__category")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None or assignment.notified_at is not None:
        return False
    if assignment.status != A.REQUESTED or not assignment.agency.email:
        return False
    incident = assignment.incident
    subject = _("[112] %(ref)s: %(category)s — please respond") % {
        "ref": incident.reference,
        "category": incident.category.name_id,
    }
    body = "\n".join(
        [
            _("Reference: %(ref)s") % {"ref": incident.reference},
            _("Category: %(category)s") % {"category": incident.category.name_id},
            _("Priority: P%(priority)s") % {"priority": incident.priority},
            _("Address: %(address)s") % {"address": incident.address or "-"},
            "",
            incident.description,
        ]
    )
    send_mail(subject, body, None, [assignment.agency.email])
    assignment.notified_at = timezone.now()
    assignment.save(update_fields=["notified_at"])
    return True


# ------------------------------------------------------------------------------------------------
# Agency groups, memberships and shares
# ------------------------------------------------------------------------------------------------
def agency_group_ensure(agency: Agency) -> Group:
    """The agency's auth group (members are in it; shares are granted to it), created on first use."""
    if agency.group_id is not None:
        return agency.group
    with transaction.atomic():
        agency = Agency.objects.select_for_update().get(pk=agency.pk)
        if agency.group_id is None:
            group, _created = Group.objects.get_or_create(name=f"agency:{agency.code}")
            agency.group = group
            agency.save(update_fields=["group"])
        return agency.group


@transaction.atomic
def membership_sync_groups(*, user) -> None:
    """Make the user's agency groups match their active memberships (no per-incident rows)."""
    wanted = {
        agency_group_ensure(membership.agency).pk
        for membership in Membership.objects.filter(user=user, is_active=True).select_related("agency__group")
    }
    current = set(user.groups.filter(agency__isnull=False).values_list("pk", flat=True))
    if wanted - current:
        user.groups.add(*(wanted - current))
    if current - wanted:
        user.groups.remove(*(current - wanted))


def membership_record_change(
    *, actor: Actor | AbstractBaseUser | None, membership: Membership, kind: str, before: dict | None = None
) -> AccessEvent:
    """Record who changed which membership and how; keeps the user's agency groups in step."""
    actor = as_actor(actor)
    membership_sync_groups(user=membership.user)
    return AccessEvent.objects.create(
        actor=actor.user_or_none,
        actor_label=actor.label if actor.user_or_none is None else "",
        kind=kind,
        user=membership.user,
        agency=membership.agency,
        detail={
            "role": membership.role,
            "is_active": membership.is_active,
            "unit": membership.unit_id,
            **({"before": before} if before else {}),
        },
    )


def _grant(share: IncidentShare) -> None:
    group = agency_group_ensure(share.agency)
    for codename in SHARE_CODENAMES[share.level]:
        assign_perm(f"incidents.{codename}", group, share.incident)


def _ungrant(share: IncidentShare) -> None:
    group = agency_group_ensure(share.agency)
    for codename in SHARE_CODENAMES[IncidentShare.Level.ASSIST]:
        remove_perm(f"incidents.{codename}", group, share.incident)


@transaction.atomic
def incident_share(
    *,
    incident: Incident,
    agency: Agency,
    level: str,
    actor: Actor | AbstractBaseUser | None,
    expires_at: datetime | None = None,
    note: str = "",
) -> IncidentShare:
    """Let another agency see (``view``) or help on (``assist``) one incident; replaces a live share.

    The caller has checked that the actor may share (``incident.share``): an agency that sees the
    incident only through a share has no such right. Every share ends by itself: ``expires_at`` is at
    most ``INCIDENT_SHARE_MAX_DAYS`` days away, and defaults to that.
    """
    actor = as_actor(actor)
    if level not in IncidentShare.Level.values:
        raise ApplicationError(_("Unknown share level."), code="invalid_share_level", extra={"field": "level"})
    if not agency.is_active:
        raise ApplicationError(_("This agency is not active."), code="agency_inactive", extra={"field": "agency"})
    if agency.kind == Agency.Kind.COMMAND_CENTER:
        raise ApplicationError(
            _("The command center already sees its incidents."),
            code="share_to_command_center",
            extra={"field": "agency"},
        )
    now = timezone.now()
    max_days = settings.INCIDENT_SHARE_MAX_DAYS
    latest = now + timedelta(days=max_days)
    if expires_at is None:
        expires_at = latest
    elif expires_at <= now:
        raise ApplicationError(
            _("The expiry must be in the future."), code="share_expiry_past", extra={"field": "expires_at"}
        )
    elif expires_at > latest:
        raise ApplicationError(
            ngettext("A share can last at most %(days)d day.", "A share can last at most %(days)d days.", max_days)
            % {"days": max_days},
            code="share_expiry_too_late",
            extra={"field": "expires_at", "max_days": max_days},
        )
    incident = _lock_incident(incident)
    if incident.status in Incident.FINAL_STATUSES:
        raise Conflict(_("A closed incident cannot be shared."), code="incident_final")
    previous = (
        IncidentShare.objects.select_for_update()
        .filter(incident=incident, agency=agency, revoked_at__isnull=True)
        .first()
    )
    if previous is not None:
        previous.revoked_at = now
        previous.revoked_by = actor.user_or_none
        previous.save(update_fields=["revoked_at", "revoked_by"])
        _ungrant(previous)
    share = IncidentShare.objects.create(
        incident=incident,
        agency=agency,
        level=level,
        granted_by=actor.user_or_none,
        granted_at=now,
        expires_at=expires_at,
        note=note,
    )
    _grant(share)
    payload = {"agency": agency.code, "level": level, "expires_at": expires_at.isoformat()}
    timeline_event_create(incident=incident, kind=K.SHARED, actor=actor, note=note, payload=payload, at=now)
    AccessEvent.objects.create(
        actor=actor.user_or_none,
        actor_label=actor.label if actor.user_or_none is None else "",
        kind=AccessEvent.Kind.SHARE_GRANTED,
        agency=agency,
        incident=incident,
        detail=payload,
        created_at=now,
    )
    return share


@transaction.atomic
def incident_share_revoke(
    *, share: IncidentShare, actor: Actor | AbstractBaseUser | None, expired: bool = False, note: str = ""
) -> IncidentShare:
    """End a share now (or record that it expired). Idempotent: an ended share is returned as is."""
    actor = as_actor(actor)
    incident = _lock_incident(share.incident_id)
    share = IncidentShare.objects.select_for_update().select_related("agency").get(pk=share.pk)
    if share.revoked_at is not None:
        return share
    now = timezone.now()
    share.revoked_at = share.expires_at if expired and share.expires_at else now
    share.revoked_by = actor.user_or_none
    share.save(update_fields=["revoked_at", "revoked_by"])
    _ungrant(share)
    payload = {"agency": share.agency.code, "level": share.level, "expired": expired}
    timeline_event_create(incident=incident, kind=K.SHARE_REVOKED, actor=actor, note=note, payload=payload, at=now)
    AccessEvent.objects.create(
        actor=actor.user_or_none,
        actor_label=actor.label if actor.user_or_none is None else "",
        kind=AccessEvent.Kind.SHARE_EXPIRED if expired else AccessEvent.Kind.SHARE_REVOKED,
        agency=share.agency,
        incident=incident,
        detail=payload,
        created_at=now,
    )
    return share


@transaction.atomic
def incident_assist_join(
    *, incident: Incident, agency: Agency, actor: Actor | AbstractBaseUser | None, note: str = ""
) -> Assignment:
    """An agency with a live "assist" share adds its own assignment to the incident.

    The caller has checked ``incident.self_dispatch`` for the actor. Only on an incident the
    command center has already dispatched (joining must not verify or dispatch it on the command
    center's behalf); the assignment is marked ``via_share``, so it does not let the agency
    re-share the incident. Its acknowledge clock, timeline event and notification are those of
    any dispatch (``incident_dispatch``).
    """
    actor = as_actor(actor)
    incident = _lock_incident(incident)
    share = (
        IncidentShare.objects.active()
        .select_for_update()
        .filter(incident=incident, agency=agency, level=IncidentShare.Level.ASSIST)
        .first()
    )
    if share is None:
        raise ApplicationError(
            _("%(agency)s has no live assist share of this incident.") % {"agency": agency.name},
            code="no_assist_share",
            extra={"field": "agency"},
        )
    if incident.status not in (S.DISPATCHED, S.ON_SCENE):
        raise Conflict(
            _("Agencies can join an incident only once the command center has dispatched it."),
            code="incident_not_dispatched",
            extra={"current": incident.status},
        )
    (assignment,) = incident_dispatch(incident=incident, agencies=[agency], actor=actor, note=note, via_share=share)
    return assignment


def shares_expire(*, limit: int = 500) -> int:
    """Revoke the guardian grants of shares past their expiry (the selector already hides them)."""
    due = list(
        IncidentShare.objects.filter(revoked_at__isnull=True, expires_at__lte=timezone.now())
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    for share in IncidentShare.objects.filter(pk__in=due).only("pk", "incident_id"):
        incident_share_revoke(share=share, actor=Actor.system("system: share expiry"), expired=True)
    return len(due)
