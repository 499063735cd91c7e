"""Keyset pagination: complete, stable under inserts, reversible, capped, with clear errors."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Incident
from semarang112.api.pagination import _beyond, _runs

from .conftest import problem

URL = "/api/v1/incidents/"


@pytest.fixture
def client(staff, dispatcher):
    return staff(dispatcher)


@pytest.fixture
def incidents(make_incident):
    now = timezone.now()
    # Same priority for several, so the priority ordering has ties to break.
    return [make_incident(received_at=now - timedelta(minutes=i), priority=1 + i % 2) for i in range(7)]


def walk(client, url, params):
    pages, response = [], client.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        data = response.json()
        pages.append([row["id"] for row in data["results"]])
        if not data["next"]:
            return pages, data
        response = client.get(data["next"])


@pytest.mark.parametrize("ordering", ["-received_at", "received_at", "priority", "-priority", "due_at", "-due_at"])
def test_every_row_exactly_once_in_order(client, incidents, ordering):
    pages, _last = walk(client, URL, {"ordering": ordering, "page_size": 3})
    whole = client.get(URL, {"ordering": ordering, "page_size": 100}).json()["results"]

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [pk for page in pages for pk in page] == [row["id"] for row in whole]


@pytest.mark.parametrize("ordering", ["-received_at", "received_at", "priority", "-priority", "due_at", "-due_at"])
def test_previous_links_walk_back_to_the_first_page(client, incidents, ordering):
    pages, last = walk(client, URL, {"ordering": ordering, "page_size": 3})

    back, response = [], last
    while response["previous"]:
        response = client.get(response["previous"]).json()
        back.append([row["id"] for row in response["results"]])

    assert back == pages[-2::-1]


def test_ties_on_every_leading_field_are_broken_by_id(client, make_incident):
    # Same priority and the same received_at: only the id orders them, in both directions.
    at = timezone.now() - timedelta(minutes=5)
    same = [make_incident(received_at=at, priority=2) for _ in range(5)]

    for ordering, reverse in (("priority", True), ("-priority", True), ("received_at", False)):
        pages, _last = walk(client, URL, {"ordering": ordering, "page_size": 2})
        ids = [pk for page in pages for pk in page]
        assert ids == sorted((i.pk for i in same), reverse=reverse), ordering


def _sql(queryset) -> str:
    with CaptureQueriesContext(connection) as captured:
        list(queryset)
    return captured.captured_queries[-1]["sql"]


@pytest.mark.django_db
def test_one_direction_is_one_row_comparison():
    # (received_at, id) < (x, y): an index condition on (received_at, id), where the equivalent
    # OR of ANDs is only a filter over every row before the cursor.
    at = timezone.now()
    sql = _sql(Incident.objects.filter(_beyond(("-received_at", "-id"), [at, 42], forward=True)))

    assert '("incidents_incident"."received_at", "incidents_incident"."id") < (' in sql
    assert " OR " not in sql


@pytest.mark.django_db
def test_mixed_directions_compare_run_by_run():
    at = timezone.now()
    sql = _sql(Incident.objects.filter(_beyond(("priority", "-received_at", "-id"), [2, at, 42], forward=False)))

    assert _runs(("priority", "-received_at", "-id")) == [("priority",), ("-received_at", "-id")]
    assert '("incidents_incident"."priority") <= (' in sql  # the guard the planner can use
    assert '("incidents_incident"."received_at", "incidents_incident"."id") > (' in sql


def _cursor(ordering: str, values: list) -> str:
    payload = json.dumps({"d": "n", "o": ordering, "v": values})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "ordering, values",
    [
        ("-received_at", ["not a date", 1]),
        ("-received_at", ["2026-01-01T00:00:00+00:00", "x"]),
        ("-received_at", [{"a": 1}, 1]),
        ("-received_at", [None, 1]),
        ("received_at", ["2026-01-01T00:00:00+00:00", None]),
        ("priority", ["high", "2026-01-01T00:00:00+00:00", 1]),
        ("due_at", [[1], 1]),
    ],
)
def test_a_cursor_value_the_field_cannot_take_is_400(client, incidents, ordering, values):
    body = problem(client.get(URL, {"ordering": ordering, "cursor": _cursor(ordering, values)}), 400, "invalid")

    assert list(body["errors"]) == ["cursor"]


@pytest.mark.parametrize("ordering", ["-received_at", "priority", "due_at"])
def test_a_cursor_page_costs_no_more_queries_than_the_first(client, incidents, ordering, django_assert_max_num_queries):
    first = client.get(URL, {"ordering": ordering, "page_size": 2}).json()
    client.get(first["next"])  # warm: a token's "last used" time is written once in 5 minutes

    with django_assert_max_num_queries(6):
        response = client.get(first["next"])

    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 2


def test_stable_under_inserts(client, incidents, make_incident):
    first = client.get(URL, {"page_size": 3}).json()
    make_incident()  # newest: sorts before page one, must not shift the next pages
    rest, _last = walk(client, first["next"], {})

    seen = [row["id"] for row in first["results"]] + [pk for page in rest for pk in page]
    assert sorted(seen) == sorted(incident.pk for incident in incidents)
    assert len(seen) == len(set(seen))


def test_previous_goes_back(client, incidents):
    first = client.get(URL, {"page_size": 3}).json()
    second = client.get(first["next"]).json()

    back = client.get(second["previous"]).json()

    assert first["previous"] is None
    assert [row["id"] for row in back["results"]] == [row["id"] for row in first["results"]]


def test_page_size_is_capped(client, make_incident, settings):
    settings.API_MAX_PAGE_SIZE = 4
    for _ in range(5):
        make_incident()

    assert len(client.get(URL, {"page_size": 1000}).json()["results"]) == 4


@pytest.mark.parametrize(
    "params, field",
    [
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "eyJkIjogIm4iLCAibyI6ICJ4IiwgInYiOiBbXX0"}, "cursor"),
        ({"ordering": "description"}, "ordering"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "many"}, "page_size"),
    ],
)
def test_bad_paging_parameters_are_400(client, incidents, params, field):
    body = problem(client.get(URL, params), 400, "invalid")

    assert list(body["errors"]) == [field]


def test_a_cursor_of_another_ordering_is_400(client, incidents):
    next_link = client.get(URL, {"page_size": 2, "ordering": "priority"}).json()["next"]
    cursor = next_link.split("cursor=")[1].split("&")[0]

    problem(client.get(URL, {"cursor": cursor, "ordering": "received_at"}), 400, "invalid")
