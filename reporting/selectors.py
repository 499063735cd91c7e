"""Report figures: the one module the pages, the API and the exports read.

Every figure covers only what the reader may see and is aggregated in SQL with a fixed number of
queries whatever the volume. Percentiles use PostgreSQL's ``percentile_cont``
(``reporting.db.Percentiles``; an identical aggregate is registered on SQLite).

Figures are written once against a *source*: ``RawSource`` reads the operational tables through
the permission selectors themselves (``incident_list_for_user`` / ``call_list_for_user``);
``RollupSource`` and ``AgencyRollupSource`` read the reporting tables of ``reporting.rollups``
(narrow facts computed with the same expressions), restating the selectors' visibility rule on
them so the database can use their indexes. ``tests/reporting/test_rollups.py`` proves, for every
kind of principal, that they select the same incidents and give the same figures as raw.

Definitions (stated here because the numbers are defended in reviews):

* A report covers incidents **received** in the period and calls **started** in it, in local
  time (Asia/Jakarta). Call figures follow the period, region and channel filters only: a call
  has no district, category or agency until it becomes an incident.
* Call answering: the share of *answered* calls answered within 10 s (NFPA 1225, 2022: 90%),
  15 s (NENA-STA-020.1-2020: 90%) and 20 s (NENA: 95%); unanswered (abandoned) calls are counted
  separately. Without a channel filter only 112 phone calls count — the standards are about voice
  calls. Call processing: from answering the emergency call to the first dispatch of its incident,
  within 60 s (NFPA 1225: 90%). Hour of day and shift are those of the call's start.
* Response time: received → first unit on scene; dispatch time: received → first dispatch;
  acknowledge time: first dispatch → first acknowledgement. For an agency the same intervals are
  measured on its own assignments (received → its unit on scene, received → it was asked,
  asked → it acknowledged). Counts, percentiles and shares cover the cases where the interval was
  completed; "within the category's target" compares with the deadline stored on the incident
  (or assignment) when its clock started.
* Ranking: agencies with at least ``REPORT_MIN_CASES_FOR_RANKING`` measured response times are
  ranked by the share within the response target, then by median; the rest are listed unranked.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, ExtractHour, TruncDate
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from dispatch.access import access_for
from dispatch.models import Agency, Assignment, IncidentShare
from incidents.models import Call, Category, Channel, District, Incident, Priority, Region, SlaEvent
from incidents.selectors import call_list_for_user, incident_list_for_user

from .db import AnyOf, Percentiles, Seconds
from .filters import ReportFilters, report_timezone
from .models import (
    AssignmentFact,
    CalendarMarker,
    CallDailyStat,
    CallFact,
    IncidentFact,
    RollupState,
    sla_count_field,
)

FRACTIONS = (0.5, 0.9, 0.95)
WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)  # ISO: Monday = 1


@dataclass(frozen=True)
class Standard:
    key: str
    seconds: int
    goal: float
    source: str


ANSWER_STANDARDS = (
    Standard("answer_10s", 10, 0.90, "NFPA 1225 (2022)"),
    Standard("answer_15s", 15, 0.90, "NENA-STA-020.1-2020"),
    Standard("answer_20s", 20, 0.95, "NENA-STA-020.1-2020"),
)
PROCESSING_STANDARD = Standard("processing_60s", 60, 0.90, "NFPA 1225 (2022)")


def share(part: int | None, whole: int | None) -> float | None:
    """part / whole as a fraction rounded to 4 places; None when there is nothing to divide."""
    if not whole or part is None:
        return None
    return round(part / whole, 4)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# ------------------------------------------------------------------------------------------------
# Base querysets: permission selector + filters
# ------------------------------------------------------------------------------------------------
def _dimension_filters(queryset: QuerySet[Incident], filters: ReportFilters) -> QuerySet[Incident]:
    if filters.region is not None:
        queryset = queryset.filter(region_id=filters.region.pk)
    if filters.district is not None:
        queryset = queryset.filter(district_id=filters.district.pk)
    if filters.category_ids is not None:
        queryset = queryset.filter(category_id__in=filters.category_ids)
    if filters.channel:
        queryset = queryset.filter(channel=filters.channel)
    if filters.agency is not None:
        queryset = queryset.filter(
            Exists(Assignment.objects.filter(incident_id=OuterRef("pk"), agency_id=filters.agency.pk))
        )
    return queryset


def report_incidents(user, filters: ReportFilters) -> QuerySet[Incident]:
    """Incidents the user may see, received in the period and matching the filters.

    Annotated with ``pii_visible`` by the permission selector (the exports mask with it).
    """
    queryset = incident_list_for_user(user).filter(received_at__gte=filters.start, received_at__lt=filters.end)
    return _dimension_filters(queryset, filters)


def report_calls(user, filters: ReportFilters) -> QuerySet[Call]:
    """Calls the user may see, started in the period, in the filtered region and channel."""
    queryset = call_list_for_user(user).filter(started_at__gte=filters.start, started_at__lt=filters.end)
    return _call_dimensions(queryset, filters)


def call_filters_ignored(filters: ReportFilters) -> list[str]:
    """Filters that call figures cannot follow (shown next to them)."""
    return [name for name in ("district", "category", "agency") if getattr(filters, name) is not None]


# ------------------------------------------------------------------------------------------------
# Where figures are read from: the operational tables ("raw") or the reporting tables ("rollups")
#
# Both sources expose the same expressions under the same names, so every figure below is written
# once. The rollup tables hold values computed with these very expressions (``reporting.rollups``);
# their visibility restates the rule of ``incidents.selectors`` on columns the facts carry (region,
# the agency's and unit's assignments, live shares), checked against the selector by the tests.
# ------------------------------------------------------------------------------------------------
class RawSource:
    """The operational tables, through the permission selectors themselves."""

    name = "raw"
    incident_key = "pk"  # the incident id in the rows of ``incidents()``

    def __init__(self, tz):
        self.tz = tz
        self.response = Seconds(F("first_on_scene_at"), F("received_at"))
        self.dispatch = Seconds(F("first_dispatched_at"), F("received_at"))
        self.acknowledge = Seconds(F("first_acknowledged_at"), F("first_dispatched_at"))
        self.response_in_category = Q(first_on_scene_at__lte=F("response_due_at"))
        self.dispatch_in_category = Q(first_dispatched_at__lte=F("dispatch_due_at"))
        self.day = TruncDate("received_at", tzinfo=tz)
        self.hour = ExtractHour("received_at", tzinfo=tz)
        # Assignments: the agency's own intervals.
        self.a_cases = Count("incident_id", distinct=True)
        self.a_response = Seconds(F("on_scene_at"), F("incident__received_at"))
        self.a_dispatch = Seconds(F("requested_at"), F("incident__received_at"))
        self.a_acknowledge = Seconds(F("acknowledged_at"), F("requested_at"))
        self.a_response_in_category = Q(on_scene_at__lte=F("incident__response_due_at"))
        self.a_dispatch_in_category = Q(requested_at__lte=F("incident__dispatch_due_at"))
        self.a_acknowledge_in_category = Q(acknowledged_at__lte=F("acknowledge_due_at"))
        # Calls.
        self.c_answer = Seconds(F("answered_at"), F("started_at"))
        self.c_answered = Q(answered_at__isnull=False)
        self.c_processed = Q(
            outcome=Call.Outcome.EMERGENCY, answered_at__isnull=False, incident__first_dispatched_at__isnull=False
        )
        self.c_processing = Seconds(F("incident__first_dispatched_at"), F("answered_at"))
        self.c_day = TruncDate("started_at", tzinfo=tz)
        self.c_hour = ExtractHour("started_at", tzinfo=tz)

    def _bounds(self, start_date: date, end_date: date) -> tuple[datetime, datetime]:
        start = datetime.combine(start_date, datetime.min.time(), tzinfo=self.tz)
        return start, datetime.combine(end_date + timedelta(days=1), datetime.min.time(), tzinfo=self.tz)

    def in_period(self, start_date: date, end_date: date) -> Q:
        start, end = self._bounds(start_date, end_date)
        return Q(received_at__gte=start, received_at__lt=end)

    def call_in_period(self, start_date: date, end_date: date) -> Q:
        start, end = self._bounds(start_date, end_date)
        return Q(started_at__gte=start, started_at__lt=end)

    def incidents(self, user, filters: ReportFilters, periods: list[tuple[date, date]]) -> QuerySet:
        """Visible incidents received in any of the periods and matching every other filter."""
        return _dimension_filters(incident_list_for_user(user), filters).filter(_any(self.in_period, periods))

    def calls(self, user, filters: ReportFilters, periods: list[tuple[date, date]]) -> QuerySet:
        return _call_dimensions(call_list_for_user(user), filters).filter(_any(self.call_in_period, periods))

    def call_counts(self, user, filters: ReportFilters, periods: list[tuple[date, date]]) -> QuerySet:
        """What call counts are summed over: the calls themselves here."""
        return self.calls(user, filters, periods)

    def call_total(self, condition: Q | None = None):
        return Count("pk", filter=condition)

    def call_count_aggregates(self) -> dict:
        """Calls, answered, answered within 10/15/20 s, processed and processed within 60 s."""
        answer, processing = self.c_answer, self.c_processing
        return {
            "calls": Count("pk"),
            "answered": Count("pk", filter=self.c_answered),
            **{f"answer_{s}s": Count("pk", filter=LessThanOrEqual(answer, Value(float(s)))) for s in (10, 15, 20)},
            "processed": Count("pk", filter=self.c_processed),
            "processing_60s": Count("pk", filter=self.c_processed & Q(LessThanOrEqual(processing, Value(60.0)))),
        }

    def assignments(self, user, filters: ReportFilters, incidents: QuerySet) -> QuerySet:
        """Assignments of the given (visible, filtered) incidents; only the agency's own with an agency filter."""
        assignments = Assignment.objects.filter(incident_id__in=incidents.values("pk"))
        if filters.agency is not None:
            assignments = assignments.filter(agency_id=filters.agency.pk)
        return assignments

    def sla_by_category(self, user, filters: ReportFilters, incidents: QuerySet) -> SlaCounts:
        """(category id, target, level, events) of the SLA events recorded on the incidents (1 query)."""
        events = SlaEvent.objects.filter(incident_id__in=incidents.values(self.incident_key))
        rows = events.values("incident__category_id", "target", "level").annotate(n=Count("pk")).order_by()
        return list(rows.values_list("incident__category_id", "target", "level", "n"))

    def sla_by_agency(self, user, filters: ReportFilters, incidents: QuerySet) -> SlaCounts:
        """(agency id, target, level, events) the agencies answer for (2 queries; see ``sla_summary``)."""
        events = SlaEvent.objects.filter(incident_id__in=incidents.values(self.incident_key))
        own = (
            events.filter(target="acknowledge")
            .values("assignment__agency_id", "target", "level")
            .annotate(n=Count("pk"))
            .order_by()
            .values_list("assignment__agency_id", "target", "level", "n")
        )
        shared = (
            events.filter(
                target__in=("response", "resolve"),
                incident__assignments__status__in=[
                    s for s in Assignment.Status.values if s != Assignment.Status.DECLINED
                ],
            )
            .values(agency_id=F("incident__assignments__agency_id"))
            .annotate(n=Count("pk", distinct=True))
            .order_by()
            .values_list("agency_id", "target", "level", "n")
        )
        return [*own, *shared]


class RollupSource(RawSource):
    """The reporting tables (``IncidentFact``, ``AssignmentFact``, ``CallFact``).

    Visibility is the rule of ``incidents.selectors`` (command center regions, the agency's or
    unit's assignments, live shares) restated on the facts so the database can use their indexes;
    ``tests/reporting/test_rollups.py`` checks it selects exactly what ``incident_list_for_user``
    selects, for every kind of principal.
    """

    name = "rollups"

    def __init__(self, tz):
        super().__init__(tz)
        self._ids: dict[tuple, list[int]] = {}
        self.response, self.dispatch, self.acknowledge = F("response_s"), F("dispatch_s"), F("acknowledge_s")
        self.response_in_category = Q(response_in_category=True)
        self.dispatch_in_category = Q(dispatch_in_category=True)
        self.day, self.hour = F("day"), F("hour")
        self.a_cases = Count("pk", filter=Q(first_of_agency=True))
        self.a_response, self.a_dispatch, self.a_acknowledge = F("response_s"), F("dispatch_s"), F("acknowledge_s")
        self.a_response_in_category = Q(response_in_category=True)
        self.a_dispatch_in_category = Q(dispatch_in_category=True)
        self.a_acknowledge_in_category = Q(acknowledge_in_category=True)
        self.c_answer = F("answer_s")
        self.c_answered = Q(answer_s__isnull=False)
        self.c_processed = Q(processing_s__isnull=False)
        self.c_processing = F("processing_s")
        self.c_day, self.c_hour = F("day"), F("hour")

    def in_period(self, start_date: date, end_date: date) -> Q:
        return Q(day__gte=start_date, day__lte=end_date)

    call_in_period = in_period

    def _dimensions(self, queryset: QuerySet, filters: ReportFilters, days: Q, *, on_incident: bool) -> QuerySet:
        if filters.region is not None:
            queryset = queryset.filter(region_id=filters.region.pk)
        if filters.district is not None:
            queryset = queryset.filter(district_id=filters.district.pk)
        if filters.category_ids is not None:
            queryset = queryset.filter(category_id__in=filters.category_ids)
        if filters.channel:
            queryset = queryset.filter(channel=filters.channel)
        if filters.agency is not None:
            if on_incident:
                assigned = AssignmentFact.objects.filter(days, agency_id=filters.agency.pk).values("incident_id")
                queryset = queryset.filter(**{f"{self.incident_key}__in": assigned})
            else:
                queryset = queryset.filter(agency_id=filters.agency.pk)
        return queryset

    @staticmethod
    def _region_only(access) -> bool:
        return access.sees_everything or not (access.agency_ids or access.unit_ids)

    def _visibility(self, user) -> Q | None:
        """For principals whose visibility is by region only: everything, their regions, or nothing."""
        access = access_for(user)
        if access.sees_everything:
            return Q()
        if access.is_command_center:
            return Q(region_id__in=access.cc_region_ids)
        return None

    def _visible_ids(self, user, periods: list[tuple[date, date]]) -> list[int]:
        """An agency principal's visible incidents of the periods, read once per report from the
        agency's own assignment facts (and its live shares); its figures then look these up by id
        instead of testing every incident of the city in each query."""
        key = (id(user), tuple(periods))
        if key in self._ids:
            return self._ids[key]
        access = access_for(user)
        days = _any(self.in_period, periods)
        ids: set[int] = set()
        if access.is_command_center:
            ids.update(
                IncidentFact.objects.filter(days, region_id__in=access.cc_region_ids).values_list("pk", flat=True)
            )
        assigned = Q()
        if access.agency_ids:
            assigned |= Q(agency_id__in=access.agency_ids)
        if access.unit_ids:
            assigned |= Q(unit_id__in=access.unit_ids)
        if assigned:
            ids.update(AssignmentFact.objects.filter(assigned, days).values_list("incident_id", flat=True))
        if access.agency_ids:
            shared = IncidentShare.objects.active(timezone.now()).filter(agency_id__in=access.agency_ids)
            ids.update(
                IncidentFact.objects.filter(days, pk__in=shared.values("incident_id")).values_list("pk", flat=True)
            )
        self._ids[key] = sorted(ids)
        return self._ids[key]

    def incidents(self, user, filters: ReportFilters, periods: list[tuple[date, date]]) -> QuerySet:
        days = _any(self.in_period, periods)
        if self._region_only(access_for(user)):
            visible = self._visibility(user)
            if visible is None:
                return IncidentFact.objects.none()
            facts = IncidentFact.objects.filter(days).filter(visible)
        else:
            facts = IncidentFact.objects.filter(days).filter(AnyOf(F("pk"), self._visible_ids(user, periods)))
        return self._dimensions(facts, filters, days, on_incident=True)

    def calls(self, user, filters: ReportFilters, periods: list[tuple[date, date]], model=CallFact) -> QuerySet:
        # The rule of incidents.selectors.call_list_for_user, on the call facts.
        access = access_for(user)
        if access.is_superuser or access.reads_everything or access.cc_all_regions:
            calls = model.objects.all()
        elif access.is_command_center:
            calls = model.objects.filter(region_id__in=access.cc_region_ids)
        else:
            return model.objects.none()
        return _call_dimensions(calls, filters).filter(_any(self.call_in_period, periods))

    def call_counts(self, user, filters: ReportFilters, periods: list[tuple[date, date]]) -> QuerySet:
        return self.calls(user, filters, periods, model=CallDailyStat)

    def call_total(self, condition: Q | None = None):
        return Coalesce(Sum("calls", filter=condition), 0)

    def call_count_aggregates(self) -> dict:
        names = ("calls", "answered", "answer_10s", "answer_15s", "answer_20s", "processed", "processing_60s")
        return {name: Coalesce(Sum(name), 0) for name in names}

    def assignments(self, user, filters: ReportFilters, incidents: QuerySet) -> QuerySet:
        days = self.in_period(filters.start_date, filters.end_date)
        access = access_for(user)
        if self._region_only(access):
            # Visibility is by region: the assignment facts carry it, no need to go through incidents.
            assignments = AssignmentFact.objects.filter(days)
            if not access.sees_everything:
                assignments = assignments.filter(region_id__in=access.cc_region_ids)
        else:
            ids = self._visible_ids(user, [(filters.start_date, filters.end_date)])
            assignments = AssignmentFact.objects.filter(days).filter(AnyOf(F("incident_id"), ids))
        return self._dimensions(assignments, filters, days, on_incident=False)

    def sla_incident_facts(self, filters: ReportFilters, incidents: QuerySet) -> QuerySet[IncidentFact]:
        return incidents

    def sla_by_category(self, user, filters: ReportFilters, incidents: QuerySet) -> SlaCounts:
        """The SLA counts the incident facts carry, summed per category (1 query).

        Only rows with SLA events are read (``sla_events > 0``, a partial index): most have none.
        """
        facts = self.sla_incident_facts(filters, incidents).filter(sla_events__gt=0)
        rows = facts.values("category_id").annotate(**_sla_sums(SLA_TARGETS)).order_by()
        return _sla_counts(rows, "category_id", SLA_TARGETS)

    def sla_by_agency(self, user, filters: ReportFilters, incidents: QuerySet) -> SlaCounts:
        """The SLA counts the assignment facts carry (each agency's share), summed per agency (1 query)."""
        assignments = self.assignments(user, filters, incidents).filter(sla_events__gt=0)
        rows = assignments.values("agency_id").annotate(**_sla_sums(SLA_AGENCY_TARGETS)).order_by()
        return _sla_counts(rows, "agency_id", SLA_AGENCY_TARGETS)


class AgencyRollupSource(RollupSource):
    """One agency's own report: its rows of ``AssignmentFact`` (one per incident it was dispatched
    to, ``first_of_agency``) carry the incident's figures, so the report reads the agency's rows
    through the (agency, day) index instead of the whole city's month.

    Used for a principal of exactly one agency (no unit, not the command center) without live
    shares — then its visible incidents are exactly the incidents its agency was dispatched to.
    """

    incident_key = "incident_id"

    def __init__(self, tz, agency_id: int):
        super().__init__(tz)
        self.agency_id = agency_id
        self.response = F("incident_response_s")
        self.dispatch = F("incident_dispatch_s")
        self.acknowledge = F("incident_acknowledge_s")
        self.response_in_category = Q(incident_response_in_category=True)
        self.dispatch_in_category = Q(incident_dispatch_in_category=True)

    def incidents(self, user, filters: ReportFilters, periods: list[tuple[date, date]]) -> QuerySet:
        days = _any(self.in_period, periods)
        if len(periods) > 1:
            # Several periods (the comparison) as a list of days, not ranges joined by OR: the
            # (agency, day) index takes a list as its condition and answers alone (index-only);
            # ranges under an OR it can only filter, or hand to bitmap scans that read the table.
            days = Q(day__in=sorted({day for start, end in periods for day in _days(start, end)}))
        rows = AssignmentFact.objects.filter(days, agency_id=self.agency_id, first_of_agency=True)
        return self._dimensions(rows, filters, days, on_incident=True)

    def assignments(self, user, filters: ReportFilters, incidents: QuerySet) -> QuerySet:
        # Every agency's assignments on the agency's incidents, looked up by incident id.
        days = self.in_period(filters.start_date, filters.end_date)
        assignments = AssignmentFact.objects.filter(days).filter(AnyOf(F("incident_id"), self._incident_ids(incidents)))
        return self._dimensions(assignments, filters, days, on_incident=False)

    def sla_incident_facts(self, filters: ReportFilters, incidents: QuerySet) -> QuerySet[IncidentFact]:
        # An incident's counts include other agencies' acknowledge events: they are on its own fact.
        days = self.in_period(filters.start_date, filters.end_date)
        return IncidentFact.objects.filter(days).filter(AnyOf(F("pk"), self._incident_ids(incidents)))

    def _incident_ids(self, incidents: QuerySet) -> list[int]:
        """The ids of the agency's incidents ``incidents`` selects, read once per report (the
        response times and the SLA figures both look the assignments up by them)."""
        key = ("incidents", str(incidents.query))
        if key not in self._ids:
            self._ids[key] = list(incidents.values_list("incident_id", flat=True))
        return self._ids[key]


def _days(start_date: date, end_date: date) -> list[date]:
    return [start_date + timedelta(days=n) for n in range((end_date - start_date).days + 1)]


def _any(period_q, periods: list[tuple[date, date]]) -> Q:
    combined = Q()
    for start_date, end_date in periods:
        combined |= period_q(start_date, end_date)
    return combined


def report_source(tz=None, user=None) -> RawSource:
    """The reporting tables once they have been built (and ``REPORT_USE_ROLLUPS`` is on), else raw.

    With ``user``: an agency principal's own rows when that covers exactly what it may see.
    """
    tz = tz or report_timezone()
    if not (settings.REPORT_USE_ROLLUPS and RollupState.objects.filter(pk=1, rebuilt_at__isnull=False).exists()):
        return RawSource(tz)
    if user is not None:
        access = access_for(user)
        agencies = access.agency_ids
        if (
            len(agencies) == 1
            and not access.sees_everything
            and not access.is_command_center
            and not access.unit_ids
            and not IncidentShare.objects.active(timezone.now()).filter(agency_id__in=agencies).exists()
        ):
            return AgencyRollupSource(tz, next(iter(agencies)))
    return RollupSource(tz)


def _call_dimensions(queryset: QuerySet, filters: ReportFilters) -> QuerySet:
    if filters.region is not None:
        queryset = queryset.filter(region_id=filters.region.pk)
    if filters.channel:
        queryset = queryset.filter(channel=filters.channel)
    return queryset


def source_incidents(source: RawSource, user, filters: ReportFilters) -> QuerySet:
    return source.incidents(user, filters, [(filters.start_date, filters.end_date)])


# ------------------------------------------------------------------------------------------------
# Reference data: labels for ids (three small tables, read once per report)
# ------------------------------------------------------------------------------------------------
class Reference:
    @cached_property
    def categories(self) -> dict[int, Category]:
        return {c.pk: c for c in Category.objects.all()}

    @cached_property
    def districts(self) -> dict[int, District]:
        return {d.pk: d for d in District.objects.all()}

    @cached_property
    def agencies(self) -> dict[int, Agency]:
        return {a.pk: a for a in Agency.objects.all()}

    def category_root(self, pk: int) -> Category:
        node = self.categories[pk]
        seen = set()
        while node.parent_id is not None and node.parent_id in self.categories and node.pk not in seen:
            seen.add(node.pk)
            node = self.categories[node.parent_id]
        return node


# ------------------------------------------------------------------------------------------------
# Shapes
# ------------------------------------------------------------------------------------------------
@dataclass
class CountRow:
    key: str
    label: str
    count: int
    share: float | None = None
    parent: str | None = None


@dataclass
class IntervalStats:
    """One interval (response, dispatch or acknowledge) over a set of cases; times in seconds."""

    count: int = 0
    median: float | None = None
    p90: float | None = None
    p95: float | None = None
    within_target: int | None = None  # the city's RESPONSE_TARGET_MINUTES (response only)
    within_target_share: float | None = None
    within_category_target: int = 0
    within_category_target_share: float | None = None


@dataclass
class PerformanceRow:
    key: str
    label: str
    cases: int
    response: IntervalStats
    dispatch: IntervalStats
    acknowledge: IntervalStats
    ranked: bool = False
    rank: int | None = None


@dataclass
class ResponseTimes:
    target_minutes: int
    min_cases_for_ranking: int
    overall: PerformanceRow
    by_agency: list[PerformanceRow]
    by_district: list[PerformanceRow]


def _interval_aggregates(prefix: str, seconds, *, within_category, target_seconds: int | None = None) -> dict:
    aggregates = {
        f"{prefix}_n": Count(seconds),
        f"{prefix}_pct": Percentiles(seconds, FRACTIONS),
        f"{prefix}_in_cat": Count("pk", filter=within_category),
    }
    if target_seconds is not None:
        aggregates[f"{prefix}_in_target"] = Count("pk", filter=LessThanOrEqual(seconds, Value(float(target_seconds))))
    return aggregates


def _interval_stats(row: dict, prefix: str) -> IntervalStats:
    n = row.get(f"{prefix}_n") or 0
    pct = row.get(f"{prefix}_pct") or [None] * len(FRACTIONS)
    in_target = row.get(f"{prefix}_in_target")
    in_cat = row.get(f"{prefix}_in_cat") or 0
    return IntervalStats(
        count=n,
        median=_seconds(pct[0]),
        p90=_seconds(pct[1]),
        p95=_seconds(pct[2]),
        within_target=in_target if f"{prefix}_in_target" in row else None,
        within_target_share=share(in_target, n) if f"{prefix}_in_target" in row else None,
        within_category_target=in_cat,
        within_category_target_share=share(in_cat, n),
    )


def _incident_interval_aggregates(source: RawSource, target_seconds: int) -> dict:
    return {
        "cases": Count("pk"),
        **_interval_aggregates(
            "response", source.response, within_category=source.response_in_category, target_seconds=target_seconds
        ),
        **_interval_aggregates("dispatch", source.dispatch, within_category=source.dispatch_in_category),
        **_interval_aggregates(
            "acknowledge",
            source.acknowledge,
            # The category's current acknowledge target (an incident has no stored deadline for it).
            within_category=LessThanOrEqual(source.acknowledge, F("category__sla_acknowledge_minutes") * 60.0),
        ),
    }


def _assignment_interval_aggregates(source: RawSource, target_seconds: int) -> dict:
    return {
        "cases": source.a_cases,
        **_interval_aggregates(
            "response", source.a_response, within_category=source.a_response_in_category, target_seconds=target_seconds
        ),
        **_interval_aggregates("dispatch", source.a_dispatch, within_category=source.a_dispatch_in_category),
        **_interval_aggregates("acknowledge", source.a_acknowledge, within_category=source.a_acknowledge_in_category),
    }


def _performance_row(key: str, label: str, row: dict) -> PerformanceRow:
    return PerformanceRow(
        key=key,
        label=label,
        cases=row.get("cases") or 0,
        response=_interval_stats(row, "response"),
        dispatch=_interval_stats(row, "dispatch"),
        acknowledge=_interval_stats(row, "acknowledge"),
    )


def rank_rows(rows: list[PerformanceRow], min_cases: int) -> list[PerformanceRow]:
    """Rank rows with at least ``min_cases`` measured response times; list the rest after them.

    Order: share within the response target (higher first), then median response (lower first),
    then label. Rows below the minimum keep ``rank=None`` so a single fast case never tops the list.
    """
    eligible = [row for row in rows if row.response.count >= min_cases and row.response.count > 0]
    others = [row for row in rows if row not in eligible]
    eligible.sort(
        key=lambda r: (
            -(r.response.within_target_share or 0.0),
            r.response.median if r.response.median is not None else float("inf"),
            r.label,
        )
    )
    for position, row in enumerate(eligible, start=1):
        row.ranked, row.rank = True, position
    others.sort(key=lambda r: r.label)
    return eligible + others


def response_times(
    user, filters: ReportFilters, *, ref: Reference | None = None, source: RawSource | None = None
) -> ResponseTimes:
    """Response, dispatch and acknowledge times overall, per agency and per district (3 queries)."""
    ref = ref or Reference()
    source = source or report_source(filters.tz, user)
    target_seconds = settings.RESPONSE_TARGET_MINUTES * 60
    min_cases = settings.REPORT_MIN_CASES_FOR_RANKING
    incidents = source_incidents(source, user, filters)

    overall_row = incidents.aggregate(**_incident_interval_aggregates(source, target_seconds))
    overall = _performance_row("all", _("All incidents"), overall_row)

    district_rows = []
    for row in (
        incidents.values("district_id").annotate(**_incident_interval_aggregates(source, target_seconds)).order_by()
    ):
        district = ref.districts.get(row["district_id"])
        district_rows.append(
            _performance_row(
                district.code if district else "",
                district.name if district else _("No district recorded"),
                row,
            )
        )
    district_rows.sort(key=lambda r: (-r.cases, r.label))

    assignments = source.assignments(user, filters, incidents)
    agency_rows = []
    for row in (
        assignments.values("agency_id").annotate(**_assignment_interval_aggregates(source, target_seconds)).order_by()
    ):
        agency = ref.agencies[row["agency_id"]]
        agency_rows.append(_performance_row(agency.code, agency.name, row))
    return ResponseTimes(
        target_minutes=settings.RESPONSE_TARGET_MINUTES,
        min_cases_for_ranking=min_cases,
        overall=overall,
        by_agency=rank_rows(agency_rows, min_cases),
        by_district=district_rows,
    )


# ------------------------------------------------------------------------------------------------
# Calls: outcomes and answering
# ------------------------------------------------------------------------------------------------
@dataclass
class CallOutcomes:
    total: int
    decided: int  # calls with an outcome (not still in progress)
    by_outcome: list[CountRow]
    prank: int
    prank_share: float | None  # prank / decided
    prank_or_silent_share: float | None  # (prank + silent) / decided
    filters_ignored: list[str] = field(default_factory=list)


def call_outcomes(user, filters: ReportFilters, *, source: RawSource | None = None) -> CallOutcomes:
    """Calls by outcome and the prank share (1 query)."""
    source = source or report_source(filters.tz, user)
    periods = [(filters.start_date, filters.end_date)]
    counts = {
        row["outcome"]: row["n"]
        for row in source.call_counts(user, filters, periods)
        .values("outcome")
        .annotate(n=source.call_total())
        .order_by()
    }
    total = sum(counts.values())
    decided = total - counts.get(Call.Outcome.PENDING, 0)
    rows = [
        CountRow(key=value, label=str(label), count=counts.get(value, 0), share=share(counts.get(value, 0), total))
        for value, label in Call.Outcome.choices
    ]
    prank = counts.get(Call.Outcome.PRANK, 0)
    return CallOutcomes(
        total=total,
        decided=decided,
        by_outcome=rows,
        prank=prank,
        prank_share=share(prank, decided),
        prank_or_silent_share=share(prank + counts.get(Call.Outcome.SILENT, 0), decided),
        filters_ignored=call_filters_ignored(filters),
    )


@dataclass
class AnsweringRow:
    key: str
    label: str
    calls: int = 0
    answered: int = 0
    unanswered: int = 0
    answer_10s: int = 0
    answer_15s: int = 0
    answer_20s: int = 0
    answer_10s_share: float | None = None
    answer_15s_share: float | None = None
    answer_20s_share: float | None = None
    processed: int = 0  # answered emergency calls whose incident was dispatched
    processing_60s: int = 0
    processing_60s_share: float | None = None

    def add(self, other: AnsweringRow) -> None:
        for name in (
            "calls",
            "answered",
            "unanswered",
            "answer_10s",
            "answer_15s",
            "answer_20s",
            "processed",
            "processing_60s",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def finish(self) -> AnsweringRow:
        for standard in ANSWER_STANDARDS:
            setattr(self, f"{standard.key}_share", share(getattr(self, standard.key), self.answered))
        self.processing_60s_share = share(self.processing_60s, self.processed)
        return self

    def meets(self) -> dict[str, bool | None]:
        result = {
            s.key: None if getattr(self, f"{s.key}_share") is None else getattr(self, f"{s.key}_share") >= s.goal
            for s in ANSWER_STANDARDS
        }
        result[PROCESSING_STANDARD.key] = (
            None if self.processing_60s_share is None else self.processing_60s_share >= PROCESSING_STANDARD.goal
        )
        return result


@dataclass
class CallAnswering:
    overall: AnsweringRow
    answer_median: float | None
    answer_p90: float | None
    processing_median: float | None
    processing_p90: float | None
    by_hour: list[AnsweringRow]
    by_shift: list[AnsweringRow]
    standards: list[Standard]
    voice_only: bool
    filters_ignored: list[str] = field(default_factory=list)


def shift_of_hour(hour: int, starts: list[int] | None = None) -> int:
    """Index into ``REPORT_SHIFT_STARTS`` of the shift a local hour falls in (shifts wrap midnight)."""
    starts = starts or settings.REPORT_SHIFT_STARTS
    index = len(starts) - 1  # before the first start of the day: still the last shift of yesterday
    for position, start in enumerate(starts):
        if hour >= start:
            index = position
    return index


def shift_labels(starts: list[int] | None = None) -> list[str]:
    starts = starts or settings.REPORT_SHIFT_STARTS
    return [
        _("Shift %(n)s (%(start)02d:00–%(end)02d:00)")
        % {"n": i + 1, "start": start, "end": starts[(i + 1) % len(starts)]}
        for i, start in enumerate(starts)
    ]


def call_answering(user, filters: ReportFilters, *, source: RawSource | None = None) -> CallAnswering:
    """Answering and call processing against NENA / NFPA, per hour of day and shift (2 queries)."""
    source = source or report_source(filters.tz, user)
    periods = [(filters.start_date, filters.end_date)]
    calls, counts = source.calls(user, filters, periods), source.call_counts(user, filters, periods)
    if not filters.channel:
        calls, counts = calls.filter(channel=Channel.PHONE_112), counts.filter(channel=Channel.PHONE_112)
    answer, processing, is_processed = source.c_answer, source.c_processing, source.c_processed
    per_hour = (
        counts.annotate(f_hour=source.c_hour).values("f_hour").annotate(**source.call_count_aggregates()).order_by()
    )
    hours = {h: AnsweringRow(key=str(h), label=f"{h:02d}:00") for h in range(24)}
    for row in per_hour:
        target = hours[row["f_hour"]]
        for name in ("calls", "answered", "answer_10s", "answer_15s", "answer_20s", "processed", "processing_60s"):
            setattr(target, name, row[name])
        target.unanswered = target.calls - target.answered
    overall = AnsweringRow(key="all", label=_("All calls"))
    labels = shift_labels()
    shifts = [AnsweringRow(key=str(i + 1), label=label) for i, label in enumerate(labels)]
    for hour, row in hours.items():
        overall.add(row)
        shifts[shift_of_hour(hour)].add(row)
        row.finish()
    for row in shifts:
        row.finish()
    overall.finish()
    times = calls.aggregate(
        answer=Percentiles(answer, (0.5, 0.9)),
        processing=Percentiles(processing, (0.5, 0.9), filter=is_processed),
    )
    answer_pct = times["answer"] or [None, None]
    processing_pct = times["processing"] or [None, None]
    return CallAnswering(
        overall=overall,
        answer_median=_seconds(answer_pct[0]),
        answer_p90=_seconds(answer_pct[1]),
        processing_median=_seconds(processing_pct[0]),
        processing_p90=_seconds(processing_pct[1]),
        by_hour=list(hours.values()),
        by_shift=shifts,
        standards=[*ANSWER_STANDARDS, PROCESSING_STANDARD],
        voice_only=not filters.channel,
        filters_ignored=call_filters_ignored(filters),
    )


# ------------------------------------------------------------------------------------------------
# Incidents: volumes by status, category, priority, district, channel
# ------------------------------------------------------------------------------------------------
@dataclass
class IncidentBreakdown:
    total: int
    resolved: int  # reached resolved or closed: "handled"
    by_status: list[CountRow]
    by_category: list[CountRow]  # every category with incidents, ``parent`` = its top-level code
    by_top_category: list[CountRow]  # subcategories rolled up into their top-level category
    by_priority: list[CountRow]
    by_district: list[CountRow]
    by_channel: list[CountRow]


def incident_breakdown(
    user, filters: ReportFilters, *, ref: Reference | None = None, source: RawSource | None = None
) -> IncidentBreakdown:
    """Incident counts by status, category, priority, district and channel (1 query + labels)."""
    ref = ref or Reference()
    source = source or report_source(filters.tz, user)
    incidents = source_incidents(source, user, filters)
    status_counts: dict[str, int] = {}
    priority_counts: dict[int, int] = {}
    channel_counts: dict[str, int] = {}
    category_counts: dict[int, int] = {}
    district_counts: dict[int | None, int] = {}
    # One pass over the period's incidents; the five breakdowns are sums over its cells.
    cells = incidents.values("status", "priority", "channel", "category_id", "district_id").annotate(n=Count("pk"))
    for status, priority, channel, category, district, n in cells.order_by().values_list(
        "status", "priority", "channel", "category_id", "district_id", "n"
    ):
        status_counts[status] = status_counts.get(status, 0) + n
        priority_counts[priority] = priority_counts.get(priority, 0) + n
        channel_counts[channel] = channel_counts.get(channel, 0) + n
        category_counts[category] = category_counts.get(category, 0) + n
        district_counts[district] = district_counts.get(district, 0) + n
    total = sum(status_counts.values())

    def rows(choices, counts) -> list[CountRow]:
        return [
            CountRow(
                key=str(value), label=str(label), count=counts.get(value, 0), share=share(counts.get(value, 0), total)
            )
            for value, label in choices
        ]

    by_category, top_counts = [], {}
    for pk, n in category_counts.items():
        category, root = ref.categories[pk], ref.category_root(pk)
        by_category.append(
            CountRow(key=category.code, label=category.display_name, count=n, share=share(n, total), parent=root.code)
        )
        top_counts[root.pk] = top_counts.get(root.pk, 0) + n
    by_category.sort(key=lambda r: (-r.count, r.label))
    by_top = [
        CountRow(key=ref.categories[pk].code, label=ref.categories[pk].display_name, count=n, share=share(n, total))
        for pk, n in top_counts.items()
    ]
    by_top.sort(key=lambda r: (-r.count, r.label))
    by_district = []
    for pk, n in district_counts.items():
        district = ref.districts.get(pk)
        by_district.append(
            CountRow(
                key=district.code if district else "",
                label=district.name if district else _("No district recorded"),
                count=n,
                share=share(n, total),
            )
        )
    by_district.sort(key=lambda r: (-r.count, r.label))
    return IncidentBreakdown(
        total=total,
        resolved=status_counts.get(Incident.Status.RESOLVED, 0) + status_counts.get(Incident.Status.CLOSED, 0),
        by_status=rows(Incident.Status.choices, status_counts),
        by_category=by_category,
        by_top_category=by_top,
        by_priority=rows(Priority.choices, priority_counts),
        by_district=by_district,
        by_channel=rows(Channel.choices, channel_counts),
    )


# ------------------------------------------------------------------------------------------------
# SLA: warnings and breaches, and the slowest open incidents now
# ------------------------------------------------------------------------------------------------
SLA_TARGETS = ("dispatch", "acknowledge", "response", "resolve")
SLA_AGENCY_TARGETS = ("acknowledge", "response", "resolve")  # dispatch is the command center's
SLA_LEVELS = ("warning", "breach")
SlaCounts = list[tuple[int, str, str, int]]  # (category or agency id, target, level, events)


def _sla_sums(targets: tuple[str, ...]) -> dict:
    return {
        sla_count_field(target, level): Coalesce(Sum(sla_count_field(target, level)), 0)
        for target in targets
        for level in SLA_LEVELS
    }


def _sla_counts(rows, key: str, targets: tuple[str, ...]) -> SlaCounts:
    # Like the raw figures, only what has events: a category or agency without any gets no row.
    return [
        (row[key], target, level, row[sla_count_field(target, level)])
        for row in rows
        for target in targets
        for level in SLA_LEVELS
        if row[sla_count_field(target, level)]
    ]


@dataclass
class SlaRow:
    key: str
    label: str
    warnings: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SLA_TARGETS, 0))
    breaches: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SLA_TARGETS, 0))

    @property
    def warning_total(self) -> int:
        return sum(self.warnings.values())

    @property
    def breach_total(self) -> int:
        return sum(self.breaches.values())

    def add(self, target: str, level: str, n: int) -> None:
        bucket = self.breaches if level == "breach" else self.warnings
        bucket[target] = bucket.get(target, 0) + n


@dataclass
class SlaSummary:
    available: bool
    totals: SlaRow
    by_agency: list[SlaRow]
    by_category: list[SlaRow]


def sla_summary(
    user, filters: ReportFilters, *, ref: Reference | None = None, source: RawSource | None = None
) -> SlaSummary:
    """Recorded SLA warnings and breaches of the period's incidents, per agency and category.

    Per agency: the acknowledge clock is the agency's own (its assignment); on-scene and resolve
    warnings and breaches count for every agency that was on the incident and did not decline;
    dispatch belongs to the command center and appears in the category table and the totals only.
    Raw: 3 queries over the SLA events; rollups: 2 over the SLA counts the facts carry.
    """
    ref = ref or Reference()
    source = source or report_source(filters.tz, user)
    incidents = source_incidents(source, user, filters)
    totals = SlaRow("all", _("All"))
    categories: dict[int, SlaRow] = {}
    for pk, target, level, n in source.sla_by_category(user, filters, incidents):
        category = ref.categories[pk]
        categories.setdefault(category.pk, SlaRow(category.code, category.display_name)).add(target, level, n)
        totals.add(target, level, n)
    agencies: dict[int, SlaRow] = {}
    for pk, target, level, n in source.sla_by_agency(user, filters, incidents):
        agency = ref.agencies[pk]
        agencies.setdefault(pk, SlaRow(agency.code, agency.name)).add(target, level, n)
    if filters.agency is not None:
        agencies = {pk: row for pk, row in agencies.items() if pk == filters.agency.pk}
    by_agency = sorted(agencies.values(), key=lambda r: (-r.breach_total, -r.warning_total, r.label))
    by_category = sorted(categories.values(), key=lambda r: (-r.breach_total, -r.warning_total, r.label))
    return SlaSummary(available=True, totals=totals, by_agency=by_agency, by_category=by_category)


OPEN_INCIDENT_FIELDS = (
    "reference",
    "status",
    "priority",
    "received_at",
    "response_due_at",
    "region_id",
    "category__code",
    "category__name_id",
    "category__name_en",
    "district__name",
)


@dataclass
class OpenIncidentRow:
    pk: int
    reference: str
    category: str
    district: str
    status: str
    status_label: str
    priority: int
    received_at: datetime
    waiting_seconds: float
    response_due_at: datetime | None
    overdue: bool


def slowest_open_incidents(
    user, filters: ReportFilters, *, limit: int = 10, now: datetime | None = None
) -> list[OpenIncidentRow]:
    """Open incidents still waiting for a unit on scene, longest waiting first (1 query).

    "Now" figures: the period filter does not apply; region, district, category, agency and
    channel do.
    """
    now = now or timezone.now()
    incidents = _dimension_filters(incident_list_for_user(user), filters).filter(
        status__in=(Incident.Status.RECEIVED, Incident.Status.VERIFIED, Incident.Status.DISPATCHED),
        first_on_scene_at__isnull=True,
    )
    rows = []
    for incident in (
        incidents.select_related("category", "district")
        .only(*OPEN_INCIDENT_FIELDS)
        .order_by("received_at", "pk")[:limit]
    ):
        rows.append(
            OpenIncidentRow(
                pk=incident.pk,
                reference=incident.reference,
                category=incident.category.display_name,
                district=incident.district.name if incident.district else "",
                status=incident.status,
                status_label=incident.get_status_display(),
                priority=incident.priority,
                received_at=incident.received_at,
                waiting_seconds=round((now - incident.received_at).total_seconds(), 3),
                response_due_at=incident.response_due_at,
                overdue=incident.response_due_at is not None and incident.response_due_at < now,
            )
        )
    return rows


# ------------------------------------------------------------------------------------------------
# Time patterns: hour × weekday heat map, daily counts with Ramadan / Lebaran
# ------------------------------------------------------------------------------------------------
@dataclass
class DayCount:
    day: date
    incidents: int
    calls: int
    markers: list[str] = field(default_factory=list)


@dataclass
class Marker:
    kind: str
    label: str
    start: date
    end: date
    is_estimate: bool


@dataclass
class TimePatterns:
    heatmap: list[list[int]]  # [weekday 0 = Monday][hour 0..23]
    heatmap_max: int
    weekday_labels: list[str]
    daily: list[DayCount]
    markers: list[Marker]


def _weekday_labels() -> list[str]:
    monday = date(2024, 1, 1)  # a Monday
    return [date_format(monday + timedelta(days=n), "l") for n in range(7)]


def calendar_markers(start: date, end: date) -> list[Marker]:
    """Ramadan, Lebaran and other marked periods overlapping [start, end] (1 query)."""
    return [
        Marker(kind=m.kind, label=m.display_name, start=m.starts_on, end=m.ends_on, is_estimate=m.is_estimate)
        for m in CalendarMarker.objects.filter(starts_on__lte=end, ends_on__gte=start).order_by("starts_on")
    ]


def time_patterns(user, filters: ReportFilters, *, source: RawSource | None = None) -> TimePatterns:
    """Incidents by weekday × hour (local), and incidents and calls per local day (3 queries)."""
    source = source or report_source(filters.tz, user)
    incidents = source_incidents(source, user, filters)
    heatmap = [[0] * 24 for _ in WEEKDAYS]
    per_day: dict[date, int] = {}
    # One pass per local day and hour: the weekday follows from the local day.
    cells = incidents.annotate(f_day=source.day, f_hour=source.hour).values("f_day", "f_hour").annotate(n=Count("pk"))
    for day, hour, n in cells.order_by().values_list("f_day", "f_hour", "n"):
        heatmap[day.isoweekday() - 1][hour] += n
        per_day[day] = per_day.get(day, 0) + n
    calls_per_day = dict(
        source.call_counts(user, filters, [(filters.start_date, filters.end_date)])
        .annotate(f_day=source.c_day)
        .values("f_day")
        .annotate(n=source.call_total())
        .order_by()
        .values_list("f_day", "n")
    )
    markers = calendar_markers(filters.start_date, filters.end_date)
    daily = [
        DayCount(
            day=day,
            incidents=per_day.get(day, 0),
            calls=calls_per_day.get(day, 0),
            markers=[m.kind for m in markers if m.start <= day <= m.end],
        )
        for day in filters.days
    ]
    return TimePatterns(
        heatmap=heatmap,
        heatmap_max=max((max(row) for row in heatmap), default=0),
        weekday_labels=_weekday_labels(),
        daily=daily,
        markers=markers,
    )


# ------------------------------------------------------------------------------------------------
# Comparison: previous period and the same period a year earlier
# ------------------------------------------------------------------------------------------------
@dataclass
class PeriodFigures:
    key: str
    label: str
    start_date: date
    end_date: date
    incidents: int
    resolved: int
    calls: int
    prank_share: float | None
    response_count: int
    response_median: float | None
    response_p90: float | None
    response_within_target_share: float | None


@dataclass
class Change:
    incidents: float | None  # relative change, e.g. 0.12 = +12%
    calls: float | None
    response_median: float | None
    response_within_target_share: float | None  # difference in share points (0.05 = +5 points)


@dataclass
class Comparison:
    current: PeriodFigures
    previous: PeriodFigures
    year_before: PeriodFigures
    change_previous: Change
    change_year_before: Change


def _relative(now: float | None, before: float | None) -> float | None:
    if now is None or not before:
        return None
    return round((now - before) / before, 4)


def _difference(now: float | None, before: float | None) -> float | None:
    if now is None or before is None:
        return None
    return round(now - before, 4)


def comparison(
    user, filters: ReportFilters, *, source: RawSource | None = None, current: PeriodFigures | None = None
) -> Comparison:
    """The period against the previous one and the same one a year earlier (2 queries).

    ``current``: the period's own figures when the caller already has them (the full report),
    so only the two other periods are read.
    """
    source = source or report_source(filters.tz, user)
    periods = [("previous", filters.previous()), ("year_before", filters.year_before())]
    if current is None:
        periods.insert(0, ("current", filters))
    target = float(settings.RESPONSE_TARGET_MINUTES * 60)
    response = source.response
    incident_aggregates, call_aggregates = {}, {}
    for key, period in periods:
        received = source.in_period(period.start_date, period.end_date)
        started = source.call_in_period(period.start_date, period.end_date)
        incident_aggregates |= {
            f"{key}_n": Count("pk", filter=received),
            f"{key}_resolved": Count(
                "pk", filter=received & Q(status__in=(Incident.Status.RESOLVED, Incident.Status.CLOSED))
            ),
            f"{key}_resp_n": Count(response, filter=received),
            f"{key}_resp_pct": Percentiles(response, (0.5, 0.9), filter=received),
            f"{key}_resp_in": Count("pk", filter=received & Q(LessThanOrEqual(response, Value(target)))),
        }
        call_aggregates |= {
            f"{key}_calls": source.call_total(started),
            f"{key}_decided": source.call_total(started & ~Q(outcome=Call.Outcome.PENDING)),
            f"{key}_prank": source.call_total(started & Q(outcome=Call.Outcome.PRANK)),
        }
    spans = [(period.start_date, period.end_date) for _key, period in periods]
    inc = source.incidents(user, filters, spans).aggregate(**incident_aggregates)
    cal = source.call_counts(user, filters, spans).aggregate(**call_aggregates)
    figures = {} if current is None else {"current": current}
    for key, period in periods:
        pct = inc[f"{key}_resp_pct"] or [None, None]
        figures[key] = PeriodFigures(
            key=key,
            label=period.label,
            start_date=period.start_date,
            end_date=period.end_date,
            incidents=inc[f"{key}_n"],
            resolved=inc[f"{key}_resolved"],
            calls=cal[f"{key}_calls"] or 0,
            prank_share=share(cal[f"{key}_prank"], cal[f"{key}_decided"]),
            response_count=inc[f"{key}_resp_n"],
            response_median=_seconds(pct[0]),
            response_p90=_seconds(pct[1]),
            response_within_target_share=share(inc[f"{key}_resp_in"], inc[f"{key}_resp_n"]),
        )

    def change(before: PeriodFigures) -> Change:
        now = figures["current"]
        return Change(
            incidents=_relative(now.incidents, before.incidents),
            calls=_relative(now.calls, before.calls),
            response_median=_relative(now.response_median, before.response_median),
            response_within_target_share=_difference(
                now.response_within_target_share, before.response_within_target_share
            ),
        )

    return Comparison(
        current=figures["current"],
        previous=figures["previous"],
        year_before=figures["year_before"],
        change_previous=change(figures["previous"]),
        change_year_before=change(figures["year_before"]),
    )


# ------------------------------------------------------------------------------------------------
# The monthly report: every figure for one period
# ------------------------------------------------------------------------------------------------
@dataclass
class Report:
    filters: ReportFilters
    title: str
    region_name: str
    generated_at: datetime
    incidents: IncidentBreakdown
    calls: CallOutcomes
    answering: CallAnswering
    response: ResponseTimes
    sla: SlaSummary
    slowest_open: list[OpenIncidentRow]
    patterns: TimePatterns
    comparison: Comparison
    source: str = "raw"  # "rollups" when read from the reporting tables


@contextmanager
def report_session():
    """One transaction for a report's queries; on PostgreSQL with ``REPORT_DB_WORK_MEM`` for it.

    Percentiles sort every value of a group; with the server's default work_mem (4 MB) a month of
    a city spills those sorts to disk. ``SET LOCAL`` raises it for this transaction only.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql" and settings.REPORT_DB_WORK_MEM:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('work_mem', %s, true)", [settings.REPORT_DB_WORK_MEM])
        yield


def report_region_name(filters: ReportFilters) -> str:
    if filters.region is not None:
        return filters.region.name
    region = Region.objects.filter(code=settings.DEFAULT_REGION_CODE).only("name").first()
    return region.name if region else ""


def full_report(user, filters: ReportFilters) -> Report:
    """All figures for the filters (the report pages and ``GET /api/v1/reports/summary/``).

    A fixed number of queries (about twenty) whatever the number of incidents.
    """
    with report_session():
        return _full_report(user, filters)


def _full_report(user, filters: ReportFilters) -> Report:
    ref = Reference()
    source = report_source(filters.tz, user)
    region_name = report_region_name(filters)
    incidents = incident_breakdown(user, filters, ref=ref, source=source)
    calls = call_outcomes(user, filters, source=source)
    response = response_times(user, filters, ref=ref, source=source)
    overall = response.overall.response
    # The comparison's own period: the same figures, already read above.
    current = PeriodFigures(
        key="current",
        label=filters.label,
        start_date=filters.start_date,
        end_date=filters.end_date,
        incidents=incidents.total,
        resolved=incidents.resolved,
        calls=calls.total,
        prank_share=calls.prank_share,
        response_count=overall.count,
        response_median=overall.median,
        response_p90=overall.p90,
        response_within_target_share=overall.within_target_share,
    )
    return Report(
        filters=filters,
        title=(
            _("Monthly Report of Command Center 112 %(region)s — %(period)s")
            if filters.period == "month"
            else _("Report of Command Center 112 %(region)s — %(period)s")
        )
        % {"region": region_name, "period": filters.label},
        region_name=region_name,
        generated_at=timezone.now(),
        incidents=incidents,
        calls=calls,
        answering=call_answering(user, filters, source=source),
        response=response,
        sla=sla_summary(user, filters, ref=ref, source=source),
        slowest_open=slowest_open_incidents(user, filters),
        patterns=time_patterns(user, filters, source=source),
        comparison=comparison(user, filters, source=source, current=current),
        source=source.name,
    )
