"""Celery tasks for dispatch. Tasks take ids, re-fetch, and are safe to run twice."""

from smtplib import SMTPException

from celery import shared_task

from . import services


@shared_task(
    name="dispatch.tasks.assignment_notify_agency_task",
    autoretry_for=(SMTPException, OSError),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=8,
)
def assignment_notify_agency_task(assignment_id: int) -> bool:
    return services.assignment_notify_agency(assignment_id=assignment_id)


@shared_task(name="dispatch.tasks.shares_expire_task")
def shares_expire_task() -> int:
    """Periodic: end shares whose expiry has passed (timeline + access record, grants removed)."""
    return services.shares_expire()
