"""CSV and XLSX exports of the report figures and of the incident list, with the report's filters.

Memory stays flat whatever the size: the incident list is read with ``values_list(...).iterator()``
in chunks of ``CHUNK_SIZE`` and written row by row — CSV straight into a
``StreamingHttpResponse``, XLSX through an openpyxl *write-only* workbook into a temporary file
that is then streamed (https://openpyxl.readthedocs.io/en/stable/optimized.html). XLSX lists longer
than ``REPORT_EXPORT_SYNC_MAX_ROWS`` are built by a Celery task (``ReportExport``) and downloaded
when ready.

Personal data (caller name and number) is masked unless the permission selector's ``pii_visible``
annotation allows it for that incident — the same rule as the API and the console.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from incidents.models import Channel, Incident
from semarang112.api.fields import mask_name, mask_phone

from . import selectors
from .filters import ReportFilters

CHUNK_SIZE = 2000
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_storage() -> FileSystemStorage:
    """Where background exports are written; never served directly (the download view checks the owner)."""
    return FileSystemStorage(location=settings.REPORT_EXPORT_DIR)


def _local(value: datetime | None, tz) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _seconds_between(end: datetime | None, start: datetime | None) -> float | None:
    if end is None or start is None:
        return None
    return round((end - start).total_seconds(), 3)


def export_file_name(dataset: str, filters: ReportFilters, extension: str) -> str:
    """e.g. ``semarang112-incidents-2025-02-01_2025-02-28.csv``."""
    return f"semarang112-{dataset}-{filters.start_date.isoformat()}_{filters.end_date.isoformat()}.{extension}"


# ------------------------------------------------------------------------------------------------
# The incident list
# ------------------------------------------------------------------------------------------------
INCIDENT_FIELDS = (
    "reference",
    "received_at",
    "status",
    "priority",
    "channel",
    "category__code",
    "category__name_id",
    "category__name_en",
    "region__code",
    "district__code",
    "district__name",
    "village__name",
    "address",
    "caller_name",
    "caller_number",
    "pii_visible",
    "first_dispatched_at",
    "first_acknowledged_at",
    "first_on_scene_at",
    "resolved_at",
    "closed_at",
    "response_due_at",
)


def incident_headers() -> list[str]:
    return [
        _("Reference"),
        _("Received (local time)"),
        _("Status"),
        _("Priority"),
        _("Channel"),
        _("Category code"),
        _("Category"),
        _("Region"),
        _("District code"),
        _("District"),
        _("Village"),
        _("Address"),
        _("Caller name"),
        _("Caller number"),
        _("First dispatched"),
        _("First acknowledged"),
        _("First on scene"),
        _("Resolved"),
        _("Closed"),
        _("Dispatch time (s)"),
        _("Acknowledge time (s)"),
        _("Response time (s)"),
        _("Within %(minutes)s-minute target") % {"minutes": settings.RESPONSE_TARGET_MINUTES},
        _("Within category target"),
    ]


def incident_rows(user, filters: ReportFilters) -> Iterator[list[Any]]:
    """The filtered incident list, one list of cell values per incident, masked per row.

    Reads in chunks (server-side cursor on PostgreSQL); never holds the table in memory.
    """
    tz = filters.tz
    english = (get_language() or "id").startswith("en")
    status_labels = dict(Incident.Status.choices)
    channel_labels = dict(Channel.choices)
    target = settings.RESPONSE_TARGET_MINUTES * 60
    yes, no = _("Yes"), _("No")
    queryset = selectors.report_incidents(user, filters).order_by("received_at", "pk").values_list(*INCIDENT_FIELDS)
    for (
        reference,
        received_at,
        status,
        priority,
        channel,
        category_code,
        category_id_name,
        category_en_name,
        region_code,
        district_code,
        district_name,
        village_name,
        address,
        caller_name,
        caller_number,
        pii_visible,
        dispatched,
        acknowledged,
        on_scene,
        resolved,
        closed,
        response_due,
    ) in queryset.iterator(chunk_size=CHUNK_SIZE):
        response = _seconds_between(on_scene, received_at)
        if not pii_visible:
            caller_name, caller_number = mask_name(caller_name), mask_phone(caller_number)
        yield [
            reference,
            _local(received_at, tz),
            str(status_labels.get(status, status)),
            f"P{priority}",
            str(channel_labels.get(channel, channel)),
            category_code,
            category_en_name if english else category_id_name,
            region_code,
            district_code or "",
            district_name or "",
            village_name or "",
            address,
            caller_name,
            caller_number,
            _local(dispatched, tz),
            _local(acknowledged, tz),
            _local(on_scene, tz),
            _local(resolved, tz),
            _local(closed, tz),
            _seconds_between(dispatched, received_at),
            _seconds_between(acknowledged, dispatched),
            response,
            "" if response is None else (yes if response <= target else no),
            "" if on_scene is None or response_due is None else (yes if on_scene <= response_due else no),
        ]


# ------------------------------------------------------------------------------------------------
# The figures as tables
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Table:
    key: str
    title: str
    headers: list[str]
    rows: list[list[Any]]


def _pct(value: float | None) -> float | None:
    """Shares as percentages with one decimal (what people read); None stays empty."""
    return None if value is None else round(value * 100, 1)


def _interval_cells(stats: selectors.IntervalStats, *, with_target: bool) -> list[Any]:
    cells = [stats.count, stats.median, stats.p90, stats.p95]
    if with_target:
        cells.append(_pct(stats.within_target_share))
    cells.append(_pct(stats.within_category_target_share))
    return cells


def _interval_headers(prefix: str, *, with_target: bool) -> list[str]:
    headers = [
        _("%(what)s: cases") % {"what": prefix},
        _("%(what)s: median (s)") % {"what": prefix},
        _("%(what)s: p90 (s)") % {"what": prefix},
        _("%(what)s: p95 (s)") % {"what": prefix},
    ]
    if with_target:
        headers.append(
            _("%(what)s: %% within %(minutes)s min") % {"what": prefix, "minutes": settings.RESPONSE_TARGET_MINUTES}
        )
    headers.append(_("%(what)s: %% within category target") % {"what": prefix})
    return headers


def _performance_table(key: str, title: str, first: str, rows: list[selectors.PerformanceRow], ranked: bool) -> Table:
    headers = [first, _("Code"), _("Cases")]
    if ranked:
        headers.insert(0, _("Rank"))
    headers += _interval_headers(_("Response"), with_target=True)
    headers += _interval_headers(_("Dispatch"), with_target=False)
    headers += _interval_headers(_("Acknowledge"), with_target=False)
    body = []
    for row in rows:
        cells = [row.label, row.key, row.cases]
        if ranked:
            cells.insert(0, row.rank if row.ranked else _("not ranked"))
        cells += _interval_cells(row.response, with_target=True)
        cells += _interval_cells(row.dispatch, with_target=False)
        cells += _interval_cells(row.acknowledge, with_target=False)
        body.append(cells)
    return Table(key, title, headers, body)


def _answering_table(key: str, title: str, first: str, rows: list[selectors.AnsweringRow]) -> Table:
    headers = [
        first,
        _("Calls"),
        _("Answered"),
        _("Not answered"),
        _("% answered within 10 s"),
        _("% answered within 15 s"),
        _("% answered within 20 s"),
        _("Emergency calls dispatched"),
        _("% answer-to-dispatch within 60 s"),
    ]
    body = [
        [
            row.label,
            row.calls,
            row.answered,
            row.unanswered,
            _pct(row.answer_10s_share),
            _pct(row.answer_15s_share),
            _pct(row.answer_20s_share),
            row.processed,
            _pct(row.processing_60s_share),
        ]
        for row in rows
    ]
    return Table(key, title, headers, body)


def _count_table(key: str, title: str, first: str, rows: list[selectors.CountRow]) -> Table:
    return Table(
        key,
        title,
        [first, _("Code"), _("Count"), _("% of total")],
        [[r.label, r.key, r.count, _pct(r.share)] for r in rows],
    )


def _sla_table(key: str, title: str, first: str, rows: list[selectors.SlaRow]) -> Table:
    headers = [first, _("Code")]
    for target in selectors.SLA_TARGETS:
        headers += [_("%(target)s warnings") % {"target": target}, _("%(target)s breaches") % {"target": target}]
    body = []
    for row in rows:
        cells = [row.label, row.key]
        for target in selectors.SLA_TARGETS:
            cells += [row.warnings[target], row.breaches[target]]
        body.append(cells)
    return Table(key, title, headers, body)


def report_tables(report: selectors.Report) -> list[Table]:
    """Every table behind the report's charts, in page order."""
    summary = Table(
        "summary",
        _("Summary"),
        [_("Figure"), _("Value")],
        [
            [_("Period"), report.filters.label],
            [_("From (local date)"), report.filters.start_date],
            [_("To (local date)"), report.filters.end_date],
            [_("Incidents received"), report.incidents.total],
            [_("Incidents resolved or closed"), report.incidents.resolved],
            [_("Calls"), report.calls.total],
            [_("Prank calls (% of calls with an outcome)"), _pct(report.calls.prank_share)],
            [_("Median response time (s)"), report.response.overall.response.median],
            [_("90th percentile response time (s)"), report.response.overall.response.p90],
            [
                _("Responses within %(minutes)s minutes (%%)") % {"minutes": report.response.target_minutes},
                _pct(report.response.overall.response.within_target_share),
            ],
            [_("Calls answered within 15 s (%)"), _pct(report.answering.overall.answer_15s_share)],
            [_("SLA breaches"), report.sla.totals.breach_total],
        ],
    )
    patterns = report.patterns
    comparison = report.comparison
    periods = [comparison.current, comparison.previous, comparison.year_before]
    tables = [
        summary,
        _count_table("outcomes", _("Calls by outcome"), _("Outcome"), report.calls.by_outcome),
        _count_table("status", _("Incidents by status"), _("Status"), report.incidents.by_status),
        _count_table("category", _("Incidents by category"), _("Category"), report.incidents.by_category),
        _count_table("priority", _("Incidents by priority"), _("Priority"), report.incidents.by_priority),
        _count_table("district", _("Incidents by district"), _("District"), report.incidents.by_district),
        _count_table("channel", _("Incidents by channel"), _("Channel"), report.incidents.by_channel),
        _answering_table("answering-hour", _("Call answering by hour"), _("Hour"), report.answering.by_hour),
        _answering_table("answering-shift", _("Call answering by shift"), _("Shift"), report.answering.by_shift),
        _performance_table(
            "response-agency", _("Response times by agency"), _("Agency"), report.response.by_agency, ranked=True
        ),
        _performance_table(
            "response-district",
            _("Response times by district"),
            _("District"),
            report.response.by_district,
            ranked=False,
        ),
        _sla_table("sla-agency", _("SLA warnings and breaches by agency"), _("Agency"), report.sla.by_agency),
        _sla_table("sla-category", _("SLA warnings and breaches by category"), _("Category"), report.sla.by_category),
        Table(
            "daily",
            _("Incidents and calls per day"),
            [_("Date"), _("Incidents"), _("Calls"), _("Marked period")],
            [[d.day, d.incidents, d.calls, ", ".join(d.markers)] for d in patterns.daily],
        ),
        Table(
            "heatmap",
            _("Incidents by weekday and hour"),
            [_("Weekday"), *[f"{h:02d}" for h in range(24)]],
            [[label, *row] for label, row in zip(patterns.weekday_labels, patterns.heatmap, strict=True)],
        ),
        Table(
            "comparison",
            _("Comparison"),
            [
                _("Period"),
                _("From"),
                _("To"),
                _("Incidents"),
                _("Calls"),
                _("Prank calls (%)"),
                _("Median response (s)"),
                _("Responses within target (%)"),
            ],
            [
                [
                    p.label,
                    p.start_date,
                    p.end_date,
                    p.incidents,
                    p.calls,
                    _pct(p.prank_share),
                    p.response_median,
                    _pct(p.response_within_target_share),
                ]
                for p in periods
            ],
        ),
    ]
    return tables


FIGURE_TABLE_KEYS = (
    "summary",
    "outcomes",
    "status",
    "category",
    "priority",
    "district",
    "channel",
    "answering-hour",
    "answering-shift",
    "response-agency",
    "response-district",
    "sla-agency",
    "sla-category",
    "daily",
    "heatmap",
    "comparison",
)


# ------------------------------------------------------------------------------------------------
# Writers
# ------------------------------------------------------------------------------------------------
class _Echo:
    """csv.writer target that hands each formatted line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return "" if value is None else value


def csv_lines(headers: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """Formatted CSV lines; the first carries a UTF-8 BOM so Excel reads Indonesian text right."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(headers)
    for row in rows:
        yield writer.writerow([_csv_cell(cell) for cell in row])


def csv_response(filename: str, headers: list[str], rows: Iterable[list[Any]]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(headers, rows), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def write_xlsx(path: str, sheets: Iterable[tuple[str, list[str], Iterable[list[Any]]]]) -> int:
    """Write sheets (title, headers, rows) with a write-only workbook; returns the number of data rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    count = 0
    for number, (title, headers, rows) in enumerate(sheets, start=1):
        sheet = workbook.create_sheet(title=sheet_title(number, title))
        header_cells = []
        for header in headers:
            cell = WriteOnlyCell(sheet, value=header)
            cell.font = bold
            header_cells.append(cell)
        sheet.append(header_cells)
        for row in rows:
            sheet.append([_xlsx_cell(value) for value in row])
            count += 1
    workbook.save(path)
    return count


def _xlsx_cell(value: Any) -> Any:
    # Excel has no time zones: local times are written as text, exactly as in the CSV.
    if isinstance(value, datetime):
        return value.isoformat()
    return value


_SHEET_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})


def sheet_title(number: int, title: str) -> str:
    """ "03 Incidents by status": numbered in page order, which also keeps titles unique once cut
    to Excel's 31 characters."""
    return f"{number:02d} {title.translate(_SHEET_FORBIDDEN)}"[:31]


def xlsx_response(filename: str, build: Callable[[str], int]) -> FileResponse:
    """Build into a temporary file with ``build(path)``, then stream it and delete it when sent."""
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)
    handle.close()
    try:
        build(handle.name)
        stream = open(handle.name, "rb")  # noqa: SIM115 - closed by FileResponse
    finally:
        # Unlinking an open file keeps its data until the stream is closed (POSIX).
        os.unlink(handle.name)
    return FileResponse(stream, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)


def figures_sheets(report: selectors.Report) -> list[tuple[str, list[str], list[list[Any]]]]:
    return [(table.title, table.headers, table.rows) for table in report_tables(report)]


def incident_sheets(user, filters: ReportFilters) -> list[tuple[str, list[str], Iterable[list[Any]]]]:
    return [(_("Incidents"), incident_headers(), incident_rows(user, filters))]


def incident_count(user, filters: ReportFilters) -> int:
    return selectors.report_incidents(user, filters).count()
