"""/health/: is the platform able to keep its SLA promises right now?

Reports the database, the Celery broker and the age of the last completed SLA sweep, as JSON:
``{"status": "ok"|"unhealthy", "database": "ok"|"unavailable", "broker": "ok"|"unavailable",
"last_sweep_age_seconds": 12.3|null, "sweep_interval_seconds": 30.0}`` — 200 when healthy, 503
otherwise. A sweep older than HEALTH_SWEEP_MAX_INTERVALS (3) intervals is unhealthy: beat or every
worker is down. The interval is the one in force: the django-celery-beat periodic task's if it
exists (it can be edited in the admin), else SLA_SWEEP_INTERVAL_SECONDS. Error details go to the
log, not to the (unauthenticated) response.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .models import SweepHeartbeat
from .sla import SWEEP_NAME

logger = logging.getLogger(__name__)

SWEEP_PERIODIC_TASK = "incidents-sla-sweep"
_SECONDS = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1, "microseconds": 1e-6}


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception:
        logger.exception("health: database check failed")
        return False


def broker_ok(timeout: float = 2.0, url: str | None = None) -> bool:
    from semarang112.celery import app

    try:
        with app.connection_for_write(url=url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        return True
    except Exception:
        logger.exception("health: broker check failed")
        return False


def sweep_interval_seconds() -> float:
    """The SLA sweep's interval in force (the beat schedule in the database, else the setting)."""
    try:
        from django_celery_beat.models import PeriodicTask

        task = PeriodicTask.objects.select_related("interval").filter(name=SWEEP_PERIODIC_TASK).first()
    except Exception:  # the table may not exist on a half-migrated database
        task = None
    if task is not None and task.interval is not None:
        return task.interval.every * _SECONDS.get(task.interval.period, 1)
    return float(settings.SLA_SWEEP_INTERVAL_SECONDS)


def last_sweep_age_seconds() -> float | None:
    finished_at = SweepHeartbeat.objects.filter(name=SWEEP_NAME).values_list("finished_at", flat=True).first()
    if finished_at is None:
        return None
    return max(0.0, (timezone.now() - finished_at).total_seconds())


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    database = database_ok()
    broker = broker_ok()
    age = interval = None
    if database:
        try:
            age = last_sweep_age_seconds()
            interval = sweep_interval_seconds()
        except Exception:
            logger.exception("health: sweep heartbeat unreadable")
            database = False
    sweep_fresh = age is not None and interval is not None and age <= settings.HEALTH_SWEEP_MAX_INTERVALS * interval
    healthy = database and broker and sweep_fresh
    body = {
        "status": "ok" if healthy else "unhealthy",
        "database": "ok" if database else "unavailable",
        "broker": "ok" if broker else "unavailable",
        "last_sweep_age_seconds": round(age, 1) if age is not None else None,
        "sweep_interval_seconds": interval,
    }
    return JsonResponse(body, status=200 if healthy else 503)
