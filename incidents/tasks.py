"""Celery tasks for incidents. Tasks take ids, re-fetch, and are safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta

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
