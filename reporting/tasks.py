"""Celery tasks for reporting. Tasks take ids, re-fetch, and are safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from . import services
from .models import ReportExport

logger = logging.getLogger(__name__)


@shared_task(name="reporting.tasks.report_export_build_task")
def report_export_build_task(export_id: int) -> None:
    """Build a background export (see ``services.report_export_build``)."""
    export = services.report_export_build(export_id=export_id)
    if export is None:
        logger.info("report export %s: nothing to do (gone or already finished)", export_id)


@shared_task(name="reporting.tasks.report_exports_purge_task")
def report_exports_purge_task() -> int:
    """Remove the files of exports past their expiry (periodic, via beat). Returns how many."""
    from .exports import export_storage

    storage = export_storage()
    expired = 0
    for export in ReportExport.objects.filter(status=ReportExport.Status.READY, expires_at__lte=timezone.now()):
        if export.file_name and storage.exists(export.file_name):
            storage.delete(export.file_name)
        expired += ReportExport.objects.filter(pk=export.pk, status=ReportExport.Status.READY).update(
            status=ReportExport.Status.EXPIRED, file_name=""
        )
    return expired


@shared_task(name="reporting.tasks.report_rollups_refresh_task")
def report_rollups_refresh_task() -> dict | None:
    """Bring the reporting tables up to date (periodic, via beat; see ``reporting.rollups``)."""
    from .rollups import rollups_refresh

    result = rollups_refresh()
    if result is None:
        logger.info("reporting tables not built yet: run `manage.py report_rollups_rebuild`")
        return None
    return {"incidents": result.incidents, "assignments": result.assignments, "calls": result.calls}
