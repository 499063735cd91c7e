"""insert(): one precompiled INSERT per new row, with Model.save()'s result, column for column;
insert_pair(): a row and the row that references it, in one statement on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save, pre_save
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dispatch.models import Assignment
from incidents.models import Incident, TimelineEvent
from semarang112.core.inserts import SqlValue, insert, insert_pair
from tests.factories import CategoryFactory, DistrictFactory, UserFactory, create_incident, default_region

pytestmark = pytest.mark.django_db


def columns(obj) -> dict:
    """Every column as the database holds it (read back, not the instance's attributes)."""
    row = type(obj).objects.filter(pk=obj.pk).values()[0]
    return {name: value for name, value in row.items() if name != "id"}


def incident_fields(**extra) -> dict:
    category = CategoryFactory(code="fire-ins")
    return {
        "region": default_region(),
        "category": category,
        "priority": 2,
        "channel": "api",
        "description": "Kebakaran gudang",
        "address": "Jl. Pemuda 1",
        "district": DistrictFactory(),
        "latitude": Decimal("-6.990000"),
        "longitude": Decimal("110.420000"),
        "caller_name": "Budi",
        "caller_number": "+6281234567890",
        "received_at": timezone.now() - timedelta(minutes=3),
        "dispatch_due_at": timezone.now() + timedelta(minutes=1),
        "created_by": UserFactory(),
        **extra,
    }


def test_an_incident_row_equals_the_one_save_writes():
    fields = incident_fields()
    saved = Incident.objects.create(reference="SMG-TEST-0001", **fields)
    inserted = insert(Incident(reference="SMG-TEST-0002", **fields))

    assert inserted.pk is not None and inserted.pk != saved.pk
    assert not inserted._state.adding and inserted._state.db == "default"
    ours, django = columns(inserted), columns(saved)
    # auto_now_add / auto_now are set at insert time, as save() does
    for moment in ("created_at", "updated_at"):
        assert abs(ours.pop(moment) - django.pop(moment)) < timedelta(seconds=5)
        assert getattr(inserted, moment) is not None
    assert ours.pop("reference") == "SMG-TEST-0002"
    django.pop("reference")
    assert ours == django
    # the instance is usable as a saved one: refresh, update, relations
    inserted.refresh_from_db()
    assert model_to_dict(inserted, exclude=["id", "reference"]) == model_to_dict(saved, exclude=["id", "reference"])


def test_a_timeline_event_row_equals_the_one_save_writes_and_its_json_round_trips():
    incident = create_incident()
    payload = {"category": "fire", "suggested_agencies": ["damkar", "bpbd"], "priority": 1, "ünïcode": "✓"}
    saved = TimelineEvent.objects.create(incident=incident, kind="note", note="n", payload=payload, actor_label="x")
    inserted = insert(TimelineEvent(incident=incident, kind="note", note="n", payload=payload, actor_label="x"))

    ours, django = columns(inserted), columns(saved)
    assert abs(ours.pop("created_at") - django.pop("created_at")) < timedelta(seconds=5)
    assert ours == django
    assert ours["payload"] == payload


def test_it_is_one_statement_and_sends_the_save_signals():
    incident = create_incident()
    seen = []

    def before(sender, instance, raw, **kwargs):
        seen.append(("pre", instance.pk, raw))

    def after(sender, instance, created, raw, update_fields, **kwargs):
        seen.append(("post", instance.pk, created, raw, update_fields))

    pre_save.connect(before, sender=TimelineEvent, dispatch_uid="test-inserts-pre")
    post_save.connect(after, sender=TimelineEvent, dispatch_uid="test-inserts-post")
    try:
        insert(TimelineEvent(incident=incident, kind="note", note="warm"))  # compiles (no query)
        with CaptureQueriesContext(connection) as queries:
            event = insert(TimelineEvent(incident=incident, kind="note", note="again"))
    finally:
        pre_save.disconnect(sender=TimelineEvent, dispatch_uid="test-inserts-pre")
        post_save.disconnect(sender=TimelineEvent, dispatch_uid="test-inserts-post")

    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert inserts and all('"incidents_timelineevent"' in sql for sql in inserts)
    assert len([sql for sql in inserts if '"incidents_timelineevent"' in sql]) == 1
    assert seen[-2:] == [("pre", None, False), ("post", event.pk, True, False, None)]


def test_an_unsaved_related_object_is_refused_as_save_refuses_it():
    unsaved = Incident(reference="SMG-TEST-0003")

    with pytest.raises(ValueError, match="unsaved related object"):
        insert(TimelineEvent(incident=unsaved, kind="note"))
    assert TimelineEvent.objects.count() == 0


def test_a_row_with_its_own_primary_key_goes_through_save():
    incident = create_incident()
    event = insert(TimelineEvent(pk=987654, incident=incident, kind="note"))

    assert TimelineEvent.objects.filter(pk=987654, incident=incident).exists()
    assert not event._state.adding


def test_a_database_error_leaves_no_row_and_the_instance_unsaved():
    fields = incident_fields()
    Incident.objects.create(reference="SMG-TEST-DUP", **fields)
    duplicate = Incident(reference="SMG-TEST-DUP", **fields)

    with pytest.raises(IntegrityError), transaction.atomic():
        insert(duplicate)
    assert duplicate.pk is None and duplicate._state.adding
    assert Incident.objects.filter(reference="SMG-TEST-DUP").count() == 1



# ------------------------------------------------------------------------------------------------
# insert_pair(): the incident and its first timeline event
# ------------------------------------------------------------------------------------------------
def event_for(incident, **extra) -> TimelineEvent:
    return TimelineEvent(
        incident=incident, kind="created", to_state="received", actor_label="api:x", payload={"a": [1, "✓"]}, **extra
    )


def test_the_pair_writes_the_rows_save_writes_and_both_instances_are_saved():
    fields = incident_fields()
    saved = Incident.objects.create(reference="SMG-TEST-0101", **fields)
    saved_event = event_for(saved)
    saved_event.save()
    incident = Incident(reference="SMG-TEST-0102", **fields)
    event = event_for(incident)

    assert insert_pair(incident, event, link="incident") is incident

    assert incident.pk is not None and event.pk is not None
    assert not incident._state.adding and not event._state.adding
    assert event.incident_id == incident.pk
    with CaptureQueriesContext(connection) as queries:
        assert event.incident is incident  # the relation is kept, not read again
    assert not queries.captured_queries
    ours, django = columns(incident), columns(saved)
    for moment in ("created_at", "updated_at"):
        assert abs(ours.pop(moment) - django.pop(moment)) < timedelta(seconds=5)
    assert ours.pop("reference") == "SMG-TEST-0102"
    django.pop("reference")
    assert ours == django
    ours, django = columns(event), columns(saved_event)
    assert abs(ours.pop("created_at") - django.pop("created_at")) < timedelta(seconds=5)
    assert ours.pop("incident_id") == incident.pk
    django.pop("incident_id")
    assert ours == django


def test_the_pair_is_one_statement_on_postgresql_and_sends_both_save_signals():
    fields = incident_fields()
    seen = []

    def before(sender, instance, raw, **kwargs):
        seen.append(("pre", sender.__name__, instance.pk))

    def after(sender, instance, created, raw, update_fields, **kwargs):
        seen.append(("post", sender.__name__, instance.pk, created))

    for model in (Incident, TimelineEvent):
        pre_save.connect(before, sender=model, dispatch_uid=f"test-pair-pre-{model.__name__}")
        post_save.connect(after, sender=model, dispatch_uid=f"test-pair-post-{model.__name__}")
    try:
        incident = Incident(reference="SMG-TEST-0103", **fields)
        event = event_for(incident)
        with CaptureQueriesContext(connection) as queries:
            insert_pair(incident, event, link="incident")
    finally:
        for model in (Incident, TimelineEvent):
            pre_save.disconnect(sender=model, dispatch_uid=f"test-pair-pre-{model.__name__}")
            post_save.disconnect(sender=model, dispatch_uid=f"test-pair-post-{model.__name__}")

    writes = [q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"]]
    if connection.vendor == "postgresql":
        assert len(writes) == 1 and writes[0].startswith("WITH parent_row AS (INSERT INTO \"incidents_incident\"")
        assert seen == [
            ("pre", "Incident", None),
            ("pre", "TimelineEvent", None),
            ("post", "Incident", incident.pk, True),
            ("post", "TimelineEvent", event.pk, True),
        ]
    else:  # no data-modifying CTE: insert() twice
        assert len(writes) == 2
        assert seen == [
            ("pre", "Incident", None),
            ("post", "Incident", incident.pk, True),
            ("pre", "TimelineEvent", None),
            ("post", "TimelineEvent", event.pk, True),
        ]


def test_an_unsaved_object_elsewhere_in_the_child_is_refused_before_anything_is_written():
    incident = Incident(reference="SMG-TEST-0104", **incident_fields())
    event = event_for(incident, assignment=Assignment())

    with pytest.raises(ValueError, match="unsaved related object"), transaction.atomic():
        insert_pair(incident, event, link="incident")
    assert not Incident.objects.filter(reference="SMG-TEST-0104").exists()
    assert TimelineEvent.objects.count() == 0


def test_a_database_error_in_the_pair_leaves_neither_row():
    fields = incident_fields()
    Incident.objects.create(reference="SMG-TEST-DUP2", **fields)
    incident = Incident(reference="SMG-TEST-DUP2", **fields)
    event = event_for(incident)

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_pair(incident, event, link="incident")
    assert incident.pk is None and incident._state.adding
    assert event.pk is None and event._state.adding
    assert Incident.objects.filter(reference="SMG-TEST-DUP2").count() == 1
    assert TimelineEvent.objects.count() == 0


# ------------------------------------------------------------------------------------------------
# SqlValue: a column the database computes in the INSERT, returned and set on the instance
# ------------------------------------------------------------------------------------------------
REFERENCE_SQL = "%s || %s"  # any expression the database evaluates per row


@pytest.mark.parametrize("write", ["insert", "pair"])
def test_a_computed_value_is_written_in_the_statement_and_set_on_the_instance(write):
    incident = Incident(reference=SqlValue(REFERENCE_SQL, ["SMG-SQL-", "0001"]), **incident_fields())
    event = event_for(incident)

    with CaptureQueriesContext(connection) as queries:
        if write == "insert":
            insert(incident)
            insert(event)
        else:
            insert_pair(incident, event, link="incident")

    assert incident.reference == "SMG-SQL-0001"
    assert Incident.objects.get(pk=incident.pk).reference == "SMG-SQL-0001"
    assert TimelineEvent.objects.get(pk=event.pk).incident_id == incident.pk
    # no statement of its own: the expression is inside the INSERT
    sqls = [q["sql"] for q in queries.captured_queries]
    assert [sql for sql in sqls if "||" in sql and "INSERT" not in sql] == []
    if write == "pair" and connection.vendor == "postgresql":
        assert len([sql for sql in sqls if "INSERT" in sql]) == 1


def test_parameters_around_a_computed_value_keep_their_places():
    fields = incident_fields(description="before", caller_name="after")
    incident = insert(Incident(reference=SqlValue("%s || %s || %s", ["A", "-", "B"]), **fields))

    row = Incident.objects.filter(pk=incident.pk).values("reference", "description", "caller_name")[0]
    assert row == {"reference": "A-B", "description": "before", "caller_name": "after"}
    # and the plain statement is unchanged for the next row
    plain = insert(Incident(reference="SMG-SQL-PLAIN", **fields))
    assert Incident.objects.get(pk=plain.pk).reference == "SMG-SQL-PLAIN"


def test_where_save_is_used_a_computed_value_is_read_first():
    # a primary key set by the caller goes through save(): the expression is evaluated with a SELECT
    incident = insert(Incident(pk=987654, reference=SqlValue(REFERENCE_SQL, ["SMG-SQL-", "0002"]), **incident_fields()))

    assert incident.reference == "SMG-SQL-0002"
    assert Incident.objects.get(pk=987654).reference == "SMG-SQL-0002"
