"""Report figures against hand-computed expectations on the fixed February 2025 data (see conftest)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import override_settings
from django.utils import translation

from incidents.models import Incident
from incidents.sla import sla_sweep
from reporting import selectors
from reporting.filters import parse_report_filters

from .conftest import at, wib

pytestmark = pytest.mark.django_db

FEB = {"period": "month", "date": "2025-02"}


def month(**extra):
    return parse_report_filters({**FEB, **extra})


def by_key(rows):
    return {row.key: row for row in rows}


# ------------------------------------------------------------------------------------------------
# Incidents by status, category, priority, district, channel
# ------------------------------------------------------------------------------------------------
def test_incident_breakdown(february, supervisor):
    breakdown = selectors.incident_breakdown(supervisor, month())

    assert breakdown.total == 8  # F1–F5, M1, B1, X1; J1 (January) and R1 (1 March 00:00 WIB) are outside
    statuses = {row.key: row.count for row in breakdown.by_status if row.count}
    assert statuses == {"on_scene": 6, "dispatched": 1, "cancelled": 1}
    assert {row.key: row.count for row in breakdown.by_category} == {"fire": 5, "medical": 1, "flood": 1, "other": 1}
    assert by_key(breakdown.by_category)["flood"].parent == "natural-disaster"
    assert {row.key: row.count for row in breakdown.by_top_category} == {
        "fire": 5,
        "medical": 1,
        "natural-disaster": 1,
        "other": 1,
    }
    assert {row.label: row.count for row in breakdown.by_district} == {
        "Candisari": 3,
        "Tembalang": 2,
        "Tugu": 1,
        "Genuk": 1,
        "Mijen": 1,
    }
    assert {row.key: row.count for row in breakdown.by_priority if row.count} == {"1": 7, "4": 1}
    assert {row.key: row.count for row in breakdown.by_channel if row.count} == {"phone_112": 7, "app": 1}
    assert by_key(breakdown.by_channel)["phone_112"].share == 0.875


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"category": "natural-disaster"}, 1),  # the flood, a subcategory
        ({"district": "3374060"}, 3),  # Candisari
        ({"agency": "damkar"}, 5),
        ({"channel": "app"}, 1),
    ],
)
def test_filters_narrow_every_figure(february, supervisor, extra, expected):
    filters = month(**extra)

    assert selectors.incident_breakdown(supervisor, filters).total == expected
    assert selectors.response_times(supervisor, filters).overall.cases == expected


# ------------------------------------------------------------------------------------------------
# Response, dispatch and acknowledge times
# ------------------------------------------------------------------------------------------------
def test_response_times_overall(february, supervisor):
    overall = selectors.response_times(supervisor, month()).overall

    # On scene after 300, 420, 540, 660, 900 (damkar) and 120 s (PSC); B1 and X1 never.
    # Sorted 120 300 420 540 660 900: median at rank 2.5 → 480; p90 at 4.5 → 780; p95 at 4.75 → 840.
    assert (overall.response.count, overall.response.median, overall.response.p90, overall.response.p95) == (
        6,
        480.0,
        780.0,
        840.0,
    )
    assert (overall.response.within_target, overall.response.within_target_share) == (4, 0.6667)
    assert overall.response.within_category_target == 4  # every category here has a 10-minute target
    # Dispatch 20 30 45 60 90 100 120: median 60; p90 at 5.4 → 108; within the 1-minute target: 4 (60 s counts).
    assert (overall.dispatch.count, overall.dispatch.median, overall.dispatch.p90) == (7, 60.0, 108.0)
    assert (overall.dispatch.within_category_target, overall.dispatch.within_category_target_share) == (4, 0.5714)
    assert overall.dispatch.within_target is None  # the city's target is about the response
    # Acknowledge after dispatch: 60 75 90 110 280 and 20 → median 82.5; within 2 minutes: 5.
    assert (overall.acknowledge.count, overall.acknowledge.median, overall.acknowledge.within_category_target) == (
        6,
        82.5,
        5,
    )


def test_response_times_per_agency_and_the_minimum_sample(february, supervisor):
    times = selectors.response_times(supervisor, month())
    agencies = by_key(times.by_agency)

    damkar = agencies["damkar"]
    assert (damkar.cases, damkar.response.median, damkar.response.p90, damkar.response.p95) == (5, 540.0, 804.0, 852.0)
    assert (damkar.response.within_target_share, damkar.acknowledge.median) == (0.6, 90.0)
    assert (damkar.ranked, damkar.rank) == (True, 1)
    # PSC was faster (120 s) but with one case it is shown, not ranked.
    psc = agencies["dinkes-psc"]
    assert (psc.response.count, psc.response.median, psc.ranked, psc.rank) == (1, 120.0, False, None)
    assert (agencies["bpbd"].response.count, agencies["bpbd"].dispatch.median) == (0, 100.0)
    assert [row.key for row in times.by_agency] == ["damkar", "bpbd", "dinkes-psc"]  # ranked first, then by name

    with override_settings(REPORT_MIN_CASES_FOR_RANKING=1):
        ranked = selectors.response_times(supervisor, month()).by_agency

    assert [(row.key, row.rank) for row in ranked] == [("dinkes-psc", 1), ("damkar", 2), ("bpbd", None)]


def test_response_times_per_district(february, supervisor):
    districts = {row.label: row for row in selectors.response_times(supervisor, month()).by_district}

    # Candisari: F1 300, F3 540, F5 900.
    assert (districts["Candisari"].response.count, districts["Candisari"].response.median) == (3, 540.0)
    assert districts["Candisari"].response.within_target == 2
    assert districts["Genuk"].response.count == 0


# ------------------------------------------------------------------------------------------------
# Calls
# ------------------------------------------------------------------------------------------------
def test_call_outcomes_and_prank_share(february, supervisor):
    outcomes = selectors.call_outcomes(supervisor, month())

    counts = {row.key: row.count for row in outcomes.by_outcome if row.count}
    assert counts == {"emergency": 2, "prank": 2, "silent": 2, "information": 2, "wrong_number": 1}
    assert (outcomes.total, outcomes.prank_share, outcomes.prank_or_silent_share) == (9, 0.2222, 0.4444)
    assert selectors.call_outcomes(supervisor, month(district="3374060")).filters_ignored == ["district"]


def test_call_answering_against_the_standards(february, supervisor):
    answering = selectors.call_answering(supervisor, month())

    overall = answering.overall
    # 112 phone calls c1–c8 (c9 came by app); answered after 8 12 16 25 5 19 10 s; c8 never.
    assert (overall.calls, overall.answered, overall.unanswered) == (8, 7, 1)
    assert (overall.answer_10s, overall.answer_15s, overall.answer_20s) == (3, 4, 6)
    assert (overall.answer_10s_share, overall.answer_15s_share, overall.answer_20s_share) == (0.4286, 0.5714, 0.8571)
    assert overall.meets() == {"answer_10s": False, "answer_15s": False, "answer_20s": False, "processing_60s": True}
    # Emergency calls c1 → F1 dispatched 30 s after answering, c2 → M1 after 20 s.
    assert (overall.processed, overall.processing_60s, overall.processing_60s_share) == (2, 2, 1.0)
    assert (answering.answer_median, answering.answer_p90) == (12.0, 21.4)
    assert (answering.processing_median, answering.processing_p90) == (25.0, 29.0)

    hours = {row.key: row for row in answering.by_hour}
    assert (hours["13"].calls, hours["13"].answered, hours["13"].answer_10s) == (2, 1, 1)
    assert hours["22"].answer_20s_share == 1.0 and hours["4"].calls == 0
    shifts = [(row.calls, row.answered, row.answer_10s, row.answer_15s, row.answer_20s) for row in answering.by_shift]
    # 07–15: c1 c2 c6 c7 c8; 15–23: c3; 23–07: c4 c5.
    assert shifts == [(5, 4, 2, 3, 4), (1, 1, 0, 0, 1), (2, 2, 1, 1, 1)]


def test_shifts_follow_the_setting(settings):
    settings.REPORT_SHIFT_STARTS = [6, 18]

    assert [selectors.shift_of_hour(h) for h in (0, 5, 6, 17, 18, 23)] == [1, 1, 0, 0, 1, 1]
    with translation.override("en"):
        assert selectors.shift_labels() == ["Shift 1 (06:00–18:00)", "Shift 2 (18:00–06:00)"]
    with translation.override("id"):
        assert selectors.shift_labels()[0] == "Shift 1 (06.00–18.00)"


# ------------------------------------------------------------------------------------------------
# Time zones, empty periods, time patterns, comparison
# ------------------------------------------------------------------------------------------------
def test_local_midnight_decides_the_day_and_month(february, supervisor):
    march = parse_report_filters({"period": "month", "date": "2025-03"})
    first_of_march = parse_report_filters({"period": "day", "date": "2025-03-01"})
    last_of_february = parse_report_filters({"period": "day", "date": "2025-02-28"})

    # R1 at 1 March 00:00:00 WIB (28 February 17:00 UTC) belongs to March; F5 at 23:59:59 WIB to February.
    assert selectors.incident_breakdown(supervisor, march).total == 1
    assert selectors.incident_breakdown(supervisor, first_of_march).total == 1
    assert selectors.incident_breakdown(supervisor, last_of_february).total == 1
    patterns = selectors.time_patterns(supervisor, month())
    daily = {row.day: row.incidents for row in patterns.daily}
    assert daily[date(2025, 2, 28)] == 1 and len(daily) == 28
    assert patterns.heatmap[4][23] == 1  # Friday, 23:00 local
    assert patterns.heatmap[0][8] == 1  # F1: Monday 08:30 local
    assert sum(map(sum, patterns.heatmap)) == 8


def test_a_period_without_data(february, supervisor):
    filters = parse_report_filters({"period": "month", "date": "2024-06"})

    report = selectors.full_report(supervisor, filters)

    assert report.incidents.total == 0 and report.calls.total == 0
    assert report.response.overall.response.median is None
    assert report.response.overall.response.within_target_share is None
    assert report.response.by_agency == [] and report.response.by_district == []
    assert report.answering.overall.answer_15s_share is None and report.answering.answer_median is None
    assert report.patterns.heatmap_max == 0 and len(report.patterns.daily) == 30
    assert report.comparison.change_previous.incidents is None


def test_ramadan_and_lebaran_are_marked(february, supervisor):
    patterns = selectors.time_patterns(supervisor, parse_report_filters({"period": "month", "date": "2025-03"}))

    assert [m.kind for m in patterns.markers] == ["ramadan", "lebaran"]
    daily = {row.day: row for row in patterns.daily}
    assert daily[date(2025, 3, 1)].markers == ["ramadan"] and daily[date(2025, 3, 1)].incidents == 1
    assert daily[date(2025, 3, 31)].markers == ["lebaran"]


def test_month_over_month_and_year_over_year(february, supervisor):
    result = selectors.comparison(supervisor, month())

    assert (result.current.incidents, result.previous.incidents, result.year_before.incidents) == (8, 1, 0)
    assert (result.current.calls, result.current.prank_share) == (9, 0.2222)
    assert (result.previous.response_median, result.current.response_median) == (480.0, 480.0)
    assert result.change_previous.incidents == 7.0  # 1 → 8
    assert result.change_previous.response_within_target_share == round(0.6667 - 1.0, 4)
    assert result.change_year_before.incidents is None  # nothing to compare with


# ------------------------------------------------------------------------------------------------
# SLA and the slowest open incidents
# ------------------------------------------------------------------------------------------------
def test_slowest_open_incidents(february, supervisor):
    rows = selectors.slowest_open_incidents(supervisor, month(), now=wib(2025, 3, 2))

    # F1–F5, M1, J1, R1 are on scene, X1 cancelled: only B1 still waits for a unit.
    assert [row.reference for row in rows] == [february.cases["B1"].reference]
    assert rows[0].overdue and rows[0].waiting_seconds == (wib(2025, 3, 2) - wib(2025, 2, 20, 16)).total_seconds()


def test_sla_warnings_and_breaches_per_agency_and_category(builder, supervisor, sync_rollups):
    # Fire: acknowledge target 2 min (warning at 80% = 96 s), on scene 10 min (warning 8 min).
    late = builder.incident("A", wib(2025, 2, 3, 8, 0), agency="damkar", dispatch=30, ack=170, on_scene=700)
    builder.incident(
        "B", wib(2025, 2, 3, 9, 0), category="medical", agency="dinkes-psc", dispatch=20, ack=40, on_scene=120
    )
    with at(wib(2025, 2, 3, 9, 30)):
        sla_sweep()
    sync_rollups()

    summary = selectors.sla_summary(supervisor, month())

    expected = {"dispatch": 0, "acknowledge": 1, "response": 1, "resolve": 0}
    assert summary.available
    assert (summary.totals.warnings, summary.totals.breaches) == (expected, expected)
    assert [(row.key, row.warnings, row.breaches) for row in summary.by_category] == [("fire", expected, expected)]
    assert [(row.key, row.warnings, row.breaches) for row in summary.by_agency] == [("damkar", expected, expected)]
    assert late.sla_events.count() == 4


# ------------------------------------------------------------------------------------------------
# Permissions: an agency's report covers what the agency may see
# ------------------------------------------------------------------------------------------------
def test_an_agency_sees_only_its_own_incidents(february, damkar_supervisor, satpol_supervisor):
    report = selectors.full_report(damkar_supervisor, month())

    assert report.incidents.total == 5  # F1–F5; not PSC's M1, BPBD's B1 or X1
    assert report.response.overall.response.median == 540.0
    assert [row.key for row in report.response.by_agency] == ["damkar"]
    assert report.calls.total == 0 and report.answering.overall.calls == 0  # calls are the command center's
    assert report.comparison.current.incidents == 5 and report.comparison.previous.incidents == 1
    assert sum(map(sum, report.patterns.heatmap)) == 5
    assert {row.reference for row in selectors.slowest_open_incidents(damkar_supervisor, month())} == set()

    nothing = selectors.full_report(satpol_supervisor, month())
    assert nothing.incidents.total == 0 and nothing.response.by_agency == []
    assert nothing.comparison.previous.incidents == 0


def test_an_agency_filter_cannot_widen_what_an_agency_sees(february, damkar_supervisor):
    filters = month(agency="dinkes-psc")

    assert selectors.incident_breakdown(damkar_supervisor, filters).total == 0
    assert selectors.response_times(damkar_supervisor, filters).by_agency == []


# ------------------------------------------------------------------------------------------------
# Query counts
# ------------------------------------------------------------------------------------------------
def test_the_full_report_runs_a_fixed_number_of_queries(
    february, builder, supervisor, sync_rollups, source, django_assert_max_num_queries
):
    with django_assert_max_num_queries(28):  # 22 figure queries + transaction and work_mem
        selectors.full_report(supervisor, month())
    for n in range(6):  # more incidents, more agencies, more districts: the same number of queries
        builder.incident(
            f"N{n}", wib(2025, 2, 12, 10, n), category="crime", district="Genuk", agency="polrestabes", dispatch=30
        )
    sync_rollups()
    supervisor = type(supervisor).objects.get(pk=supervisor.pk)
    with django_assert_max_num_queries(28):  # 22 figure queries + transaction and work_mem
        report = selectors.full_report(supervisor, month())
    assert report.incidents.total == 14
    assert report.source == source  # the rollup runs really read the reporting tables


def test_open_incident_waiting_time_uses_now(february, supervisor):
    incident = Incident.objects.get(pk=february.cases["B1"].pk)
    rows = selectors.slowest_open_incidents(supervisor, month(), now=incident.received_at + timedelta(minutes=5))

    assert rows[0].waiting_seconds == 300.0 and not rows[0].overdue
