"""Keyset pagination: complete, stable under inserts, reversible, capped, with clear errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

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
