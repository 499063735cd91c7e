"""Incident services: create, each status change, merge, edits, notes — and what they write."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from dispatch import services as dispatch_services
from incidents import services
from incidents.models import Incident, TimelineEvent
from semarang112.exceptions import ApplicationError, Conflict, InvalidTransition
from tests.factories import (
    CategoryFactory,
    RegionFactory,
    VillageFactory,
    create_incident,
    dispatch_to,
    incident_in_status,
    reload,
)

S = Incident.Status
K = TimelineEvent.Kind
WIB = ZoneInfo("Asia/Jakarta")


def _events(incident, kind=None) -> list[TimelineEvent]:
    qs = TimelineEvent.objects.filter(incident=incident).select_related("actor")
    return list(qs.filter(kind=kind) if kind else qs)


# ------------------------------------------------------------------------------------------------
# incident_create
# ------------------------------------------------------------------------------------------------
def test_create_records_a_received_incident_with_routing_in_the_timeline(seeded, operator):
    # when an operator records a fire with a village only
    incident = services.incident_create(
        actor=operator,
        category=seeded.category("fire"),
        description="  Gudang terbakar.  ",
        village=seeded.village("Jatingaleh"),
        caller_number="0812 3456 7890",
        caller_name="Siti",
        latitude=Decimal("-7.017"),
        longitude=Decimal("110.420"),
    )

    # then the incident is received, in the default region, with the category's defaults
    incident = reload(incident)
    assert incident.status == S.RECEIVED
    assert incident.region == seeded.region
    assert incident.priority == seeded.category("fire").default_priority
    assert incident.description == "Gudang terbakar."
    assert incident.district == seeded.district("Candisari")  # taken from the village
    assert incident.caller_number == "+6281234567890"
    assert incident.created_by == operator
    assert incident.version == 1
    # and the timeline starts with who created it and where routing points
    (created,) = _events(incident)
    assert (created.kind, created.from_state, created.to_state, created.actor) == (K.CREATED, "", S.RECEIVED, operator)
    assert (
        created.payload.items()
        >= {
            "category": "fire",
            "priority": incident.priority,
            "channel": "phone_112",
            "suggested_agencies": ["damkar", "dinkes-psc"],
        }.items()
    )


def test_create_by_a_system_actor_records_its_label(seeded):
    incident = services.incident_create(
        actor=services.Actor.system("api: sipandu"), category=seeded.category("flood"), description="Banjir 50 cm."
    )

    (created,) = _events(incident)
    assert (created.actor, created.actor_label) == (None, "api: sipandu")
    assert reload(incident).created_by is None


def test_create_with_an_explicit_priority_and_received_time(seeded, operator):
    received = datetime(2025, 1, 5, 9, 30, tzinfo=WIB)

    incident = services.incident_create(
        actor=operator, category=seeded.category("other"), description="x", priority=1, received_at=received
    )

    assert (incident.priority, reload(incident).received_at) == (1, received)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"description": "   "}, "description_required"),
        ({"received_at": "future"}, "received_in_future"),
        ({"category": "inactive"}, "category_inactive"),
        ({"district": "Tugu", "village": "Jatingaleh"}, "village_not_in_district"),
        ({"latitude": Decimal("-7")}, "coordinates_incomplete"),
        ({"latitude": Decimal("-91"), "longitude": Decimal("110")}, "invalid_latitude"),
        ({"latitude": Decimal("-7"), "longitude": Decimal("181")}, "invalid_longitude"),
        ({"district": "other-region"}, "district_not_in_region"),
    ],
)
def test_create_rejects_invalid_input_and_writes_nothing(seeded, operator, kwargs, code):
    # given otherwise valid input with one thing wrong
    data = {"category": seeded.category("fire"), "description": "Kebakaran."}
    for key, value in kwargs.items():
        if value == "future":
            value = datetime.now(tz=WIB) + timedelta(hours=1)
        elif value == "inactive":
            value = CategoryFactory(is_active=False)
        elif value == "other-region":
            value = VillageFactory().district
        elif key == "district":
            value = seeded.district(value)
        elif key == "village":
            value = seeded.village(value)
        data[key] = value

    # when the incident is created, then the service refuses with a stable code
    with pytest.raises(ApplicationError) as excinfo:
        services.incident_create(actor=operator, **data)
    assert excinfo.value.code == code
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_create_without_the_default_region_explains_how_to_seed():
    with pytest.raises(ApplicationError) as excinfo:
        services.incident_create(actor=None, category=CategoryFactory(), description="Kebakaran.")
    assert excinfo.value.code == "region_missing"


# ------------------------------------------------------------------------------------------------
# Each status service writes its timeline event
# ------------------------------------------------------------------------------------------------
STATUS_SERVICES = {
    # name: (source status, service, name of its text argument, target, milestone it sets)
    "verify": (S.RECEIVED, services.incident_verify, "note", S.VERIFIED, "verified_at"),
    "resolve": (S.VERIFIED, services.incident_resolve, "note", S.RESOLVED, "resolved_at"),
    "close": (S.RESOLVED, services.incident_close, "note", S.CLOSED, "closed_at"),
    "reopen": (S.CLOSED, services.incident_reopen, "note", S.VERIFIED, None),
    "cancel": (S.RECEIVED, services.incident_cancel, "reason", S.CANCELLED, "closed_at"),
    "false_alarm": (S.VERIFIED, services.incident_mark_false_alarm, "reason", S.FALSE_ALARM, "closed_at"),
}


@pytest.mark.parametrize("name", STATUS_SERVICES)
def test_status_service_writes_one_status_event_with_from_to_actor_and_note(seeded, supervisor, name):
    # given an incident in the source state
    source, service, text_arg, target, milestone = STATUS_SERVICES[name]
    incident = incident_in_status(source, actor=supervisor, category=seeded.category("fire"))
    before = _events(incident)

    # when the service runs
    service(incident=incident, actor=supervisor, **{text_arg: "Cek CCTV."})

    # then exactly one event was added, naming the change and the actor
    new = _events(incident)[len(before) :]
    assert [(e.kind, e.from_state, e.to_state, e.actor, e.note) for e in new] == [
        (K.STATUS_CHANGED, source, target, supervisor, "Cek CCTV.")
    ]
    after = reload(incident)
    assert after.status == target
    assert after.version == incident.version + 1
    if milestone:
        assert getattr(after, milestone) == new[0].created_at


def test_reopen_needs_a_reason_and_clears_the_end_milestones(seeded, supervisor):
    # given a closed incident
    incident = incident_in_status(S.CLOSED, actor=supervisor, category=seeded.category("fire"))
    assert incident.resolved_at and incident.closed_at

    # when it is reopened without a reason, it is refused
    with pytest.raises(ApplicationError) as excinfo:
        services.incident_reopen(incident=incident, actor=supervisor, note=" ")
    assert excinfo.value.code == "reason_required"

    # when it is reopened with one, it goes back to the dispatcher with fresh end milestones
    services.incident_reopen(incident=incident, actor=supervisor, note="Api menyala lagi.")
    after = reload(incident)
    assert (after.status, after.resolved_at, after.closed_at) == (S.VERIFIED, None, None)
    assert after.verified_at == incident.verified_at


def test_cancel_needs_a_reason(incident, dispatcher):
    with pytest.raises(ApplicationError) as excinfo:
        services.incident_cancel(incident=incident, actor=dispatcher, reason="")
    assert excinfo.value.code == "reason_required"
    assert reload(incident).status == S.RECEIVED


def test_verify_twice_is_an_invalid_transition(incident, dispatcher):
    services.incident_verify(incident=incident, actor=dispatcher)

    with pytest.raises(InvalidTransition) as excinfo:
        services.incident_verify(incident=incident, actor=dispatcher)

    assert excinfo.value.extra["allowed"] == sorted([S.DISPATCHED, S.RESOLVED, S.CANCELLED, S.FALSE_ALARM, S.MERGED])


def test_services_accept_an_incident_id_or_a_stale_instance(incident, dispatcher):
    # the services re-read and lock the row: a stale in-memory copy cannot overwrite newer state
    stale = Incident.objects.get(pk=incident.pk)
    services.incident_verify(incident=incident, actor=dispatcher)

    with pytest.raises(InvalidTransition):
        services.incident_verify(incident=stale, actor=dispatcher)
    services.incident_resolve(incident=stale, actor=dispatcher)

    assert reload(incident).status == S.RESOLVED


# ------------------------------------------------------------------------------------------------
# Timeline in the same transaction
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda i, a: services.incident_verify(incident=i, actor=a),
        lambda i, a: services.incident_cancel(incident=i, actor=a, reason="Batal."),
        lambda i, a: services.incident_update(incident=i, actor=a, data={"address": "Jl. Pandanaran 1"}),
        lambda i, a: services.incident_add_note(incident=i, actor=a, note="Catatan."),
    ],
    ids=["verify", "cancel", "update", "note"],
)
def test_a_failed_timeline_write_rolls_back_the_change(incident, dispatcher, monkeypatch, call):
    # given the timeline write fails after the row was changed
    def boom(**kwargs):
        raise RuntimeError("timeline unavailable")

    monkeypatch.setattr(services, "timeline_event_create", boom)

    # when the service runs
    with pytest.raises(RuntimeError):
        call(incident, dispatcher)

    # then the database has neither the change nor an event
    after = reload(incident)
    assert (after.status, after.version, after.verified_at, after.address, after.closed_at) == (
        S.RECEIVED,
        1,
        None,
        incident.address,
        None,
    )
    assert [e.kind for e in _events(incident)] == [K.CREATED]


def test_a_failed_resolve_keeps_the_assignments_active(seeded, dispatcher, monkeypatch):
    # given a dispatched incident whose agency is still on its way
    incident = incident_in_status(S.VERIFIED, actor=dispatcher, category=seeded.category("fire"))
    (assignment,) = dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)
    real = services.timeline_event_create

    def fail_on_status(**kwargs):
        if kwargs["kind"] == K.STATUS_CHANGED:
            raise RuntimeError("boom")
        return real(**kwargs)

    monkeypatch.setattr(services, "timeline_event_create", fail_on_status)

    # when resolving fails at its last write
    with pytest.raises(RuntimeError):
        services.incident_resolve(incident=incident, actor=dispatcher)

    # then the assignment withdrawal was rolled back with it
    assert reload(incident).status == S.DISPATCHED
    assert reload(assignment).status == "requested"


def test_resolving_withdraws_agencies_still_on_their_way_and_completes_those_on_scene(seeded, dispatcher):
    incident = incident_in_status(S.VERIFIED, actor=dispatcher, category=seeded.category("traffic-accident"))
    arrived, travelling = dispatch_to(
        incident, seeded.agency("dinkes-psc"), seeded.agency("polrestabes"), actor=dispatcher
    )
    dispatch_services.assignment_acknowledge(assignment=arrived, actor=dispatcher)
    dispatch_services.assignment_on_scene(assignment=arrived, actor=dispatcher)

    services.incident_resolve(incident=incident, actor=dispatcher)

    assert (reload(arrived).status, reload(travelling).status) == ("completed", "cancelled")
    with pytest.raises(ApplicationError):  # nobody can arrive at a resolved incident
        dispatch_services.assignment_on_scene(assignment=travelling, actor=dispatcher)


def test_update_with_only_a_village_moves_the_district_with_it(seeded, dispatcher):
    incident = services.incident_create(
        actor=dispatcher, category=seeded.category("fire"), description="x", village=seeded.village("Jatingaleh")
    )

    services.incident_update(incident=incident, actor=dispatcher, data={"village": seeded.village("Tugurejo")})

    assert reload(incident).district == seeded.district("Tugu")


@pytest.mark.parametrize(
    ("data", "code"), [({"priority": 7}, "invalid_priority"), ({"description": " "}, "description_required")]
)
def test_update_rejects_bad_priority_and_empty_description(seeded, dispatcher, data, code):
    incident = services.incident_create(actor=dispatcher, category=seeded.category("fire"), description="x")

    with pytest.raises(ApplicationError) as excinfo:
        services.incident_update(incident=incident, actor=dispatcher, data=data)

    assert excinfo.value.code == code


def test_a_failed_create_leaves_no_incident_and_no_used_call(seeded, operator, monkeypatch):
    call = services.call_create(actor=operator, caller_number="08123")
    monkeypatch.setattr(services, "timeline_event_create", lambda **kwargs: 1 / 0)

    with pytest.raises(ZeroDivisionError):
        services.incident_create(actor=operator, category=seeded.category("fire"), description="x", call=call)

    assert not Incident.objects.exists()
    assert reload(call).outcome == "pending"


# ------------------------------------------------------------------------------------------------
# Merge
# ------------------------------------------------------------------------------------------------
def test_merge_marks_the_duplicate_and_records_on_both_incidents(make_incident, dispatcher):
    # given two reports of the same fire
    original, duplicate = make_incident(), make_incident()

    # when the second is merged into the first
    services.incident_merge(incident=duplicate, into=original, actor=dispatcher, note="Lokasi sama.")

    # then the duplicate points at the original and is finished
    merged = reload(duplicate)
    assert (merged.status, merged.duplicate_of) == (S.MERGED, original)
    assert merged.closed_at is not None
    assert list(original.duplicates.all()) == [merged]
    # and both timelines say so
    event = _events(duplicate, K.STATUS_CHANGED)[-1]
    assert (event.from_state, event.to_state, event.actor, event.note) == (
        S.RECEIVED,
        S.MERGED,
        dispatcher,
        "Lokasi sama.",
    )
    assert event.payload["into"] == original.reference
    (other,) = _events(original, K.DUPLICATE_MERGED)
    assert (other.actor, other.note, other.payload["duplicate"]) == (dispatcher, "Lokasi sama.", duplicate.reference)
    assert reload(original).status == S.RECEIVED


def test_merge_into_itself_is_rejected(incident, dispatcher):
    with pytest.raises(ApplicationError) as excinfo:
        services.incident_merge(incident=incident, into=incident, actor=dispatcher)
    assert excinfo.value.code == "merge_into_self"
    assert reload(incident).status == S.RECEIVED


@pytest.mark.parametrize("target_status", [S.CLOSED, S.CANCELLED, S.MERGED, S.RESOLVED])
def test_merge_into_an_incident_that_is_no_longer_open_is_rejected(seeded, dispatcher, target_status):
    target = incident_in_status(target_status, actor=dispatcher, category=seeded.category("fire"))
    duplicate = incident_in_status(S.RECEIVED, actor=dispatcher, category=seeded.category("fire"))

    with pytest.raises(Conflict) as excinfo:
        services.incident_merge(incident=duplicate, into=target, actor=dispatcher)

    assert excinfo.value.code == "incident_not_open"
    after = reload(duplicate)
    assert (after.status, after.duplicate_of) == (S.RECEIVED, None)
    assert not _events(target, K.DUPLICATE_MERGED)


def test_merge_across_regions_is_rejected(incident, dispatcher):
    elsewhere = create_incident(actor=dispatcher, region=RegionFactory(), category=incident.category)

    with pytest.raises(ApplicationError) as excinfo:
        services.incident_merge(incident=elsewhere, into=incident, actor=dispatcher)

    assert excinfo.value.code == "merge_region_mismatch"


def test_an_incident_on_scene_cannot_be_merged(seeded, dispatcher, make_incident):
    on_scene = incident_in_status(S.ON_SCENE, actor=dispatcher, category=seeded.category("fire"))

    with pytest.raises(InvalidTransition):
        services.incident_merge(incident=on_scene, into=make_incident(), actor=dispatcher)

    assert reload(on_scene).duplicate_of is None


# ------------------------------------------------------------------------------------------------
# incident_update
# ------------------------------------------------------------------------------------------------
def test_update_changes_editable_fields_bumps_the_version_and_records_the_changes(incident, dispatcher, seeded):
    # when the dispatcher corrects the place and the caller's number
    services.incident_update(
        incident=incident,
        actor=dispatcher,
        data={
            "district": seeded.district("Tugu"),
            "village": seeded.village("Tugurejo"),
            "address": "Jl. Walisongo km 9",
            "caller_number": "62 812 1111 2222",
            "latitude": Decimal("-6.981000"),
            "longitude": Decimal("110.350000"),
            "priority": 1,
        },
        expected_version=1,
    )

    # then the incident changed and the version moved on
    after = reload(incident)
    assert (after.village, after.district) == (seeded.village("Tugurejo"), seeded.district("Tugu"))
    assert (after.address, after.caller_number, after.priority) == ("Jl. Walisongo km 9", "+6281211112222", 1)
    assert after.version == 2
    # and the timeline keeps old and new values
    (event,) = _events(incident, K.UPDATED)
    changes = event.payload["changes"]
    assert event.actor == dispatcher
    assert changes["village"] == [seeded.village("Jatingaleh").pk, seeded.village("Tugurejo").pk]
    assert changes["district"] == [seeded.district("Candisari").pk, seeded.district("Tugu").pk]
    assert changes["caller_number"] == ["+6281234567890", "+6281211112222"]
    assert changes["latitude"] == [None, "-6.981000"]


def test_update_of_the_village_alone_fills_in_a_missing_district(make_incident, dispatcher, seeded):
    # given an incident recorded without a place
    incident = make_incident(district=None, village=None)

    # when only the village is given
    services.incident_update(incident=incident, actor=dispatcher, data={"village": seeded.village("Sekaran")})

    # then the district follows from it
    after = reload(incident)
    assert (after.village.name, after.district.name) == ("Sekaran", "Gunungpati")
    (event,) = _events(incident, K.UPDATED)
    assert event.payload["changes"]["district"] == [None, seeded.district("Gunungpati").pk]


def test_update_without_changes_writes_nothing(incident, dispatcher):
    services.incident_update(incident=incident, actor=dispatcher, data={"address": incident.address})

    assert reload(incident).version == 1
    assert not _events(incident, K.UPDATED)


@pytest.mark.parametrize(
    "field", ["status", "reference", "category", "received_at", "verified_at", "region", "version"]
)
def test_update_refuses_fields_that_are_not_editable(incident, dispatcher, field):
    with pytest.raises(ApplicationError) as excinfo:
        services.incident_update(incident=incident, actor=dispatcher, data={field: "x"})

    assert (excinfo.value.code, excinfo.value.extra["field"]) == ("field_not_editable", field)
    assert reload(incident).version == 1


def test_update_with_a_stale_version_is_a_conflict(incident, dispatcher):
    # given someone else saved in between
    services.incident_update(incident=incident, actor=dispatcher, data={"address": "Jl. A"}, expected_version=1)

    # when an edit based on version 1 arrives
    with pytest.raises(Conflict) as excinfo:
        services.incident_update(incident=incident, actor=dispatcher, data={"address": "Jl. B"}, expected_version=1)

    # then it is refused with the current version
    assert excinfo.value.code == "stale_version"
    assert excinfo.value.extra == {"current_version": 2}
    assert reload(incident).address == "Jl. A"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"village": "Tugurejo", "district": "Candisari"}, "village_not_in_district"),
        ({"district": "Tugu"}, "village_not_in_district"),  # the current village is in Candisari
        ({"latitude": Decimal("-7.0")}, "coordinates_incomplete"),
        ({"longitude": Decimal("110.4")}, "coordinates_incomplete"),
        ({"latitude": Decimal("90.5"), "longitude": Decimal("110")}, "invalid_latitude"),
        ({"latitude": Decimal("-7"), "longitude": Decimal("-180.1")}, "invalid_longitude"),
    ],
)
def test_update_rejects_an_inconsistent_place(incident, dispatcher, seeded, data, code):
    data = {
        key: seeded.village(v) if key == "village" else seeded.district(v) if key == "district" else v
        for key, v in data.items()
    }

    with pytest.raises(ApplicationError) as excinfo:
        services.incident_update(incident=incident, actor=dispatcher, data=data)

    assert excinfo.value.code == code
    after = reload(incident)
    assert (after.version, after.district, after.latitude) == (1, seeded.district("Candisari"), None)


def test_coordinates_can_be_cleared_together(incident, dispatcher):
    services.incident_update(
        incident=incident, actor=dispatcher, data={"latitude": Decimal("-7"), "longitude": Decimal("110.4")}
    )

    services.incident_update(incident=incident, actor=dispatcher, data={"latitude": None, "longitude": None})

    assert (reload(incident).latitude, reload(incident).longitude) == (None, None)


@pytest.mark.django_db
@pytest.mark.parametrize("status", Incident.FINAL_STATUSES)
def test_a_finished_incident_cannot_be_edited(status):
    incident = incident_in_status(status)

    with pytest.raises(Conflict) as excinfo:
        services.incident_update(incident=incident, actor=None, data={"address": "Jl. Baru"})
    assert excinfo.value.code == "incident_final"

    with pytest.raises(Conflict):
        services.incident_change_category(incident=incident, category=CategoryFactory(), actor=None)


# ------------------------------------------------------------------------------------------------
# incident_change_category
# ------------------------------------------------------------------------------------------------
def test_change_category_records_old_new_and_the_new_routing(incident, dispatcher, seeded):
    services.incident_change_category(
        incident=incident, category=seeded.category("animal-snake"), actor=dispatcher, note="Ternyata ular."
    )

    after = reload(incident)
    assert (after.category.code, after.version) == ("animal-snake", 2)
    (event,) = _events(incident, K.CATEGORY_CHANGED)
    assert (event.from_state, event.to_state, event.actor, event.note) == (
        "fire",
        "animal-snake",
        dispatcher,
        "Ternyata ular.",
    )
    assert event.payload["suggested_agencies"] == ["damkar", "relawan-rescue"]  # inherited from "animal"


def test_change_to_the_same_category_is_a_no_op(incident, dispatcher):
    services.incident_change_category(incident=incident, category=incident.category, actor=dispatcher)

    assert reload(incident).version == 1
    assert not _events(incident, K.CATEGORY_CHANGED)


def test_change_category_with_a_stale_version_is_a_conflict(incident, dispatcher, seeded):
    # given someone else saved after the caller read version 1
    services.incident_update(incident=incident, actor=dispatcher, data={"address": "Jl. A"}, expected_version=1)

    # when a re-categorisation based on version 1 arrives
    with pytest.raises(Conflict) as excinfo:
        services.incident_change_category(
            incident=incident, category=seeded.category("flood"), actor=dispatcher, expected_version=1
        )

    # then it is refused with the current version, and nothing is written
    assert (excinfo.value.code, excinfo.value.extra) == ("stale_version", {"current_version": 2})
    after = reload(incident)
    assert (after.category.code, after.version, after.resolve_due_at) == ("fire", 2, incident.resolve_due_at)
    assert not _events(incident, K.CATEGORY_CHANGED)


def test_change_category_with_the_current_version(incident, dispatcher, seeded):
    services.incident_change_category(
        incident=incident, category=seeded.category("flood"), actor=dispatcher, expected_version=1
    )

    assert (reload(incident).category.code, reload(incident).version) == ("flood", 2)
    assert len(_events(incident, K.CATEGORY_CHANGED)) == 1


def test_change_to_an_inactive_category_is_rejected(incident, dispatcher):
    with pytest.raises(ApplicationError) as excinfo:
        services.incident_change_category(
            incident=incident, category=CategoryFactory(is_active=False), actor=dispatcher
        )

    assert excinfo.value.code == "category_inactive"
    assert reload(incident).category == incident.category


# ------------------------------------------------------------------------------------------------
# Notes
# ------------------------------------------------------------------------------------------------
def test_add_note_appends_a_note_event(incident, agency_user):
    event = services.incident_add_note(incident=incident, actor=agency_user, note="  Akses jalan sempit.  ")

    assert (event.kind, event.note, event.actor, event.incident) == (
        K.NOTE,
        "Akses jalan sempit.",
        agency_user,
        incident,
    )
    assert reload(incident).version == 1  # a note is not an edit


@pytest.mark.django_db
def test_an_empty_note_is_rejected(incident, agency_user):
    with pytest.raises(ApplicationError) as excinfo:
        services.incident_add_note(incident=incident, actor=agency_user, note="\n ")
    assert excinfo.value.code == "note_required"


# ------------------------------------------------------------------------------------------------
# Concurrency (PostgreSQL: real row locks)
# ------------------------------------------------------------------------------------------------
CONCURRENT = {
    "verify-verify": (
        S.RECEIVED,
        lambda pk: services.incident_verify(incident=pk, actor=None),
        lambda pk: services.incident_verify(incident=pk, actor=None),
    ),
    "resolve-false_alarm": (
        S.VERIFIED,
        lambda pk: services.incident_resolve(incident=pk, actor=None),
        lambda pk: services.incident_mark_false_alarm(incident=pk, actor=None, reason="Iseng."),
    ),
    "close-close": (
        S.RESOLVED,
        lambda pk: services.incident_close(incident=pk, actor=None),
        lambda pk: services.incident_close(incident=pk, actor=None),
    ),
}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", CONCURRENT)
def test_concurrent_transitions_of_one_incident_have_exactly_one_winner(seeded, run_in_threads, case):
    # given an incident in a state from which both callers' transitions are legal, but not one after the other
    source, first, second = CONCURRENT[case]
    incident = incident_in_status(source, category=seeded.category("fire"))

    # when two dispatchers press their buttons at the same moment
    results = run_in_threads(lambda: first(incident.pk), lambda: second(incident.pk))

    # then one wins, the other sees the new state and is refused
    errors = [exc for _result, exc in results if exc is not None]
    assert len(errors) == 1, results
    assert isinstance(errors[0], InvalidTransition), errors
    after = reload(incident)
    assert after.version == incident.version + 1
    status_events = [e for e in _events(incident, K.STATUS_CHANGED) if e.from_state == source]
    assert len(status_events) == 1
    assert status_events[0].to_state == after.status


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatch_and_cancel_never_leave_a_live_assignment_on_a_cancelled_incident(seeded, run_in_threads):
    # given a verified incident
    incident = incident_in_status(S.VERIFIED, category=seeded.category("fire"))
    damkar = seeded.agency("damkar")

    # when one dispatcher dispatches while another cancels
    results = run_in_threads(
        lambda: dispatch_services.incident_dispatch(incident=incident.pk, agencies=[damkar], actor=None),
        lambda: services.incident_cancel(incident=incident.pk, actor=None, reason="Pelapor membatalkan."),
    )

    # then, whichever came first, the incident ends cancelled with nobody still sent out
    assert results[1][1] is None, results
    after = reload(incident)
    assert after.status == S.CANCELLED
    assert not after.assignments.filter(status__in=("requested", "acknowledged", "en_route", "on_scene")).exists()
