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
def sla_recipients(*, incident: Incident, level: str, assignment: Assignment | None = None) -> QuerySet:
    """Users to tell about a warning or breach of ``incident`` (or of one of its assignments)."""
    if assignment is not None:
        agency_ids = [assignment.agency_id]
    else:
        agency_ids = list(
            Assignment.objects.filter(incident_id=incident.pk, status__in=Assignment.ACTIVE_STATUSES)
            .values_list("agency_id", flat=True)
            .distinct()
        )
    command_center_roles = [Role.DISPATCHER]
    if level == SlaLevel.BREACH:
        command_center_roles.append(Role.SUPERVISOR)
    who = Q(agency__kind=Agency.Kind.COMMAND_CENTER, role__in=command_center_roles) & (
        Q(agency__region_id=incident.region_id) | Q(agency__region__isnull=True)
    )
    if agency_ids:
        who |= Q(agency_id__in=agency_ids, role=Role.AGENCY_SUPERVISOR)
    memberships = Membership.objects.filter(who, is_active=True, agency__is_active=True)
    return get_user_model().objects.filter(is_active=True, pk__in=memberships.values("user_id")).order_by("pk")


# ------------------------------------------------------------------------------------------------
# Writes
# ------------------------------------------------------------------------------------------------
def sla_event_notify(*, event: SlaEvent) -> list[Notification]:
    """Notify the recipients of a just-recorded SLA event. Call inside the transaction that recorded it.

    Emails are queued after commit; ``outbox_flush`` re-queues any whose message was lost.
    """
    from .sla import sla_event_describe
    from .tasks import notification_email_task

    incident = event.incident
    agency = event.assignment.agency if event.assignment is not None else None
    message = f"{incident.reference}: " + sla_event_describe(
        target=event.target, level=event.level, due_at=event.due_at, agency=agency
    )
    kind = Notification.Kind.SLA_WARNING if event.level == SlaLevel.WARNING else Notification.Kind.SLA_BREACH
    users = list(sla_recipients(incident=incident, level=event.level, assignment=event.assignment).only("pk", "email"))
    notifications = Notification.objects.bulk_create(
        [
            Notification(
                recipient=user,
                incident=incident,
                sla_event=event,
                kind=kind,
                message=message,
                email_to=user.email or "",
                created_at=event.recorded_at,
            )
            for user in users
        ]
    )
    for notification in notifications:
        if notification.email_to:
            transaction.on_commit(lambda pk=notification.pk: notification_email_task.delay(pk))
    return notifications


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
