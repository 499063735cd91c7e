"""Timestamps are read by psycopg's C loader, with exactly the values Django's own loader gives."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from django.db import connection

from semarang112.core.postgres import use_c_timestamp_loader

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
