"""Timestamps are read by psycopg's C loader, with exactly the values Django's own loader gives;
the intake's statements are prepared once per connection."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from django.db import connection

from semarang112.core.postgres import prepared_cursor, use_c_timestamp_loader

pytestmark = pytest.mark.django_db

SAMPLES = [
    "2026-11-30 14:00:01.123456+00",
    "2026-11-30 21:00:01+07",  # the center's own offset
    "2025-03-01 00:00:00-03:30",
    "1900-01-01 00:00:00+00",
    "2999-12-31 23:59:59.999999+00",
]


def read(cursor) -> list[datetime.datetime]:
    cursor.execute("SELECT " + ", ".join(f"'{value}'::timestamptz" for value in SAMPLES) + ", NULL::timestamptz")
    return list(cursor.fetchone())


@pytest.mark.postgres
def test_the_connection_reads_timestamps_with_the_c_loader_and_the_same_values():
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg import postgres, pq

    with connection.cursor() as cursor:
        ours = read(cursor)
        loader = cursor.connection.adapters.get_loader(postgres.types["timestamptz"].oid, pq.Format.TEXT)
    assert loader.__module__ == "semarang112.core.postgres"
    assert loader.timezone is datetime.UTC  # Django's per-cursor check then keeps it

    with connection.cursor() as cursor:
        register_tzloader(datetime.UTC, cursor.cursor)  # Django's own loader, on this cursor only
        django = read(cursor)

    assert ours == django
    assert [value.tzinfo for value in ours[:-1]] == [datetime.UTC] * len(SAMPLES)
    assert ours[-1] is None


def test_other_databases_and_time_zones_keep_djangos_loader():
    assert use_c_timestamp_loader(None, SimpleNamespace(vendor="sqlite", timezone=datetime.UTC)) is False
    jakarta = datetime.timezone(datetime.timedelta(hours=7))
    assert use_c_timestamp_loader(None, SimpleNamespace(vendor="postgresql", timezone=jakarta)) is False
    session_in_jakarta = SimpleNamespace(
        vendor="postgresql",
        timezone=datetime.UTC,
        connection=SimpleNamespace(info=SimpleNamespace(parameter_status=lambda name: "Asia/Jakarta")),
    )
    assert use_c_timestamp_loader(None, session_in_jakarta) is False


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.postgres
def test_a_prepared_cursor_prepares_its_statement_once_and_logs_it():
    from django.test.utils import CaptureQueriesContext

    sql = "SELECT %s::int + 1 AS next_value /* prepared-cursor test */"
    with CaptureQueriesContext(connection) as queries:
        for value in (1, 2, 3):
            with prepared_cursor(connection) as cursor:
                cursor.execute(sql, [value])
                assert cursor.fetchone() == (value + 1,)

    assert [q["sql"] for q in queries] == ["SELECT $1::int + 1 AS next_value /* prepared-cursor test */"] * 3
    assert sum("prepared-cursor test" in statement for statement in prepared_statements()) == 1
    with connection.cursor() as cursor:  # Django's own cursors stay unprepared (client-side binding)
        cursor.execute("SELECT 1 /* plain cursor test */")
        cursor.execute("SELECT 1 /* plain cursor test */")
    assert not [s for s in prepared_statements() if "plain cursor test" in s]


@pytest.mark.postgres
def test_the_intakes_statements_are_prepared(seeded):
    """What an API report sends, but BEGIN and COMMIT: parsed and planned once per connection."""
    from rest_framework.test import APIClient

    from semarang112.api.models import ApiClient
    from semarang112.api.services import api_key_create

    _key, raw = api_key_create(client=ApiClient.objects.create(name="prepared", scopes=["incidents:create"]))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    body = {"category": "fire", "description": "Kebakaran gudang.", "caller_number": "081234567890"}
    for key in ("prepared-1", "prepared-2"):
        response = client.post("/api/v1/incidents/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert response.status_code == 201, response.content

    prepared = prepared_statements()
    for fragment in (
        "INSERT INTO api_idempotencyrecord",
        'INSERT INTO "incidents_incident"',
        'INSERT INTO "incidents_timelineevent"',
        "UPDATE api_idempotencyrecord",
        "SELECT value FROM core_configversion",
    ):
        assert sum(fragment in statement for statement in prepared) == 1, fragment
