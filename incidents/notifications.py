"""Telling people: in-app notifications (the staff console's bell) and email.

Who is told about an SLA event
    warning  the supervisors of the agency concerned (the assignment's agency for the acknowledge
             target, otherwise every agency with a live assignment on the incident) and the
             dispatchers of the command center(s) of the incident's region;
    breach   the same people and the command center's supervisors.
A command center "of the region" is an active agency of kind command_center whose region is the
incident's, or empty (serves every region). Only active users with an active membership count.

Notifications are created in the transaction that recorded the event (a unique constraint makes
each (event, recipient) exist once); emails are sent after commit by
``incidents.tasks.notification_email_task``, once per notification (``emailed_at``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from dispatch.models import Agency, Assignment, Membership, Role

from .models import Incident, Notification, SlaEvent, SlaLevel, SlaTarget


# ------------------------------------------------------------------------------------------------
# Recipients
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One membership that may have to be told about an incident's SLA events."""

    user_id: int
    email: str
    agency_id: int
    command_center: bool
    role: str


def candidates_for(*, incident: Incident, agency_ids: Iterable[int]) -> list[Candidate]:
    """Everyone who may be told about ``incident`` (one query): the dispatchers and supervisors of
    the command centers of its region, and the supervisors of ``agency_ids``."""
    return candidates_for_incidents(incidents=[incident], agency_ids={incident.pk: agency_ids})[incident.pk]


def candidates_for_incidents(*, incidents: Iterable[Incident], agency_ids: dict[int, Iterable[int]]) -> dict[int, list[Candidate]]:
    """``candidates_for`` of several incidents in one query: {incident id: its candidates}.

    ``agency_ids`` maps an incident's id to the agencies whose supervisors may be told about it.
    """
    incidents = list(incidents)
    wanted = {incident.pk: set(agency_ids.get(incident.pk, ())) for incident in incidents}
    every_agency = set().union(*wanted.values()) if wanted else set()
    region_ids = {incident.region_id for incident in incidents}
    who = Q(agency__kind=Agency.Kind.COMMAND_CENTER, role__in=[Role.DISPATCHER, Role.SUPERVISOR]) & (
        Q(agency__region_id__in=region_ids) | Q(agency__region__isnull=True)
    )
    if every_agency:
        who |= Q(agency_id__in=sorted(every_agency), role=Role.AGENCY_SUPERVISOR)
    rows = list(
        Membership.objects.filter(who, is_active=True, agency__is_active=True, user__is_active=True)
        .values_list("user_id", "user__email", "agency_id", "agency__kind", "role", "agency__region_id")
        .order_by("user_id", "agency_id")
    )
    candidates: dict[int, list[Candidate]] = {}
    for incident in incidents:
        mine = wanted[incident.pk]
        candidates[incident.pk] = [
            Candidate(user_id, email or "", agency_id, kind == Agency.Kind.COMMAND_CENTER, role)
            for user_id, email, agency_id, kind, role, region_id in rows
            # The rule of the query above, for this incident alone.
            if (
                kind == Agency.Kind.COMMAND_CENTER
                and role in (Role.DISPATCHER, Role.SUPERVISOR)
                and region_id in (None, incident.region_id)
            )
            or (agency_id in mine and role == Role.AGENCY_SUPERVISOR)
        ]
    return candidates


def recipients_among(candidates: Iterable[Candidate], *, level: str, agency_ids: Iterable[int]) -> dict[int, str]:
    """{user id: email} of those to tell about one event: the rule of this module's docstring."""
    agency_ids = set(agency_ids)
    command_center_roles = {Role.DISPATCHER} | ({Role.SUPERVISOR} if level == SlaLevel.BREACH else set())
    chosen: dict[int, str] = {}
    for candidate in candidates:
        if candidate.command_center and candidate.role in command_center_roles:
            chosen[candidate.user_id] = candidate.email
        elif candidate.role == Role.AGENCY_SUPERVISOR and candidate.agency_id in agency_ids:
            chosen[candidate.user_id] = candidate.email
    return chosen


def _agencies_concerned(event: SlaEvent, assignments: Iterable[Assignment]) -> list[int]:
    """The assignment's agency for the acknowledge clock, else every agency still on the incident."""
    if event.assignment_id is not None:
        return [event.assignment.agency_id]
    return sorted({a.agency_id for a in assignments if a.status in Assignment.ACTIVE_STATUSES})


def sla_recipients(*, incident: Incident, level: str, assignment: Assignment | None = None) -> QuerySet:
    """Users to tell about a warning or breach of ``incident`` (or of one of its assignments)."""
    if assignment is not None:
        agency_ids = [assignment.agency_id]
    else:
        active = Assignment.objects.filter(incident_id=incident.pk, status__in=Assignment.ACTIVE_STATUSES)
        agency_ids = sorted(set(active.values_list("agency_id", flat=True)))
    chosen = recipients_among(candidates_for(incident=incident, agency_ids=agency_ids), level=level, agency_ids=agency_ids)
    return get_user_model().objects.filter(pk__in=chosen).order_by("pk")


# ------------------------------------------------------------------------------------------------
# Writes
# ------------------------------------------------------------------------------------------------
def sla_events_notify(*, incident: Incident, events: list[SlaEvent], assignments: Iterable[Assignment]) -> list[Notification]:
    """Notify the recipients of SLA events just recorded for one incident (``sla_events_notify_many``)."""
    return sla_events_notify_many([(incident, events, assignments)])


def sla_events_notify_many(
    items: Iterable[tuple[Incident, list[SlaEvent], Iterable[Assignment]]],
) -> list[Notification]:
    """Notify the recipients of SLA events just recorded, for any number of incidents: each item is
    (incident, its new events, its assignments). Call inside the transaction that recorded them:
    one query for the people, one insert for the notifications, whatever the number of incidents;
    emails are queued after commit (``outbox_flush`` re-queues any whose message was lost)."""
    from .sla import sla_event_describe
    from .tasks import notification_email_task

    items = [(incident, events, list(assignments)) for incident, events, assignments in items if events]
    if not items:
        return []
    concerned = {
        event.pk: _agencies_concerned(event, assignments) for _incident, events, assignments in items for event in events
    }
    candidates = candidates_for_incidents(
        incidents=[incident for incident, _events, _assignments in items],
        agency_ids={
            incident.pk: {pk for event in events for pk in concerned[event.pk]} for incident, events, _a in items
        },
    )
    rows = []
    for incident, events, _assignments in items:
        for event in events:
            agency = event.assignment.agency if event.assignment_id is not None else None
            message = f"{incident.reference}: " + sla_event_describe(
                target=event.target, level=event.level, due_at=event.due_at, agency=agency
            )
            kind = Notification.Kind.SLA_WARNING if event.level == SlaLevel.WARNING else Notification.Kind.SLA_BREACH
            chosen = recipients_among(candidates[incident.pk], level=event.level, agency_ids=concerned[event.pk])
            for user_id, email in chosen.items():
                rows.append(
                    Notification(
                        recipient_id=user_id,
                        incident=incident,
                        sla_event=event,
                        kind=kind,
                        message=message,
                        email_to=email,
                        created_at=event.recorded_at,
                    )
                )
    notifications = Notification.objects.bulk_create(rows)
    for notification in notifications:
        if notification.email_to:
            transaction.on_commit(lambda pk=notification.pk: notification_email_task.delay(pk))
    return notifications


def sla_event_notify(*, event: SlaEvent) -> list[Notification]:
    """Notify the recipients of one just-recorded SLA event (see ``sla_events_notify``)."""
    assignments = Assignment.objects.filter(incident_id=event.incident_id)
    return sla_events_notify(incident=event.incident, events=[event], assignments=assignments)


@transaction.atomic
def notification_email_send(*, notification_id: int) -> bool:
    """Email one notification, once. Returns whether a message was sent.

    The row stays locked while the mail goes out and ``emailed_at`` is written in the same
    transaction: a failure rolls back and the task retries (at least once, never silently lost).
    """
    notification = (
        Notification.objects.select_for_update(of=("self",))
        .select_related("incident", "incident__category", "sla_event")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None or notification.emailed_at is not None or not notification.email_to:
        return False
    incident = notification.incident
    event = notification.sla_event
    if event is not None:
        subject = _("[112] %(ref)s: %(target)s %(level)s") % {
            "ref": incident.reference,
            "target": SlaTarget(event.target).label,
            "level": SlaLevel(event.level).label,
        }
    else:
        subject = f"[112] {incident.reference}"
    body = "\n".join(
        [
            notification.message,
            "",
            _("Reference: %(ref)s") % {"ref": incident.reference},
            _("Category: %(category)s") % {"category": incident.category.name_id},
            _("Priority: P%(priority)s") % {"priority": incident.priority},
            _("Status: %(status)s") % {"status": incident.get_status_display()},
            _("Address: %(address)s") % {"address": incident.address or "-"},
        ]
    )
    send_mail(subject, body, None, [notification.email_to])
    notification.emailed_at = timezone.now()
    notification.save(update_fields=["emailed_at"])
    return True


def notifications_mark_read(*, user, ids: list[int] | None = None) -> int:
    """Mark the user's notifications (all unread ones, or those ``ids``) read. Returns how many."""
    queryset = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    return queryset.update(read_at=timezone.now())


def emails_enqueue_pending(*, older_than: timedelta = timedelta(minutes=2), limit: int = 200) -> int:
    """Queue the emails whose message was lost (created a while ago, still not sent). Periodic."""
    from .tasks import notification_email_task

    now = timezone.now()
    ids = list(
        Notification.objects.filter(
            emailed_at__isnull=True, created_at__lte=now - older_than, created_at__gte=now - timedelta(days=1)
        )
        .exclude(email_to="")
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        notification_email_task.delay(pk)
    return len(ids)


# ------------------------------------------------------------------------------------------------
# Reads
# ------------------------------------------------------------------------------------------------
def notification_list_for_user(user, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's notifications, newest first (``notification_unread_idx`` serves the unread ones)."""
    queryset = Notification.objects.filter(recipient=user).select_related("incident")
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset.order_by("-created_at", "-id")
