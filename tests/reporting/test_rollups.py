"""The reporting tables agree with the operational tables: same rows visible, same figures, kept current."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.core.management import call_command

from dispatch import services as dispatch_services
from dispatch.models import Agency, Role
from incidents import services
from incidents.models import Call, Incident
from incidents.sla import sla_sweep
from reporting import rollups, selectors
from reporting.filters import parse_report_filters
from reporting.models import AssignmentFact, CallDailyStat, CallFact, IncidentFact, RollupState
from reporting.tasks import report_rollups_refresh_task
from semarang112.api.authentication import ApiClientPrincipal
from semarang112.api.models import ApiClient
from tests.factories import FieldUnitFactory, MembershipFactory, UserFactory

from .conftest import at, wib

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(settings) -> str:
    """Here both sources are compared explicitly; the shared data is built once, not per source."""
    settings.REPORT_USE_ROLLUPS = False
    return "raw"


FILTER_SETS = [
    {"period": "month", "date": "2025-02"},
    {"period": "month", "date": "2025-03"},
    {"period": "day", "date": "2025-02-28"},
    {"period": "custom", "from": "2025-01-15", "to": "2025-03-15"},
    {"period": "month", "date": "2025-02", "district": "3374060"},
    {"period": "month", "date": "2025-02", "category": "natural-disaster"},
    {"period": "month", "date": "2025-02", "agency": "damkar"},
    {"period": "month", "date": "2025-02", "agency": "dinkes-psc", "channel": "phone_112"},
    {"period": "month", "date": "2025-02", "channel": "app"},
]


@pytest.fixture
def principals(
    february, seeded, supervisor, operator, dispatcher, damkar_supervisor, satpol_supervisor, auditor, settings
):
    """Every kind of principal the permission selector distinguishes, with the data to tell them apart."""
    b = february
    settings.INCIDENT_SHARE_MAX_DAYS = 36500  # the February 2025 share must still be live when read today
    national = Agency.objects.create(code="cc-national", name="National 112", kind=Agency.Kind.COMMAND_CENTER)
    field = MembershipFactory(
        user=UserFactory(username="bpbd-field"), agency=seeded.agency("bpbd"), role=Role.FIELD_OFFICER
    )
    unit = FieldUnitFactory(agency=seeded.agency("bpbd"))
    field.unit = unit
    field.save(update_fields=["unit"])
    with at(wib(2025, 2, 20, 16, 3)):
        dispatch_services.assignment_assign_resource(
            assignment=b.cases["B1"].assignments.get(), actor=dispatcher, unit=unit
        )
        # B1 is shown to Satpol PP (view); X1 was shared with DP3A, but the share was revoked.
        dispatch_services.incident_share(
            incident=b.cases["B1"], agency=seeded.agency("satpol-pp"), level="view", actor=dispatcher
        )
    people = {
        "superuser": UserFactory(username="root", is_superuser=True),
        "auditor": auditor,
        "center": supervisor,
        "call-taker": operator,
        "national": MembershipFactory(user=UserFactory(username="nat"), agency=national, role=Role.SUPERVISOR).user,
        "damkar": damkar_supervisor,
        "satpol (share)": satpol_supervisor,
        "field officer": field.user,
        "nobody": UserFactory(username="nobody"),
    }
    for name, scopes, agency in [
        ("client-center", ["reports:read", "incidents:read"], None),
        ("client-damkar", ["reports:read", "incidents:read"], seeded.agency("damkar")),
    ]:
        client = ApiClient.objects.create(name=name, agency=agency, scopes=scopes)
        people[name] = ApiClientPrincipal(client)
    rollups.rollups_rebuild()
    return people


def _figures(user, params, source_class) -> dict:
    """Every period figure of a report, read from one source, as plain data.

    ``source_class`` None: the source ``report_source`` picks for this principal.
    """
    filters = parse_report_filters(params)
    source = selectors.report_source(filters.tz, user) if source_class is None else source_class(filters.tz)
    result = {
        "incidents": selectors.incident_breakdown(user, filters, source=source),
        "calls": selectors.call_outcomes(user, filters, source=source),
        "answering": selectors.call_answering(user, filters, source=source),
        "response": selectors.response_times(user, filters, source=source),
        "sla": selectors.sla_summary(user, filters, source=source),
        "patterns": selectors.time_patterns(user, filters, source=source),
        "comparison": selectors.comparison(user, filters, source=source),
    }
    return {key: dataclasses.asdict(value) for key, value in result.items()}


def _ids(source, user, filters) -> set[int]:
    rows = source.incidents(user, filters, [(filters.start_date, filters.end_date)])
    return set(rows.values_list(source.incident_key, flat=True))


@pytest.mark.parametrize("params", FILTER_SETS, ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
def test_every_principal_sees_the_same_incidents_in_both(principals, params, settings):
    settings.REPORT_USE_ROLLUPS = True
    filters = parse_report_filters(params)
    raw, facts = selectors.RawSource(filters.tz), selectors.RollupSource(filters.tz)
    seen_somewhere = False
    for name, user in principals.items():
        expected = set(selectors.report_incidents(user, filters).values_list("pk", flat=True))
        assert _ids(raw, user, filters) == expected, name
        assert _ids(facts, user, filters) == expected, name
        assert _ids(selectors.report_source(filters.tz, user), user, filters) == expected, name
        seen_somewhere |= bool(expected)
        period = [(filters.start_date, filters.end_date)]
        raw_calls = set(raw.calls(user, filters, period).values_list("pk", flat=True))
        assert set(facts.calls(user, filters, period).values_list("pk", flat=True)) == raw_calls, name
    assert seen_somewhere


def test_an_agency_without_shares_reads_its_own_rows(principals, settings):
    settings.REPORT_USE_ROLLUPS = True

    assert type(selectors.report_source(None, principals["damkar"])) is selectors.AgencyRollupSource
    assert type(selectors.report_source(None, principals["satpol (share)"])) is selectors.RollupSource
    assert type(selectors.report_source(None, principals["field officer"])) is selectors.RollupSource
    assert type(selectors.report_source(None, principals["center"])) is selectors.RollupSource
    settings.REPORT_USE_ROLLUPS = False
    assert type(selectors.report_source(None, principals["damkar"])) is selectors.RawSource


def test_the_scopes_differ_where_they_should(principals):
    filters = parse_report_filters({"period": "month", "date": "2025-02"})
    facts = selectors.RollupSource(filters.tz)

    def seen(name):
        return facts.incidents(principals[name], filters, [(filters.start_date, filters.end_date)]).count()

    assert (seen("center"), seen("damkar"), seen("satpol (share)"), seen("field officer"), seen("nobody")) == (
        8,
        5,
        1,
        1,
        0,
    )
    assert (seen("client-center"), seen("client-damkar"), seen("national"), seen("auditor")) == (8, 5, 8, 8)


@pytest.mark.parametrize("params", FILTER_SETS[:4] + FILTER_SETS[6:7], ids=["feb", "mar", "day", "custom", "agency"])
@pytest.mark.parametrize("who", ["center", "damkar", "satpol (share)", "superuser"])
def test_every_figure_is_the_same_from_both(principals, params, who, settings):
    settings.REPORT_USE_ROLLUPS = True
    user = principals[who]

    raw = _figures(user, params, selectors.RawSource)

    assert _figures(user, params, selectors.RollupSource) == raw
    assert _figures(user, params, None) == raw  # the source picked for this principal


def _snapshot() -> tuple[list, ...]:
    def rows(model):
        return sorted(
            tuple(getattr(obj, f.attname) for f in model._meta.concrete_fields) for obj in model.objects.all()
        )

    def counts(model):
        return sorted(
            tuple(getattr(obj, f.attname) for f in model._meta.concrete_fields[1:]) for obj in model.objects.all()
        )

    return rows(IncidentFact), rows(AssignmentFact), rows(CallFact), counts(CallDailyStat)


def test_the_refresh_catches_up_with_changes(february, seeded, operator, dispatcher, supervisor, settings):
    settings.REPORT_USE_ROLLUPS = True
    rollups.rollups_rebuild()
    b = february
    b1 = b.cases["B1"]
    pending = b.call("c10", wib(2025, 2, 21, 7, 0), 4)
    with at(wib(2025, 2, 20, 16, 7)):
        dispatch_services.assignment_acknowledge(assignment=b1.assignments.get(), actor=dispatcher)
    with at(wib(2025, 2, 20, 16, 9)):
        dispatch_services.assignment_on_scene(assignment=b1.assignments.get(), actor=dispatcher)
    with at(wib(2025, 2, 21, 7, 1)):
        services.call_set_outcome(call=pending, outcome=Call.Outcome.PRANK, actor=operator)
        services.incident_change_category(
            incident=b.cases["F2"], category=seeded.category("fallen-tree"), actor=operator
        )
    b.incident("N1", wib(2025, 2, 22, 9, 0), category="crime", agency="polrestabes", dispatch=40, ack=80, on_scene=400)

    result = rollups.rollups_refresh()
    refreshed = _snapshot()
    rollups.rollups_rebuild()

    assert result.incidents >= 3 and result.calls >= 1
    assert refreshed == _snapshot()  # incremental == from scratch
    filters = parse_report_filters({"period": "month", "date": "2025-02"})
    report = selectors.full_report(supervisor, filters)
    assert report.source == "rollups"
    assert report.response.overall.response.count == 8  # B1 (540 s) and N1 (400 s) arrived
    assert report.calls.by_outcome[3].key == "prank" and report.calls.by_outcome[3].count == 3
    assert _figures(supervisor, {"period": "month", "date": "2025-02"}, selectors.RollupSource) == _figures(
        supervisor, {"period": "month", "date": "2025-02"}, selectors.RawSource
    )


def test_refresh_is_safe_to_repeat_and_waits_for_a_first_build(february):
    assert rollups.rollups_refresh() is None  # nothing built yet: the figures keep reading the raw tables
    assert report_rollups_refresh_task() is None

    rollups.rollups_rebuild()
    first = report_rollups_refresh_task()
    before = _snapshot()
    second = rollups.rollups_refresh()

    assert first is not None and second is not None
    assert _snapshot() == before
    state = RollupState.objects.get()
    assert state.last_timeline_id == max(Incident.objects.values_list("timeline__pk", flat=True))


def test_the_rebuild_command(february, capsys):
    call_command("report_rollups_rebuild")

    assert "10 incidents" in capsys.readouterr().out
    assert IncidentFact.objects.count() == Incident.objects.count() == 10
    call_command("report_rollups_rebuild", "--refresh")
    assert RollupState.objects.get().refreshed_at is not None


def test_facts_hold_the_raw_expressions(february):
    rollups.rollups_rebuild()

    f5 = IncidentFact.objects.get(pk=february.cases["F5"].pk)
    assert (str(f5.day), f5.hour) == ("2025-02-28", 23)  # local, not UTC
    assert (f5.response_s, f5.dispatch_s, f5.acknowledge_s) == (900.0, 120.0, 280.0)
    assert (f5.response_in_category, f5.dispatch_in_category) == (False, False)
    x1 = IncidentFact.objects.get(pk=february.cases["X1"].pk)
    assert x1.response_s is None and x1.response_in_category is None
    c1 = CallFact.objects.get(pk=february.calls["c1"].pk)
    assert (c1.answer_s, c1.processing_s, c1.hour) == (8.0, 30.0, 8)
    assert CallFact.objects.get(pk=february.calls["c8"].pk).answer_s is None
    assert CallFact.objects.get(pk=february.calls["c3"].pk).processing_s is None
    first = AssignmentFact.objects.get(incident_id=february.cases["F1"].pk)
    assert first.first_of_agency and first.response_s == 300.0 and first.acknowledge_s == 60.0
    assert timedelta(seconds=first.dispatch_s) == timedelta(seconds=30)


# ------------------------------------------------------------------------------------------------
# SLA warnings and breaches: counted on the facts, the same as from the SLA events
# ------------------------------------------------------------------------------------------------
SLA_DAY = {"period": "day", "date": "2025-02-12"}
SLA_FILTER_SETS = [
    {"period": "month", "date": "2025-02"},
    {"period": "month", "date": "2025-03"},
    SLA_DAY,
    {"period": "custom", "from": "2025-01-15", "to": "2025-03-15"},
    {"period": "month", "date": "2025-02", "agency": "damkar"},
    {"period": "month", "date": "2025-02", "agency": "dinkes-psc"},
    {"period": "month", "date": "2025-02", "category": "fire"},
]


def _sla_cases(b, seeded, dispatcher) -> None:
    """Two fire incidents on 12 February (dispatch 1 min, acknowledge 2 min, on scene 10 min; warnings
    at 80%) whose agencies come and go; neither gets a unit on scene or is resolved.

    S1: Damkar acknowledges late (170 s), is withdrawn and dispatched again: two assignments of one
        agency, neither declined — its on-scene and resolve events count once.
    S2: dispatched late (70 s) to Damkar and PSC; Damkar declines at once, PSC after its acknowledge
        deadline; Damkar is dispatched again — Damkar answers for the incident through its second
        assignment, PSC (declined) only for its own late acknowledgement.
    """
    s1 = b.incident("S1", wib(2025, 2, 12, 10, 0), agency="damkar", dispatch=30, ack=200)
    with at(wib(2025, 2, 12, 10, 4, 10)):
        dispatch_services.assignment_cancel(assignment=s1.assignments.get(), actor=dispatcher, reason="Salah unit.")
    with at(wib(2025, 2, 12, 10, 4, 20)):
        (again,) = dispatch_services.incident_dispatch(
            incident=s1, agencies=[seeded.agency("damkar")], actor=dispatcher
        )
    with at(wib(2025, 2, 12, 10, 4, 40)):
        dispatch_services.assignment_acknowledge(assignment=again, actor=dispatcher)

    s2 = b.incident("S2", wib(2025, 2, 12, 11, 0))
    with at(wib(2025, 2, 12, 11, 1, 10)):
        damkar, psc = dispatch_services.incident_dispatch(
            incident=s2, agencies=[seeded.agency("damkar"), seeded.agency("dinkes-psc")], actor=dispatcher
        )
    with at(wib(2025, 2, 12, 11, 1, 40)):
        dispatch_services.assignment_decline(assignment=damkar, actor=dispatcher, reason="Armada penuh.")
    with at(wib(2025, 2, 12, 11, 5, 0)):
        dispatch_services.assignment_decline(assignment=psc, actor=dispatcher, reason="Bukan wewenang.")
    with at(wib(2025, 2, 12, 11, 6, 40)):
        (again,) = dispatch_services.incident_dispatch(
            incident=s2, agencies=[seeded.agency("damkar")], actor=dispatcher
        )
    with at(wib(2025, 2, 12, 11, 7, 0)):
        dispatch_services.assignment_acknowledge(assignment=again, actor=dispatcher)


@pytest.fixture
def sla_principals(principals, february, seeded, dispatcher):
    """``principals`` with the SLA cases, and every warning and breach recorded by 2 March."""
    _sla_cases(february, seeded, dispatcher)
    with at(wib(2025, 3, 2)):
        sla_sweep()
    rollups.rollups_rebuild()
    return principals


def _sla(user, params, source_class) -> dict:
    filters = parse_report_filters(params)
    source = selectors.report_source(filters.tz, user) if source_class is None else source_class(filters.tz)
    return dataclasses.asdict(selectors.sla_summary(user, filters, source=source))


@pytest.mark.parametrize("params", SLA_FILTER_SETS, ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
@pytest.mark.parametrize("who", ["center", "damkar", "satpol (share)", "field officer", "client-damkar", "superuser"])
def test_sla_summaries_are_the_same_from_both(sla_principals, params, who, settings):
    settings.REPORT_USE_ROLLUPS = True
    user = sla_principals[who]

    raw = _sla(user, params, selectors.RawSource)

    assert _sla(user, params, selectors.RollupSource) == raw
    assert _sla(user, params, None) == raw  # the source picked for this principal (Damkar: its own rows)


def test_sla_counts_follow_the_agencies_on_the_incident(sla_principals, february, seeded, settings):
    settings.REPORT_USE_ROLLUPS = True
    zero, one, two = ({"warning": n, "breach": n} for n in (0, 1, 2))
    damkar, psc = seeded.agency("damkar").pk, seeded.agency("dinkes-psc").pk
    s2 = AssignmentFact.objects.filter(incident_id=february.cases["S2"].pk).order_by("pk")

    # Declined: Damkar's first assignment carries nothing; its second one the incident's on-scene and
    # resolve events; PSC (declined) its own acknowledge events only.
    assert list(s2.values_list("agency_id", "sla_acknowledge_breaches", "sla_response_breaches", "sla_events")) == [
        (damkar, 0, 0, 0),
        (psc, 1, 0, 2),
        (damkar, 0, 1, 4),
    ]
    assert IncidentFact.objects.get(pk=february.cases["S2"].pk).sla_events == 8

    def counts(row):
        return {target: {"warning": row.warnings[target], "breach": row.breaches[target]} for target in row.warnings}

    for who in ("center", "damkar"):
        summary = selectors.sla_summary(sla_principals[who], parse_report_filters(SLA_DAY))
        agencies = {row.key: counts(row) for row in summary.by_agency}

        assert counts(summary.totals) == {
            "dispatch": one,  # S2, the command center's
            "acknowledge": two,  # Damkar's first assignment on S1, PSC's on S2
            "response": two,
            "resolve": two,
        }, who
        # Damkar: once per incident although it has two assignments on each; PSC declined S2.
        assert agencies == {
            "damkar": {"dispatch": zero, "acknowledge": one, "response": two, "resolve": two},
            "dinkes-psc": {"dispatch": zero, "acknowledge": one, "response": zero, "resolve": zero},
        }, who


def test_the_refresh_counts_new_sla_events(principals, february, seeded, dispatcher, supervisor, settings):
    settings.REPORT_USE_ROLLUPS = True
    _sla_cases(february, seeded, dispatcher)
    rollups.rollups_rebuild()
    assert not IncidentFact.objects.filter(sla_response_breaches__gt=0).exists()

    with at(wib(2025, 3, 2)):
        recorded = sla_sweep().recorded  # only SLA events (and their timeline events) are new
    result = rollups.rollups_refresh()
    refreshed = _snapshot()
    rollups.rollups_rebuild()

    assert recorded > 0 and result.incidents > 0
    assert refreshed == _snapshot()  # incremental == from scratch
    for who in ("center", "damkar"):
        for params in (SLA_DAY, {"period": "month", "date": "2025-02"}):
            rollup = _sla(principals[who], params, None)
            assert rollup == _sla(principals[who], params, selectors.RawSource), (who, params)
    assert _sla(supervisor, SLA_DAY, None)["totals"]["breaches"]["response"] == 2


@pytest.mark.parametrize("who", ["center", "damkar", "satpol (share)"])
def test_the_rollup_sla_summary_runs_a_fixed_number_of_queries(
    sla_principals, february, seeded, dispatcher, who, settings, django_assert_max_num_queries
):
    settings.REPORT_USE_ROLLUPS = True
    filters = parse_report_filters({"period": "month", "date": "2025-02"})

    def summary():
        user = type(sla_principals[who]).objects.get(pk=sla_principals[who].pk)
        source = selectors.report_source(filters.tz, user)
        assert source.name == "rollups"
        # labels (2), an agency principal's visible ids (up to 2), by category, by agency
        with django_assert_max_num_queries(6):
            return selectors.sla_summary(user, filters, source=source)

    before = summary()
    b = february
    for n in range(4):  # more incidents, categories and agencies with events: the same queries
        b.incident(f"T{n}", wib(2025, 2, 13, 9, n), category="crime", agency="polrestabes", dispatch=90)
        b.incident(f"U{n}", wib(2025, 2, 13, 10, n), agency="damkar", dispatch=30, ack=300)
        b.incident(f"V{n}", wib(2025, 2, 13, 11, n), category="medical", agency="dinkes-psc", dispatch=20)
    settings.INCIDENT_SHARE_MAX_DAYS = 36500  # the February 2025 share must still be live when read today
    with at(wib(2025, 2, 13, 12)):
        dispatch_services.incident_share(
            incident=b.cases["T0"], agency=seeded.agency("satpol-pp"), level="view", actor=dispatcher
        )
    with at(wib(2025, 3, 2)):
        sla_sweep()
    rollups.rollups_refresh()
    after = summary()

    assert after.totals.breach_total > before.totals.breach_total
