"""Fixtures for the staff console's view tests (people and cases come from tests/conftest.py)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()  # presence lives in the cache
    yield
    cache.clear()


@pytest.fixture
def login():
    """``login(user)`` → a test client logged in as ``user``."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
