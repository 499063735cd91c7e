"""Incident page, dispatch board, map, presence, language and notifications."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from dispatch import services as dispatch_services
from incidents import services
from semarang112.console.models import UserPreference
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def _detail(client, incident, lang="en"):
    return client.get(reverse("incidents:detail", args=[incident.pk]), HTTP_ACCEPT_LANGUAGE=lang)


def test_the_page_shows_fields_timeline_assignments_and_only_allowed_actions(
    login, seeded, incident, operator, dispatcher
):
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    html = _detail(login(operator), incident).content.decode()
    assert incident.reference in html and incident.description in html
    assert "Dinas Pemadam Kebakaran" in html  # assignment
    assert "Agency dispatched" in html  # timeline
    assert reverse("incidents:action", args=[incident.pk, "note"]) in html
    # A call-taker may not resolve or close, and an already dispatched incident cannot be verified.
    assert reverse("incidents:action", args=[incident.pk, "resolve"]) not in html
    assert reverse("incidents:action", args=[incident.pk, "close"]) not in html
    assert reverse("incidents:action", args=[incident.pk, "verify"]) not in html


def test_an_action_runs_the_service(login, incident, operator):
    client = login(operator)
    response = client.post(reverse("incidents:action", args=[incident.pk, "verify"]), {"version": incident.version})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "verified"


def test_a_forbidden_action_shows_the_error(login, incident, operator):
    response = login(operator).post(
        reverse("incidents:action", args=[incident.pk, "close"]), follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "You are not allowed to do this (incident.close)." in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == "received"


def test_an_illegal_transition_shows_the_error(login, incident, supervisor):
    response = login(supervisor).post(
        reverse("incidents:action", args=[incident.pk, "close"]),
        {"version": incident.version},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "Cannot change status from received to closed." in response.content.decode()


def test_a_stale_action_shows_the_error(login, incident, operator, supervisor):
    page_version = incident.version
    services.incident_verify(incident=incident, actor=supervisor)  # someone else, meanwhile
    response = login(operator).post(
        reverse("incidents:action", args=[incident.pk, "cancel"]),
        {"version": page_version, "reason": "Duplicate"},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "was changed by someone else" in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == "verified"


def test_form_errors_of_an_action_are_shown(login, incident, operator):
    response = login(operator).post(
        reverse("incidents:action", args=[incident.pk, "note"]), {"note": ""}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "A note cannot be empty." in response.content.decode()
    response = login(operator).post(
        reverse("incidents:action", args=[incident.pk, "cancel"]),
        {"version": incident.version},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "This field is required." in response.content.decode()


def test_notes_and_merge(login, make_incident, dispatcher):
    first, second = make_incident(), make_incident()
    client = login(dispatcher)
    client.post(reverse("incidents:action", args=[second.pk, "note"]), {"note": "Penelepon kedua"})
    assert second.timeline.filter(kind="note", note="Penelepon kedua").exists()
    client.post(
        reverse("incidents:action", args=[second.pk, "merge"]),
        {"into": first.reference.lower(), "version": second.version},
    )
    second.refresh_from_db()
    assert second.status == "merged" and second.duplicate_of == first


def test_presence_shows_who_else_has_the_incident_open(login, incident, operator, dispatcher):
    operator.first_name, operator.last_name = "Sari", "Operator"
    operator.save(update_fields=["first_name", "last_name"])
    _detail(login(operator), incident)
    html = _detail(login(dispatcher), incident).content.decode()
    assert "Sari Operator" in html
    html = (
        login(operator)
        .get(reverse("incidents:presence", args=[incident.pk]), HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
    )
    assert dispatcher.get_full_name() in html and "Sari Operator" not in html


# ------------------------------------------------------------------------------------------------
# Dispatch board
# ------------------------------------------------------------------------------------------------
def test_board_suggests_routing_and_dispatches_to_two_agencies_in_one_action(login, seeded, incident, dispatcher):
    client = login(dispatcher)
    page = client.get(reverse("dispatch:incident", args=[incident.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert page.context["checked"] == {seeded.agency("damkar").pk, seeded.agency("dinkes-psc").pk}  # fire → routing
    response = client.post(
        reverse("dispatch:incident", args=[incident.pk]),
        {"agencies": [seeded.agency("damkar").pk, seeded.agency("dinkes-psc").pk], "version": incident.version},
    )
    assert response.status_code == 302, response.content
    incident.refresh_from_db()
    assert incident.status == "dispatched"
    assert set(incident.assignments.values_list("agency__code", flat=True)) == {"damkar", "dinkes-psc"}


def test_board_errors_are_shown(login, seeded, incident, dispatcher):
    client = login(dispatcher)
    response = client.post(
        reverse("dispatch:incident", args=[incident.pk]), {"agencies": []}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert "Choose at least one agency." in response.content.decode()
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    response = client.post(
        reverse("dispatch:incident", args=[incident.pk]),
        {"agencies": [seeded.agency("damkar").pk]},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "Already dispatched to: damkar." in response.content.decode()


# ------------------------------------------------------------------------------------------------
# Map
# ------------------------------------------------------------------------------------------------
def test_map_data_has_the_visible_open_incidents_with_coordinates(
    login, make_incident, seeded, dispatcher, agency_user
):
    located = make_incident(latitude="-7.0", longitude="110.4")
    make_incident()  # no coordinates
    data = login(dispatcher).get(reverse("incidents:map_data")).json()
    assert [p["reference"] for p in data["points"]] == [located.reference]
    assert login(agency_user).get(reverse("incidents:map_data")).json()["points"] == []  # nothing assigned to damkar
    page = login(dispatcher).get(reverse("incidents:map")).content.decode()
    assert "vendor/leaflet/leaflet.js" in page and "map-points" in page


# ------------------------------------------------------------------------------------------------
# Language
# ------------------------------------------------------------------------------------------------
def test_indonesian_by_default_and_english_persists_for_the_user(operator):
    client = Client()
    client.login(username=operator.username, password=DEFAULT_PASSWORD)
    assert '<html lang="id">' in client.get(reverse("incidents:intake")).content.decode()
    response = client.post(reverse("console:language"), {"language": "en", "next": reverse("incidents:intake")})
    assert response.status_code == 302 and response["Location"] == reverse("incidents:intake")
    assert UserPreference.objects.get(user=operator).language == "en"
    assert '<html lang="en">' in client.get(reverse("incidents:intake")).content.decode()
    # Another browser (no cookie): the saved choice comes back at login.
    other = Client()
    other.post(reverse("login"), {"username": operator.username, "password": DEFAULT_PASSWORD})
    assert '<html lang="en">' in other.get(reverse("incidents:intake")).content.decode()


def test_language_switch_refuses_foreign_redirects(login, operator):
    response = login(operator).post(reverse("console:language"), {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == "/"


# ------------------------------------------------------------------------------------------------
# Notifications
# ------------------------------------------------------------------------------------------------
def test_notifications_count_list_and_mark_read(login, incident, dispatcher, supervisor):
    from incidents.models import Notification

    mine = Notification.objects.create(
        recipient=dispatcher, incident=incident, kind="sla_warning", message="Dispatch soon due"
    )
    Notification.objects.create(recipient=supervisor, incident=incident, kind="sla_breach", message="Not mine")
    client = login(dispatcher)
    html = client.get(reverse("incidents:queue"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<span class="badge" aria-label="1 unread">1</span>' in html
    html = client.get(reverse("incidents:notifications")).content.decode()
    assert "Dispatch soon due" in html and "Not mine" not in html
    client.post(reverse("incidents:notifications_read"), {"ids": [mine.pk]})
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert Notification.objects.filter(recipient=supervisor, read_at__isnull=True).count() == 1
