"""Report pages of the staff console (thin: parse filters, check the right, call the selectors).

Filters live in the query string, so every page and export can be bookmarked and shared.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from dispatch.access import REPORT_READ, require
from semarang112.exceptions import Forbidden

from . import exports, selectors, services
from .charts import report_chart_data
from .filters import ReportFilterForm, ReportFilters, parse_report_filters
from .models import ReportExport


def _require_reports(request: HttpRequest) -> None:
    try:
        require(request.user, REPORT_READ)
    except Forbidden:
        raise PermissionDenied from None


def _form_and_filters(request: HttpRequest) -> tuple[ReportFilterForm, ReportFilters | None]:
    form = ReportFilterForm(request.GET)
    return form, (form.to_filters() if form.is_valid() else None)


def _links(filters: ReportFilters) -> dict[str, str]:
    query = urlencode(filters.query_params())
    return {
        "query": query,
        "overview": f"{reverse('reporting:overview')}?{query}",
        "monthly": f"{reverse('reporting:monthly')}?{urlencode({**filters.query_params(), 'period': 'month', 'date': filters.start_date.strftime('%Y-%m')})}",
        "figures_xlsx": f"{reverse('reporting:export_figures', args=['xlsx'])}?{query}",
        "figures_csv": f"{reverse('reporting:export_figures', args=['csv'])}?{query}",
        "incidents_csv": f"{reverse('reporting:export_incidents', args=['csv'])}?{query}",
        "incidents_xlsx": f"{reverse('reporting:export_incidents', args=['xlsx'])}?{query}",
        "previous": f"{reverse('reporting:overview')}?{urlencode(filters.previous().query_params())}",
        "year_before": f"{reverse('reporting:overview')}?{urlencode(filters.year_before().query_params())}",
    }


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """All figures with their charts and tables."""
    _require_reports(request)
    form, filters = _form_and_filters(request)
    context = {"form": form, "filters": filters, "page": "overview"}
    if filters is not None:
        report = selectors.full_report(request.user, filters)
        context.update(
            report=report,
            links=_links(filters),
            charts=report_chart_data(report),
            table_keys=exports.FIGURE_TABLE_KEYS,
            response_target_minutes=settings.RESPONSE_TARGET_MINUTES,
        )
    return render(request, "reporting/overview.html", context, status=200 if filters is not None else 400)


@login_required
def monthly(request: HttpRequest) -> HttpResponse:
    """The monthly report laid out for printing (the browser's "Save as PDF" keeps the charts)."""
    _require_reports(request)
    params = request.GET.copy()
    params["period"] = "month"
    form = ReportFilterForm(params)
    filters = form.to_filters() if form.is_valid() else None
    context = {"form": form, "filters": filters, "page": "monthly"}
    if filters is not None:
        report = selectors.full_report(request.user, filters)
        context.update(
            report=report,
            links=_links(filters),
            charts=report_chart_data(report),
            response_target_minutes=settings.RESPONSE_TARGET_MINUTES,
        )
    return render(request, "reporting/monthly.html", context, status=200 if filters is not None else 400)


def _filters_or_400(request: HttpRequest) -> ReportFilters:
    try:
        return parse_report_filters(request.GET)
    except ValidationError as exc:
        raise _BadFilters(exc) from None


class _BadFilters(Exception):
    def __init__(self, error: ValidationError):
        self.error = error


def _bad_filters(error: ValidationError) -> HttpResponse:
    lines = [f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()]
    return HttpResponse("\n".join(lines), status=400, content_type="text/plain; charset=utf-8")


@login_required
def export_figures(request: HttpRequest, file_format: str) -> HttpResponse:
    """The tables behind the report: XLSX with one sheet each, or one table as CSV (``?table=``)."""
    _require_reports(request)
    try:
        filters = _filters_or_400(request)
    except _BadFilters as bad:
        return _bad_filters(bad.error)
    report = selectors.full_report(request.user, filters)
    tables = exports.report_tables(report)
    if file_format == "csv":
        key = request.GET.get("table", "summary")
        table = next((t for t in tables if t.key == key), None)
        if table is None:
            return HttpResponse(
                _("Unknown table. Choose one of: %(tables)s") % {"tables": ", ".join(exports.FIGURE_TABLE_KEYS)},
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        return exports.csv_response(
            exports.export_file_name(f"report-{key}", filters, "csv"), table.headers, table.rows
        )
    sheets = [(t.title, t.headers, t.rows) for t in tables]
    return exports.xlsx_response(
        exports.export_file_name("report", filters, "xlsx"), lambda path: exports.write_xlsx(path, sheets)
    )


@login_required
def export_incidents(request: HttpRequest, file_format: str) -> HttpResponse:
    """The incident list with the report's filters. CSV always streams; a long XLSX is built in
    the background and offered for download when ready."""
    _require_reports(request)
    try:
        filters = _filters_or_400(request)
    except _BadFilters as bad:
        return _bad_filters(bad.error)
    if file_format == "csv":
        return exports.csv_response(
            exports.export_file_name("incidents", filters, "csv"),
            exports.incident_headers(),
            exports.incident_rows(request.user, filters),
        )
    if exports.incident_count(request.user, filters) > settings.REPORT_EXPORT_SYNC_MAX_ROWS:
        export = services.report_export_request(
            user=request.user,
            dataset="incidents",
            file_format="xlsx",
            params=filters.query_params(),
            language=get_language() or settings.LANGUAGE_CODE,
        )
        return HttpResponseRedirect(f"{reverse('reporting:exports')}?created={export.pk}")
    return exports.xlsx_response(
        exports.export_file_name("incidents", filters, "xlsx"),
        lambda path: exports.write_xlsx(path, exports.incident_sheets(request.user, filters)),
    )


@login_required
def export_list(request: HttpRequest) -> HttpResponse:
    """The user's background exports, newest first (the page refreshes itself while one is running)."""
    _require_reports(request)
    items = list(ReportExport.objects.filter(requested_by=request.user)[:20])
    running = any(e.status in (ReportExport.Status.PENDING, ReportExport.Status.RUNNING) for e in items)
    return render(request, "reporting/exports.html", {"exports": items, "running": running, "page": "exports"})


@login_required
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    """A finished export; only its requester may download it (anyone else gets 404)."""
    _require_reports(request)
    export = get_object_or_404(ReportExport, pk=pk, requested_by=request.user, status=ReportExport.Status.READY)
    storage = exports.export_storage()
    if not export.file_name or not storage.exists(export.file_name):
        raise Http404
    from django.http import FileResponse

    content_type = exports.XLSX_CONTENT_TYPE if export.format == "xlsx" else exports.CSV_CONTENT_TYPE
    name = export.file_name.split("-", 1)[1]
    return FileResponse(
        storage.open(export.file_name, "rb"), as_attachment=True, filename=name, content_type=content_type
    )
