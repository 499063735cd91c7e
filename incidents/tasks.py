"""Celery tasks for incidents. Tasks take ids, re-fetch, and are safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta
from smtplib import SMTPException

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from semarang112.exceptions import ApplicationError

from . import services
from .models import Incident

logger = logging.getLogger(__name__)

AUTO_CLOSE_BATCH = 500


@shared_task(name="incidents.tasks.incident_auto_close_resolved_task")
def incident_auto_close_resolved_task() -> int:
    """Close incidents resolved more than INCIDENT_AUTO_CLOSE_HOURS ago (periodic, via beat).

    Each close is its own transaction through the close service; an incident reopened or
    closed meanwhile is skipped, so overlapping runs do no harm.
    """
    cutoff = timezone.now() - timedelta(hours=settings.INCIDENT_AUTO_CLOSE_HOURS)
    ids = list(
        Incident.objects.filter(status=Incident.Status.RESOLVED, resolved_at__lte=cutoff)
        .order_by("resolved_at")
        .values_list("pk", flat=True)[:AUTO_CLOSE_BATCH]
    )
    closed = 0
    for pk in ids:
        try:
            services.incident_close(
                incident=Incident(pk=pk),
                actor=services.Actor.system("system: auto-close"),
                note="Closed automatically after resolution.",
            )
            closed += 1
        except ApplicationError as exc:  # reopened or closed by someone else meanwhile
            logger.info("auto-close skipped incident %s: %s", pk, exc.code)
    return closed


# ------------------------------------------------------------------------------------------------
# SLA engine (incidents/sla.py, notifications.py, webhooks.py)
# ------------------------------------------------------------------------------------------------
@shared_task(name="incidents.tasks.sla_sweep_task")
def sla_sweep_task() -> dict:
    """Record the warnings and breaches that have fallen due (periodic, every SLA_SWEEP_INTERVAL_SECONDS).

    No retry of its own: the next beat tick is the retry, and overlapping runs are harmless.
    """
    from . import sla

    result = sla.sla_sweep()
    if result.recorded or result.failed or not result.complete:
        logger.info("SLA sweep: %s", result.as_dict())
    return result.as_dict()


@shared_task(
    name="incidents.tasks.notification_email_task",
    autoretry_for=(SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def notification_email_task(notification_id: int) -> bool:
    from . import notifications

    return notifications.notification_email_send(notification_id=notification_id)


@shared_task(name="incidents.tasks.webhook_delivery_attempt_task")
def webhook_delivery_attempt_task(delivery_id: int) -> str:
    """One attempt; a failure is recorded and rescheduled in the database (outbox_flush_task retries)."""
    from . import webhooks

    return webhooks.delivery_attempt(delivery_id=delivery_id)


@shared_task(name="incidents.tasks.outbox_flush_task")
def outbox_flush_task() -> dict:
    """Queue webhook deliveries due for (re)try and emails whose message was lost (periodic)."""
    from . import notifications, webhooks

    return {
        "webhooks": webhooks.deliveries_enqueue_due(),
        "emails": notifications.emails_enqueue_pending(),
    }
