"""Periodic tasks of the API plumbing. Safe to run twice."""

from celery import shared_task

from . import services


@shared_task(name="semarang112.api.tasks.idempotency_records_purge_task")
def idempotency_records_purge_task() -> int:
    """Forget Idempotency-Keys past their expiry (API_IDEMPOTENCY_TTL_HOURS)."""
    return services.idempotency_records_purge()
