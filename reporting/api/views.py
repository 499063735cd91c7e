"""GET /api/v1/reports/…: the report figures for integrations (scope ``reports:read``) and staff.

Thin: parse the filters with the pages' parser, check ``report.read``, call the selectors. An
invalid filter is a problem-details 400 naming the parameter; figures cover what the principal
may see (an agency's client sees its agency's incidents).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch.access import REPORT_READ, require
from incidents.models import Channel

from .. import selectors
from ..filters import parse_report_filters
from . import serializers as s

FILTER_PARAMETERS = [
    OpenApiParameter(
        "period",
        OpenApiTypes.STR,
        enum=["day", "week", "month", "year", "custom"],
        description="Default `month`.",
    ),
    OpenApiParameter(
        "date",
        OpenApiTypes.STR,
        description="Local date in the period: `YYYY-MM-DD`; a month also as `YYYY-MM`, a week as `YYYY-Www`, "
        "a year as `YYYY`. Default: today (Asia/Jakarta).",
    ),
    OpenApiParameter("from", OpenApiTypes.DATE, description="`period=custom`: first local date."),
    OpenApiParameter(
        "to", OpenApiTypes.DATE, description="`period=custom`: last local date (inclusive, at most 731 days)."
    ),
    OpenApiParameter("region", OpenApiTypes.STR, description="Region code, e.g. `3374`."),
    OpenApiParameter("district", OpenApiTypes.STR, description="District (kecamatan) code, e.g. `3374060`."),
    OpenApiParameter("category", OpenApiTypes.STR, description="Category code; includes its subcategories."),
    OpenApiParameter("agency", OpenApiTypes.STR, description="Agency code: incidents that agency was dispatched to."),
    OpenApiParameter("channel", OpenApiTypes.STR, enum=list(Channel.values)),
]
PERMISSION = (
    "**Permissions:** `report.read` — command center supervisors, agency supervisors (their agency's "
    "incidents), auditors, and integration clients with the `reports:read` scope. Figures cover only "
    "the incidents the principal may see."
)


class _ReportView(APIView):
    problem_statuses = {None: {400}}  # a bad filter (semarang112.api.schema.AutoSchema)

    def figures(self, user, filters) -> dict:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def get(self, request):
        require(request.user, REPORT_READ)
        filters = parse_report_filters(request.query_params)
        with selectors.report_session():
            data = {"filters": filters.as_dict(), **self.figures(request.user, filters)}
        return Response(self.serializer_class(data).data)


def _schema(summary: str, description: str, serializer):
    return extend_schema(
        tags=["reports"],
        summary=summary,
        description=f"{description}\n\n{PERMISSION}",
        parameters=FILTER_PARAMETERS,
        responses={200: serializer},
    )


class SummaryReportView(_ReportView):
    serializer_class = s.SummaryReportSerializer

    @_schema(
        "Every figure of a report",
        "All figures for the filters — the monthly report is `?period=month&date=YYYY-MM`. About twenty "
        "database queries whatever the volume.",
        s.SummaryReportSerializer,
    )
    def get(self, request):
        return super().get(request)

    def figures(self, user, filters) -> dict:
        report = selectors.full_report(user, filters)
        return {
            "title": report.title,
            "generated_at": report.generated_at,
            "incidents": report.incidents,
            "calls": report.calls,
            "answering": report.answering,
            "response": report.response,
            "sla": report.sla,
            "slowest_open": report.slowest_open,
            "patterns": report.patterns,
            "comparison": report.comparison,
        }


class CallsReportView(_ReportView):
    serializer_class = s.CallsReportSerializer

    @_schema(
        "Calls: outcomes and answering",
        "Calls by outcome with the prank share; answering within 10/15/20 s and answer-to-dispatch within "
        "60 s (NENA-STA-020.1-2020, NFPA 1225) overall, per local hour and per operator shift. Calls follow "
        "the period, region and channel filters only.",
        s.CallsReportSerializer,
    )
    def get(self, request):
        return super().get(request)

    def figures(self, user, filters) -> dict:
        return {
            "outcomes": selectors.call_outcomes(user, filters),
            "answering": selectors.call_answering(user, filters),
        }


class IncidentsReportView(_ReportView):
    serializer_class = s.IncidentsReportSerializer

    @_schema(
        "Incidents by status, category, priority, district and channel",
        "Incidents received in the period.",
        s.IncidentsReportSerializer,
    )
    def get(self, request):
        return super().get(request)

    def figures(self, user, filters) -> dict:
        return {"incidents": selectors.incident_breakdown(user, filters)}


class ResponseTimesReportView(_ReportView):
    serializer_class = s.ResponseTimesReportSerializer

    @_schema(
        "Response, dispatch and acknowledge times",
        "Count, median, p90, p95 and the share within target, overall, per agency (ranked above the "
        "minimum number of cases) and per district.",
        s.ResponseTimesReportSerializer,
    )
    def get(self, request):
        return super().get(request)

    def figures(self, user, filters) -> dict:
        return {"response": selectors.response_times(user, filters)}


class SlaReportView(_ReportView):
    serializer_class = s.SlaReportSerializer

    @_schema(
        "SLA warnings and breaches; the slowest open incidents",
        "Recorded warnings and breaches of the period's incidents per agency and category, and the open "
        "incidents that have waited longest for a unit on scene (now).",
        s.SlaReportSerializer,
    )
    def get(self, request):
        return super().get(request)

    def figures(self, user, filters) -> dict:
        return {
            "sla": selectors.sla_summary(user, filters),
            "slowest_open": selectors.slowest_open_incidents(user, filters),
        }


class PatternsReportView(_ReportView):
    serializer_class = s.PatternsReportSerializer

    @_schema(
        "Time patterns",
        "Incidents by local weekday × hour, and incidents and calls per local day with Ramadan / Lebaran marked.",
        s.PatternsReportSerializer,
    )
    def get(self, request):
        return super().get(request)

    def figures(self, user, filters) -> dict:
        return {"patterns": selectors.time_patterns(user, filters)}


class ComparisonReportView(_ReportView):
    serializer_class = s.ComparisonReportSerializer

    @_schema(
        "Comparison with the previous period and the year before",
        "Headline figures of the period, the period before and the same period a year earlier.",
        s.ComparisonReportSerializer,
    )
    def get(self, request):
        return super().get(request)

    def figures(self, user, filters) -> dict:
        return {"comparison": selectors.comparison(user, filters)}
