"""Live queue and agency inbox: what they list, filters, SLA clocks, and constant query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from dispatch import services as dispatch_services
from incidents import services

pytestmark = pytest.mark.django_db


def test_queue_lists_open_incidents_by_priority_with_a_live_clock(login, dispatcher, seeded, make_incident, supervisor):
    low = make_incident(category=seeded.category("other"))
    high = make_incident()
    closed = make_incident()
    services.incident_cancel(incident=closed, actor=supervisor, reason="Caller cancelled")
    html = login(dispatcher).get(reverse("incidents:queue")).content.decode()
    assert high.reference in html and low.reference in html and closed.reference not in html
    assert html.index(high.reference) < html.index(low.reference)  # P1 before P4
    assert "data-clock" in html and 'hx-trigger="every' in html  # live clock and auto-refresh


def test_queue_sla_state_is_in_text_and_filterable(login, dispatcher, make_incident):
    with time_machine.travel(timezone.now() - timedelta(minutes=30)):
        late = make_incident()
    fresh = make_incident()
    client = login(dispatcher)
    html = client.get(reverse("incidents:queue"), {"sla": "breached"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert late.reference in html and fresh.reference not in html
    assert "Breached" in html  # not colour alone
    html = client.get(reverse("incidents:queue"), {"sla": "ok"}).content.decode()
    assert fresh.reference in html and late.reference not in html


def test_queue_filters_status_category_district_agency(login, dispatcher, seeded, make_incident):
    fire = make_incident()
    flood = make_incident(category=seeded.category("flood"), district=seeded.district("Tugu"), village=None)
    dispatch_services.incident_dispatch(incident=fire, agencies=[seeded.agency("damkar")], actor=dispatcher)
    client = login(dispatcher)

    def refs(**params):
        html = client.get(reverse("incidents:queue"), {"rows": "1", **params}, HTTP_HX_REQUEST="true").content.decode()
        return {ref for ref in (fire.reference, flood.reference) if ref in html}

    assert refs() == {fire.reference, flood.reference}
    assert refs(status="dispatched") == {fire.reference}
    assert refs(category=seeded.category("natural-disaster").pk) == {flood.reference}  # parent category
    assert refs(district=seeded.district("Tugu").pk) == {flood.reference}
    assert refs(agency=seeded.agency("damkar").pk) == {fire.reference}


def test_queue_partial_for_htmx_and_wall_screen(login, dispatcher, incident):
    client = login(dispatcher)
    partial = client.get(reverse("incidents:queue"), {"rows": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and incident.reference in partial
    wall = client.get(reverse("incidents:queue"), {"wall": "1"}).content.decode()
    assert 'class="wall"' in wall


def test_an_unchanged_queue_refresh_is_answered_304_and_any_change_renders_again(
    login, dispatcher, supervisor, seeded, make_incident, agency_user
):
    incident = make_incident()
    client = login(dispatcher)

    def poll(etag=None, **headers):
        if etag:
            headers["HTTP_IF_NONE_MATCH"] = etag
        return client.get(reverse("incidents:queue"), {"rows": "1"}, HTTP_HX_REQUEST="true", **headers)

    first = poll()
    assert first.status_code == 200 and incident.reference in first.content.decode()
    etag = first["ETag"]
    assert first["Cache-Control"] == "private, no-cache"  # kept by the browser, revalidated on every poll
    assert "data-refreshed" in first.content.decode()  # console.js stamps the time of each refresh

    again = poll(etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag

    # Minutes later nothing changed: still 304 (the clocks tick in the browser, not in the ETag).
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        assert poll(etag).status_code == 304

    # The language, the filters and the user each have their own rendering.
    assert poll(etag, HTTP_ACCEPT_LANGUAGE="en").status_code == 200
    filtered = client.get(
        reverse("incidents:queue"), {"rows": "1", "status": "new"}, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=etag
    )
    assert filtered.status_code == 200
    other = login(supervisor).get(reverse("incidents:queue"), {"rows": "1"}, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=etag)
    assert other.status_code == 200

    # An agency dispatched (shown in the row), then a step of its assignment: each renders again.
    (assignment,) = dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher
    )
    changed = poll(etag)
    assert changed.status_code == 200 and changed["ETag"] != etag and "DAMKAR" in changed.content.decode().upper()
    etag = changed["ETag"]
    dispatch_services.assignment_acknowledge(assignment=assignment, actor=agency_user)
    stepped = poll(etag)
    assert stepped.status_code == 200 and stepped["ETag"] != etag
    etag = stepped["ETag"]

    # A new incident appears.
    newcomer = make_incident()
    fresh = poll(etag)
    assert fresh.status_code == 200 and newcomer.reference in fresh.content.decode()

    # The full page (not the poll) is always rendered.
    assert client.get(reverse("incidents:queue"), HTTP_IF_NONE_MATCH=fresh["ETag"]).status_code == 200


def test_the_sla_filter_runs_before_the_cut_so_no_breach_is_missed(login, dispatcher, seeded, make_incident, settings):
    settings.QUEUE_MAX_ROWS = 3
    fresh = [make_incident() for _ in range(4)]  # P1 fires, on time: first in the queue
    with time_machine.travel(timezone.now() - timedelta(minutes=30)):
        late = make_incident(category=seeded.category("other"))  # P4: last in the queue
    client = login(dispatcher)

    html = client.get(reverse("incidents:queue"), {"sla": "breached"}).content.decode()
    assert late.reference in html and not any(incident.reference in html for incident in fresh)

    html = client.get(reverse("incidents:queue"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert late.reference not in html  # cut: 3 of 5 shown ...
    assert "5 open incidents" in html and "showing the first 3" in html  # ... and said so
    html = client.get(reverse("incidents:queue"), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "5 kejadian terbuka" in html and "menampilkan 3 teratas" in html


def test_the_sql_clock_filter_agrees_with_the_clock_shown_in_every_phase(dispatcher):
    from incidents.models import Incident
    from semarang112.console.clocks import BREACHED, OK, WARNING, current_clock, open_incident_clock_q
    from tests.factories import incident_in_status

    now = timezone.now()
    for minutes in (0, 1, 3, 8, 9.5, 30, 120):
        with time_machine.travel(now - timedelta(minutes=minutes), tick=False):
            for status in ("received", "verified", "dispatched", "on_scene"):
                incident_in_status(status, actor=dispatcher)
    legacy = incident_in_status("received", actor=dispatcher)  # no stored threshold: the default share
    Incident.objects.filter(pk=legacy.pk).update(dispatch_warn_at=None, response_warn_at=None)

    open_incidents = Incident.objects.filter(status__in=Incident.OPEN_STATUSES)
    shown = {incident.pk: current_clock(incident).state(now) for incident in open_incidents}
    assert {OK, WARNING, BREACHED} <= set(shown.values())  # every state is exercised
    for state in (OK, WARNING, BREACHED):
        matched = set(open_incidents.filter(open_incident_clock_q(state, now)).values_list("pk", flat=True))
        expected = {pk for pk, shown_state in shown.items() if shown_state == state}
        # exact, except that a row without a stored threshold matches both ok and warning
        assert matched - {legacy.pk} == expected - {legacy.pk}, state
        assert (legacy.pk in matched) == (state != BREACHED or shown[legacy.pk] == BREACHED)


@pytest.mark.parametrize("count", [5, 50])
def test_queue_query_count_is_constant(login, dispatcher, seeded, make_incident, count, django_assert_max_num_queries):
    for index in range(count):
        incident = make_incident()
        if index % 2:
            dispatch_services.incident_dispatch(
                incident=incident, agencies=[seeded.agency("damkar"), seeded.agency("dinkes-psc")], actor=dispatcher
            )
    client = login(dispatcher)
    with django_assert_max_num_queries(9):
        response = client.get(reverse("incidents:queue"))
    assert response.status_code == 200
    assert len(response.context["rows"]) == count


# ------------------------------------------------------------------------------------------------
# Inbox
# ------------------------------------------------------------------------------------------------
def test_inbox_shows_only_the_agencys_assignments_by_state(login, seeded, make_incident, dispatcher, agency_user):
    mine = make_incident()
    theirs = make_incident(category=seeded.category("medical"))
    (assignment,) = dispatch_services.incident_dispatch(
        incident=mine, agencies=[seeded.agency("damkar")], actor=dispatcher
    )
    dispatch_services.incident_dispatch(incident=theirs, agencies=[seeded.agency("dinkes-psc")], actor=dispatcher)
    html = login(agency_user).get(reverse("dispatch:inbox"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert mine.reference in html and theirs.reference not in html
    assert 'data-step="acknowledge"' in html
    assert "Acknowledge" in html


@pytest.mark.parametrize("count", [5, 50])
def test_inbox_query_count_is_constant(
    login, seeded, make_incident, dispatcher, agency_user, count, django_assert_max_num_queries, settings
):
    settings.INBOX_MAX_ROWS = 20  # 50 assignments: cut, and counted
    for index in range(count):
        incident = make_incident()
        (assignment,) = dispatch_services.incident_dispatch(
            incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher
        )
        if index % 3 == 1:
            dispatch_services.assignment_acknowledge(assignment=assignment, actor=agency_user)
        elif index % 3 == 2:
            dispatch_services.assignment_acknowledge(assignment=assignment, actor=agency_user)
            dispatch_services.assignment_on_scene(assignment=assignment, actor=agency_user)
    client = login(agency_user)
    # session, user, access; active assignments (+ their count when cut), ended ones, units, volunteers
    with django_assert_max_num_queries(10):
        response = client.get(reverse("dispatch:inbox"))
    assert response.status_code == 200
    assert sum(len(group["rows"]) for group in response.context["groups"]) == min(count, 20)
    assert response.context["total"] == count


def test_the_inbox_says_when_it_shows_only_the_first_assignments_and_ended_ones_never_crowd_them_out(
    login, seeded, make_incident, dispatcher, agency_user, settings
):
    settings.INBOX_MAX_ROWS = 3
    damkar = seeded.agency("damkar")
    ended = []
    for _ in range(4):  # ended today: listed apart, never in place of active work
        (assignment,) = dispatch_services.incident_dispatch(incident=make_incident(), agencies=[damkar], actor=dispatcher)
        dispatch_services.assignment_decline(assignment=assignment, actor=agency_user, reason="Unit rusak")
        ended.append(assignment)
    active = [
        dispatch_services.incident_dispatch(incident=make_incident(), agencies=[damkar], actor=dispatcher)[0]
        for _ in range(5)
    ]
    client = login(agency_user)

    response = client.get(reverse("dispatch:inbox"), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    shown = [row["assignment"] for group in response.context["groups"] for row in group["rows"]]
    assert shown == active[:3]  # by priority, oldest first
    assert "5 active assignments" in html and "showing the first 3" in html
    assert {a.pk for a in response.context["finished"]} == {a.pk for a in ended}
    html = client.get(reverse("dispatch:inbox"), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "5 penugasan aktif" in html and "menampilkan 3 teratas" in html

    # Once the first ones are taken on and finished, the rest come up.
    for assignment in active[:3]:
        dispatch_services.assignment_decline(assignment=assignment, actor=agency_user, reason="Di luar wilayah")
    response = client.get(reverse("dispatch:inbox"), HTTP_ACCEPT_LANGUAGE="en")
    shown = [row["assignment"] for group in response.context["groups"] for row in group["rows"]]
    assert shown == active[3:] and "showing the first" not in response.content.decode()
    assert "2 active assignments" in response.content.decode()


def test_an_unchanged_inbox_refresh_is_answered_304_and_what_the_agency_sees_renders_again(
    login, seeded, make_incident, dispatcher, agency_user, settings
):
    from dispatch.models import FieldUnit

    unit = FieldUnit.objects.create(agency=seeded.agency("damkar"), code="DMK-01", name="Unit 01")
    (assignment,) = dispatch_services.incident_dispatch(
        incident=make_incident(), agencies=[seeded.agency("damkar")], actor=dispatcher
    )
    client = login(agency_user)

    def poll(etag):
        return client.get(reverse("dispatch:inbox"), {"rows": "1"}, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=etag)

    first = client.get(reverse("dispatch:inbox"), {"rows": "1"}, HTTP_HX_REQUEST="true")
    html = first.content.decode()
    assert first.status_code == 200 and assignment.incident.reference in html and "data-refreshed" in html
    assert first["Cache-Control"] == "private, no-cache"
    etag = first["ETag"]
    assert poll(etag).status_code == 304
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        assert poll(etag).status_code == 304  # the clocks tick in the browser

    # Another agency's work is not in this inbox, and not in its ETag either.
    dispatch_services.incident_dispatch(
        incident=make_incident(category=seeded.category("medical")),
        agencies=[seeded.agency("dinkes-psc")],
        actor=dispatcher,
    )
    assert poll(etag).status_code == 304

    def changed(etag):
        response = poll(etag)
        assert response.status_code == 200 and response["ETag"] != etag
        return response["ETag"]

    # A step of the assignment, a unit of the agency going off duty, a new assignment: each renders.
    dispatch_services.assignment_acknowledge(assignment=assignment, actor=agency_user)
    etag = changed(etag)
    unit.status = FieldUnit.Status.OFF_DUTY
    unit.save(update_fields=["status"])
    etag = changed(etag)
    newcomer = make_incident()
    dispatch_services.incident_dispatch(incident=newcomer, agencies=[seeded.agency("damkar")], actor=dispatcher)
    etag = changed(etag)
    assert poll(etag).status_code == 304

    # A new CSRF secret (a login rotates it): the cached copy's forms would be refused, so render.
    del client.cookies[settings.CSRF_COOKIE_NAME]
    changed(etag)


def test_inbox_steps_acknowledge_en_route_on_scene_complete(login, seeded, incident, dispatcher, agency_user):
    (assignment,) = dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher
    )
    client = login(agency_user)
    for step, status in [
        ("acknowledge", "requested"),
        ("en_route", "acknowledged"),
        ("on_scene", "en_route"),
        ("complete", "on_scene"),
    ]:
        response = client.post(reverse("dispatch:step", args=[assignment.pk, step]), {"status": status})
        assert response.status_code == 302, response.content
        assignment.refresh_from_db()
    assert assignment.status == "completed"
    incident.refresh_from_db()
    assert incident.first_on_scene_at is not None and incident.status == "on_scene"


def test_decline_needs_a_reason_and_shows_it(login, seeded, incident, dispatcher, agency_user):
    (assignment,) = dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher
    )
    client = login(agency_user)
    response = client.post(
        reverse("dispatch:step", args=[assignment.pk, "decline"]),
        {"reason": ""},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "Give a reason for declining." in response.content.decode()
    assignment.refresh_from_db()
    assert assignment.status == "requested"
    client.post(reverse("dispatch:step", args=[assignment.pk, "decline"]), {"reason": "Semua unit sedang bertugas"})
    assignment.refresh_from_db()
    assert assignment.status == "declined" and assignment.decline_reason == "Semua unit sedang bertugas"


def test_a_stale_or_illegal_step_shows_the_error(login, seeded, incident, dispatcher, agency_user):
    (assignment,) = dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher
    )
    client = login(agency_user)
    client.post(reverse("dispatch:step", args=[assignment.pk, "acknowledge"]), {"status": "requested"})
    # A second click from a page that still shows "requested": stale, nothing changes, error shown.
    response = client.post(
        reverse("dispatch:step", args=[assignment.pk, "acknowledge"]),
        {"status": "requested"},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "is already" in response.content.decode()
    # An illegal transition without the stale guard: the service's error is shown.
    response = client.post(
        reverse("dispatch:step", args=[assignment.pk, "complete"]), follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "Cannot change status from acknowledged to completed." in response.content.decode()


def test_assign_a_unit_of_the_own_agency(login, seeded, incident, dispatcher, agency_user):
    from dispatch.models import FieldUnit

    unit = FieldUnit.objects.create(agency=seeded.agency("damkar"), code="DMK-01", name="Unit 01")
    other = FieldUnit.objects.create(agency=seeded.agency("dinkes-psc"), code="AMB-01", name="Ambulans")
    (assignment,) = dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher
    )
    client = login(agency_user)
    response = client.post(reverse("dispatch:assign", args=[assignment.pk]), {"unit": other.pk}, follow=True)
    assignment.refresh_from_db()
    assert assignment.unit is None
    assert response.context["messages"]
    client.post(reverse("dispatch:assign", args=[assignment.pk]), {"unit": unit.pk})
    assignment.refresh_from_db()
    assert assignment.unit == unit
    assert incident.timeline.filter(kind="updated", assignment=assignment).exists()


def test_every_assignment_status_is_either_active_or_ended():
    """The inbox lists active and ended assignments by these two lists: none may fall between."""
    from dispatch.models import Assignment

    active, ended = set(Assignment.ACTIVE_STATUSES), set(Assignment.ENDED_STATUSES)
    assert active | ended == set(Assignment.Status.values) and not active & ended
