"""Fixtures of the API tests.

    api                 an unauthenticated APIClient
    staff(user)         an APIClient authenticated as ``user`` with a real staff token
    integration(...)    an APIClient authenticated with a real API key:
                        ``integration(scopes=[...], agency=None, name=...)``; ``.api_client``, ``.raw_key``
    problem(response, status, code)   assert the RFC 9457 shape and return the body

The API tests run against tests/api/urls.py (only /api/v1/), and the cache (throttle counters)
is cleared around every test.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from semarang112.api import services as api_services
from semarang112.api.models import SCOPES, ApiClient

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


@pytest.fixture(autouse=True)
def _api_urls(settings):
    settings.ROOT_URLCONF = "tests.api.urls"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def staff(db):
    def make(user) -> APIClient:
        _token, raw = api_services.staff_token_create(user=user, name="test")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
        client.user = user
        return client

    return make


@pytest.fixture
def integration(db):
    counter = iter(range(1, 10_000))

    def make(*, scopes=SCOPES, agency=None, name: str | None = None, throttle_rate: str = "") -> APIClient:
        api_client = ApiClient.objects.create(
            name=name or f"client-{next(counter)}", agency=agency, scopes=list(scopes), throttle_rate=throttle_rate
        )
        _key, raw = api_services.api_key_create(client=api_client)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        client.api_client = api_client
        client.raw_key = raw
        return client

    return make


def problem(response, status: int, code: str | None = None) -> dict:
    """Assert an RFC 9457 problem response and return its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert PROBLEM_KEYS <= set(body), body
    assert body["status"] == status
    assert body["type"].endswith(body["code"])
    if code is not None:
        assert body["code"] == code, body
    return body
