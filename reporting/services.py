"""Writes for reporting: asking for a background export and recording its progress.

A background export is a ``ReportExport`` row plus a Celery task that builds the file. The task
re-parses the stored filters and re-reads the requester's permissions, so the file holds exactly
what the requester may see when it is built.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from .filters import parse_report_filters
from .models import ReportExport

DATASETS = ("incidents", "figures")


@transaction.atomic
def report_export_request(*, user, dataset: str, file_format: str, params: dict, language: str) -> ReportExport:
    """Record the request and queue the build once the row is committed."""
    if dataset not in DATASETS:
        raise ValueError(f"Unknown export dataset {dataset!r}")
    if file_format not in ReportExport.Format.values:
        raise ValueError(f"Unknown export format {file_format!r}")
    export = ReportExport.objects.create(
        requested_by=user, dataset=dataset, format=file_format, params=params, language=language
    )
    from .tasks import report_export_build_task

    transaction.on_commit(lambda: report_export_build_task.delay(export.pk))
    return export


def report_export_build(*, export_id: int) -> ReportExport | None:
    """Build the file of one export. Safe to run twice: a finished export is left alone, and a
    re-run of an interrupted one writes a fresh file and replaces the old one atomically."""
    from . import exports, selectors

    claimed = ReportExport.objects.filter(
        pk=export_id, status__in=(ReportExport.Status.PENDING, ReportExport.Status.RUNNING)
    ).update(status=ReportExport.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return None
    export = ReportExport.objects.select_related("requested_by").get(pk=export_id)
    storage = exports.export_storage()
    os.makedirs(storage.location, exist_ok=True)
    handle = None
    try:
        with translation.override(export.language):
            filters = parse_report_filters(export.params)
            user = export.requested_by
            name = f"{export.pk}-{exports.export_file_name(export.dataset, filters, export.format)}"
            handle = tempfile.NamedTemporaryFile(dir=storage.location, suffix=".part", delete=False)
            handle.close()
            if export.format == ReportExport.Format.XLSX:
                if export.dataset == "incidents":
                    rows = exports.write_xlsx(handle.name, exports.incident_sheets(user, filters))
                else:
                    rows = exports.write_xlsx(handle.name, exports.figures_sheets(selectors.full_report(user, filters)))
            else:
                rows = 0
                with open(handle.name, "w", encoding="utf-8", newline="") as out:
                    for line in exports.csv_lines(exports.incident_headers(), exports.incident_rows(user, filters)):
                        out.write(line)
                        rows += 1
                rows -= 1  # the header line
            os.replace(handle.name, storage.path(name))
    except Exception as exc:
        if handle is not None and os.path.exists(handle.name):
            os.unlink(handle.name)
        ReportExport.objects.filter(pk=export_id).update(
            status=ReportExport.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        raise
    now = timezone.now()
    ReportExport.objects.filter(pk=export_id).update(
        status=ReportExport.Status.READY,
        file_name=name,
        row_count=rows,
        finished_at=now,
        expires_at=now + timedelta(hours=settings.REPORT_EXPORT_TTL_HOURS),
    )
    export.refresh_from_db()
    return export
