"""Who sees which screen, and the 404 matrix for another agency's incident."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dispatch import services as dispatch_services

pytestmark = pytest.mark.django_db

SCREENS = [
    "incidents:intake",
    "incidents:queue",
    "dispatch:board",
    "dispatch:inbox",
    "incidents:map",
    "incidents:notifications",
]


@pytest.mark.parametrize("name", SCREENS)
def test_every_screen_needs_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(reverse("login"))


def test_root_sends_each_role_to_its_home(login, operator, dispatcher, agency_user):
    assert login(operator).get("/")["Location"] == reverse("incidents:intake")
    assert login(dispatcher).get("/")["Location"] == reverse("incidents:queue")
    assert login(agency_user).get("/")["Location"] == reverse("dispatch:inbox")


def test_admin_is_still_there(client):
    assert client.get("/admin/login/").status_code == 200


@pytest.mark.parametrize(
    ("role", "allowed", "forbidden"),
    [
        ("operator", ["incidents:intake", "incidents:queue", "incidents:map"], ["dispatch:board", "dispatch:inbox"]),
        ("dispatcher", ["incidents:intake", "incidents:queue", "dispatch:board"], ["dispatch:inbox"]),
        ("agency_user", ["dispatch:inbox", "incidents:map"], ["incidents:intake", "incidents:queue", "dispatch:board"]),
    ],
)
def test_each_role_sees_its_own_menu_and_screens(request, login, role, allowed, forbidden):
    client = login(request.getfixturevalue(role))
    page = client.get(reverse(allowed[0])).content.decode()
    for name in allowed:
        assert client.get(reverse(name)).status_code == 200, name
        assert f'href="{reverse(name)}"' in page, name
    for name in forbidden:
        assert client.get(reverse(name)).status_code == 403, name
        assert f'href="{reverse(name)}"' not in page, name


def _incident_urls(incident, assignment):
    return [
        ("get", reverse("incidents:detail", args=[incident.pk])),
        ("get", reverse("incidents:presence", args=[incident.pk])),
        ("post", reverse("incidents:action", args=[incident.pk, "note"])),
        ("post", reverse("incidents:action", args=[incident.pk, "verify"])),
        ("get", reverse("dispatch:incident", args=[incident.pk])),
        ("post", reverse("dispatch:step", args=[assignment.pk, "acknowledge"])),
        ("post", reverse("dispatch:step", args=[assignment.pk, "decline"])),
        ("post", reverse("dispatch:assign", args=[assignment.pk])),
    ]


def test_another_agencys_incident_is_404_everywhere(
    login, seeded, incident, dispatcher, other_agency_user, agency_user
):
    """OWASP API1: an agency that has nothing to do with the incident cannot tell it exists."""
    (assignment,) = dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher
    )
    outsider = login(other_agency_user)
    for method, url in _incident_urls(incident, assignment):
        response = getattr(outsider, method)(url, {"note": "x", "reason": "x"})
        assert response.status_code == 404, (method, url, response.status_code)
    # ... and the agency that has the assignment sees it.
    assert login(agency_user).get(reverse("incidents:detail", args=[incident.pk])).status_code == 200


def test_unknown_incident_is_404(login, operator):
    assert login(operator).get(reverse("incidents:detail", args=[999999])).status_code == 404


def test_caller_data_is_masked_for_an_agency_with_only_a_view_share(
    login, seeded, incident, dispatcher, other_agency_user
):
    dispatch_services.incident_share(
        incident=incident, agency=seeded.agency("satpol-pp"), level="view", actor=dispatcher
    )
    page = login(other_agency_user).get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert incident.reference in page
    assert incident.caller_number not in page
    assert "Budi" not in page
    assert (
        incident.caller_number
        in login(dispatcher).get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    )
