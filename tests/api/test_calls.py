"""Contract tests of /api/v1/calls/."""

from __future__ import annotations

import pytest

from dispatch.models import Role
from incidents.models import Call
from tests.factories import MembershipFactory, UserFactory

from .conftest import problem

URL = "/api/v1/calls/"


def test_operator_records_a_call(staff, operator, seeded):
    response = staff(operator).post(
        URL, {"caller_number": "0812 3456 7890", "caller_name": "Siti", "channel": "phone_112"}, format="json"
    )

    assert response.status_code == 201, response.content
    data = response.json()
    assert response["Location"] == f"{URL}{data['id']}/"
    assert data["caller_number"] == "+6281234567890" and data["outcome"] == "pending"
    assert data["operator"] == "operator"


def test_a_non_case_outcome_ends_the_call(staff, operator, seeded):
    response = staff(operator).post(URL, {"caller_number": "0812", "outcome": "prank"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["outcome"] == "prank"


def test_an_emergency_outcome_needs_an_incident(staff, operator, seeded):
    body = problem(
        staff(operator).post(URL, {"outcome": "emergency"}, format="json"), 400, "call_outcome_needs_incident"
    )

    assert list(body["errors"]) == ["outcome"]


def test_call_times_are_checked(staff, operator, seeded):
    body = {"started_at": "2026-01-01T10:00:00+07:00", "answered_at": "2026-01-01T09:00:00+07:00"}

    problem(staff(operator).post(URL, body, format="json"), 400, "call_times_invalid")


def test_list_and_retrieve(staff, operator, seeded):
    client = staff(operator)
    first = client.post(URL, {"caller_number": "081111111111"}, format="json").json()
    second = client.post(URL, {"caller_number": "082222222222"}, format="json").json()

    rows = client.get(URL).json()["results"]

    assert [row["id"] for row in rows] == [second["id"], first["id"]]
    assert client.get(f"{URL}{first['id']}/").json()["caller_number"] == "+6281111111111"


def test_link_a_call_to_an_open_incident(staff, operator, incident):
    client = staff(operator)
    call = client.post(URL, {"caller_number": "081111111111"}, format="json").json()

    response = client.post(f"{URL}{call['id']}/link/", {"incident": incident.pk}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["incident"] == incident.pk and response.json()["outcome"] == "duplicate"
    assert incident.timeline.filter(kind="call_linked").exists()


def test_linking_twice_is_409(staff, operator, incident):
    client = staff(operator)
    call = client.post(URL, {}, format="json").json()
    client.post(f"{URL}{call['id']}/link/", {"incident": incident.pk}, format="json")

    problem(
        client.post(f"{URL}{call['id']}/link/", {"incident": incident.pk}, format="json"), 409, "call_already_linked"
    )


def test_link_to_an_unknown_incident_is_400_naming_the_field(staff, operator, seeded):
    client = staff(operator)
    call = client.post(URL, {}, format="json").json()

    body = problem(client.post(f"{URL}{call['id']}/link/", {"incident": 424242}, format="json"), 400, "invalid")

    assert list(body["errors"]) == ["incident"]


def test_set_the_outcome_of_a_pending_call(staff, operator, seeded):
    client = staff(operator)
    call = client.post(URL, {"caller_number": "0812"}, format="json").json()

    response = client.post(f"{URL}{call['id']}/outcome/", {"outcome": "information"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "information" and response.json()["ended_at"]


@pytest.mark.parametrize("method, suffix", [("get", ""), ("post", "link/"), ("post", "outcome/")])
def test_agency_staff_do_not_see_calls(staff, operator, agency_user, seeded, method, suffix):
    call = staff(operator).post(URL, {}, format="json").json()

    problem(getattr(staff(agency_user), method)(f"{URL}{call['id']}/{suffix}", {}, format="json"), 404, "not_found")
    assert staff(agency_user).get(URL).json()["results"] == []


def test_caller_data_of_calls_is_masked_for_auditors(staff, operator, seeded, settings):
    settings.AUDITOR_SEES_PERSONAL_DATA = False
    auditor = MembershipFactory(user=UserFactory(username="aud"), agency=seeded.agency("cc112"), role=Role.AUDITOR).user
    staff(operator).post(URL, {"caller_number": "081234567890", "caller_name": "Siti Aminah"}, format="json")

    (row,) = staff(auditor).get(URL).json()["results"]

    assert row["caller_number"] == "+628****890" and row["caller_name"] == "S*** A***"


@pytest.mark.parametrize("page_size", [10, 100])
def test_call_list_query_count_is_constant(staff, operator, seeded, page_size, django_assert_max_num_queries):
    from incidents import services

    for _ in range(page_size):
        services.call_create(actor=operator, caller_number="081234567890")
    client = staff(operator)

    with django_assert_max_num_queries(5):
        response = client.get(URL, {"page_size": page_size})

    assert len(response.json()["results"]) == page_size
    assert Call.objects.count() == page_size
