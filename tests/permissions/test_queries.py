"""Listing incidents for an agency costs a constant number of queries, however many it sees.

The agency sees incidents through its assignments (one semi-join) and through live shares (one
small query over the guardian grants); neither may turn into a query per row. Measured through the
API list and the console's inbox (agency) and queue (command center, auditors), at 5 and at 50
incidents: the counts must be equal, and under a fixed ceiling.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dispatch import services as dispatch_services
from dispatch.models import Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/incidents/"


@pytest.fixture
def grow(seeded, make_incident, dispatcher):
    """``grow(n)``: n more incidents the fire service sees — most dispatched to it (some with a
    second agency), every fifth only shared with it (dispatched to Satpol PP, view or assist)."""
    damkar, satpol, psc = seeded.agency("damkar"), seeded.agency("satpol-pp"), seeded.agency("dinkes-psc")

    def make(n: int) -> None:
        for index in range(n):
            incident = make_incident()
            if index % 5 == 4:
                dispatch_services.incident_dispatch(incident=incident, agencies=[satpol], actor=dispatcher)
                level = "assist" if index % 2 else "view"
                dispatch_services.incident_share(incident=incident, agency=damkar, level=level, actor=dispatcher)
            else:
                agencies = [damkar, psc] if index % 3 == 0 else [damkar]
                dispatch_services.incident_dispatch(incident=incident, agencies=agencies, actor=dispatcher)

    return make


def _count(call) -> tuple[int, object]:
    """Queries of ``call()`` once warm (a token's "last used" time is written once in 5 minutes)."""
    call()
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code == 200, response.content
    return len(queries), response


def test_api_list_for_an_agency_is_constant(api_as, agency_user, grow, django_assert_max_num_queries):
    client = api_as(agency_user)
    grow(5)
    small, response = _count(lambda: client.get(API, {"page_size": 100}))
    assert len(response.json()["results"]) == 5
    grow(45)
    large, response = _count(lambda: client.get(API, {"page_size": 100}))
    rows = response.json()["results"]
    assert len(rows) == 50
    assert sum(row["personal_data_masked"] for row in rows) == 10  # the shared ones
    assert large == small
    with django_assert_max_num_queries(8):
        client.get(API, {"page_size": 100})


@pytest.mark.parametrize("n", [5, 50])
def test_api_list_for_an_agency_client_stays_under_the_ceiling(api_as, seeded, grow, n, django_assert_max_num_queries):
    from semarang112.api.models import ApiClient

    client = api_as(
        api_client=ApiClient.objects.create(
            name="damkar-sys", agency=seeded.agency("damkar"), scopes=["incidents:read"]
        )
    )
    grow(n)
    # Cold: the first request after a configuration change also loads the configuration cache
    # (API keys; the regions, categories, districts and agencies list rows refer to), once.
    with django_assert_max_num_queries(12):
        client.get(API, {"page_size": 100})
    with django_assert_max_num_queries(8):
        response = client.get(API, {"page_size": 100})
    assert len(response.json()["results"]) == n


def test_console_inbox_for_an_agency_is_constant(login, agency_user, grow):
    client = login(agency_user)
    grow(5)
    small, _response = _count(lambda: client.get(reverse("dispatch:inbox")))
    grow(45)
    large, response = _count(lambda: client.get(reverse("dispatch:inbox")))
    assert large == small, (small, large)
    assert response.content.decode().count("data-clock") >= 40


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.AUDITOR])
def test_console_queue_is_constant(login, seeded, grow, role):
    user = MembershipFactory(user=UserFactory(username=f"queue-{role}"), agency=seeded.agency("cc112"), role=role).user
    client = login(user)
    grow(5)
    small, _response = _count(lambda: client.get(reverse("incidents:queue")))
    grow(45)
    large, _response = _count(lambda: client.get(reverse("incidents:queue")))
    assert large == small, (small, large)


def test_console_map_for_an_agency_is_constant(login, agency_user, grow):
    client = login(agency_user)
    grow(5)
    small, _response = _count(lambda: client.get(reverse("incidents:map_data")))
    grow(45)
    large, _response = _count(lambda: client.get(reverse("incidents:map_data")))
    assert large == small, (small, large)
