"""The timeline is append-only: the ORM refuses changes, and on PostgreSQL so does the database."""

from __future__ import annotations

import importlib
import re
from types import SimpleNamespace

import pytest
from django.db import DatabaseError, connection, transaction

from incidents import services
from incidents.models import TimelineEvent
from tests.factories import reload

K = TimelineEvent.Kind


@pytest.fixture
def event(incident, dispatcher) -> TimelineEvent:
    return services.incident_add_note(incident=incident, actor=dispatcher, note="Unit terdekat 5 menit.")


# ------------------------------------------------------------------------------------------------
# ORM guards
# ------------------------------------------------------------------------------------------------
def test_saving_an_existing_event_raises(event):
    event.note = "rewritten"

    with pytest.raises(TypeError, match="append-only"):
        event.save()

    assert reload(event).note == "Unit terdekat 5 menit."


def test_deleting_an_event_raises(event):
    with pytest.raises(TypeError, match="append-only"):
        event.delete()

    assert TimelineEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize(
    "write",
    [
        lambda e: TimelineEvent.objects.filter(pk=e.pk).update(note="x"),
        lambda e: TimelineEvent.objects.filter(pk=e.pk).delete(),
        lambda e: TimelineEvent.objects.all().delete(),
        lambda e: e.incident.timeline.all().delete(),
        lambda e: e.incident.timeline.update(note="x"),
        lambda e: TimelineEvent.objects.bulk_update([e], ["note"]),
    ],
    ids=["update", "delete", "delete-all", "related-delete", "related-update", "bulk_update"],
)
def test_queryset_writes_raise(event, write):
    event.note = "x"

    with pytest.raises(TypeError, match="append-only"), transaction.atomic():
        write(event)

    assert reload(event).note == "Unit terdekat 5 menit."


def test_new_events_can_still_be_added(incident, dispatcher):
    services.incident_add_note(incident=incident, actor=dispatcher, note="satu")
    services.incident_add_note(incident=incident, actor=dispatcher, note="dua")

    assert [e.kind for e in incident.timeline.all()] == [K.CREATED, K.NOTE, K.NOTE]


def test_events_read_in_the_order_they_happened(incident, dispatcher):
    # events carry their own time; the timeline reads in that order, ties broken by id
    notes = [services.incident_add_note(incident=incident, actor=dispatcher, note=str(i)) for i in range(3)]

    assert list(incident.timeline.filter(kind=K.NOTE)) == notes


# ------------------------------------------------------------------------------------------------
# Database trigger (migration incidents/0002_timeline_append_only)
# ------------------------------------------------------------------------------------------------
def test_trigger_migration_sql_survives_postgresql_parameter_merging():
    # regression: with the default params=() Django's PostgreSQL schema editor merges parameters
    # client-side and psycopg read the "%" in RAISE's message as a placeholder (migrate failed)
    # given the migration run against a PostgreSQL schema editor that records what it is asked to execute
    migration = importlib.import_module("incidents.migrations.0002_timeline_append_only")
    executed = []
    editor = SimpleNamespace(
        connection=SimpleNamespace(vendor="postgresql"),
        execute=lambda sql, params=(): executed.append((sql, params)),
    )

    # when it runs forwards and backwards
    migration.forward(None, editor)
    migration.backward(None, editor)

    # then every statement either skips parameter merging (params=None) or has no stray '%'
    # (the PostgreSQL schema editor merges params client-side unless params is None)
    assert len(executed) == 2
    for sql, params in executed:
        assert params is None or "%" not in re.sub(r"%%|%s", "", sql), sql


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE incidents_timelineevent SET note = 'rewritten' WHERE id = %s",
        "DELETE FROM incidents_timelineevent WHERE id = %s",
    ],
    ids=["update", "delete"],
)
def test_raw_sql_update_and_delete_are_refused_by_postgresql(event, sql):
    # when someone bypasses the ORM
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [event.pk])

    # then the row is untouched
    assert reload(event).note == "Unit terdekat 5 menit."


@pytest.mark.postgres
def test_raw_sql_insert_is_still_allowed_on_postgresql(event):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO incidents_timelineevent (incident_id, kind, from_state, to_state, note, payload, actor_label, created_at)"
            " VALUES (%s, 'note', '', '', 'raw', '{}', 'dba', now())",
            [event.incident_id],
        )

    assert event.incident.timeline.filter(note="raw").exists()


def test_without_postgresql_the_trigger_migration_is_a_no_op(sqlite_only, event):
    # on SQLite only the ORM guards apply (documented in the migration)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE incidents_timelineevent SET note = 'rewritten' WHERE id = %s", [event.pk])

    assert reload(event).note == "rewritten"
