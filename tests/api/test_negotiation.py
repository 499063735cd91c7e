"""Content negotiation answers as DRF's own does, remembered per Accept header (not refusals)."""

from __future__ import annotations

import json

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from semarang112.api import negotiation
from semarang112.api.negotiation import CachedContentNegotiation

from .conftest import problem

URL = "/api/v1/incidents/"


@pytest.fixture(autouse=True)
def _no_remembered_answers(monkeypatch):
    monkeypatch.setattr(negotiation, "_answers", {})


@pytest.fixture
def operator_api(staff, operator):
    return staff(operator)


def test_the_same_accept_header_is_answered_alike_every_time(operator_api):
    for _ in range(2):
        response = operator_api.get(URL, HTTP_ACCEPT="application/json")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
    assert len(negotiation._answers) == 1


def test_a_parameter_of_the_accepted_type_is_kept_per_header(operator_api):
    indented = operator_api.get(URL, HTTP_ACCEPT="application/json; indent=4")
    compact = operator_api.get(URL, HTTP_ACCEPT="*/*")

    assert indented.content.decode().startswith('{\n    "')
    assert compact.content.decode().startswith('{"')
    assert json.loads(indented.content) == json.loads(compact.content)


def test_refusals_are_not_remembered_and_stay_refusals(operator_api):
    for _ in range(2):
        problem(operator_api.get(URL, HTTP_ACCEPT="text/html"), 406, "not_acceptable")
        problem(operator_api.get(URL, {"format": "xml"}), 404, "not_found")
    assert negotiation._answers == {}
    assert operator_api.get(URL, {"format": "json"}).status_code == 200


def test_it_hands_out_this_request_s_renderer_and_keeps_a_bounded_number_of_answers(monkeypatch):
    monkeypatch.setattr(negotiation, "MAX_ENTRIES", 3)
    factory, chooser = APIRequestFactory(), CachedContentNegotiation()
    for n in range(10):
        renderers = [JSONRenderer()]
        request = factory.get("/", HTTP_ACCEPT=f"application/json; indent={n}")
        renderer, media_type = chooser.select_renderer(Request(request), renderers)
        assert renderer is renderers[0]
        assert media_type == f"application/json; indent={n}"
        assert len(negotiation._answers) <= 3
