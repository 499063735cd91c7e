"""The admin: every page opens, actions go through the services, the timeline cannot be edited."""

from __future__ import annotations

import pytest
from django.contrib import admin, messages
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dispatch import services as dispatch_services
from dispatch.models import Assignment
from incidents import services
from incidents.models import Call, CallerNumber, Incident, TimelineEvent
from tests.factories import dispatch_to, reload

S = Incident.Status
K = TimelineEvent.Kind


@pytest.fixture
def busy_day(seeded, make_incident, operator, dispatcher, agency_user):
    """A little of everything, so every changelist has rows to render."""
    incident = make_incident()
    (assignment,) = dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)
    dispatch_services.assignment_acknowledge(assignment=assignment, actor=agency_user)
    services.incident_add_note(incident=incident, actor=agency_user, note="Menuju lokasi.")
    call = services.call_create(actor=operator, caller_number="0856 1111 2222")
    services.call_attach_to_incident(call=call, incident=incident, actor=operator)
    services.call_create(actor=operator, caller_number="0857 0000 1111", outcome=Call.Outcome.PRANK)
    make_incident(caller_number="0899 1234 0000", address="Jl. Pemuda 5")
    return incident


def _messages(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in get_messages(response.wsgi_request)]


# ------------------------------------------------------------------------------------------------
# Every page opens
# ------------------------------------------------------------------------------------------------
def _changelist_names() -> list[str]:
    return [f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist" for m in admin.site._registry]


@pytest.mark.parametrize("name", _changelist_names())
def test_superuser_can_open_every_changelist(admin_client, busy_day, name):
    r = admin_client.get(reverse(name))
    assert r.status_code == 200, r.content


@pytest.mark.parametrize(
    "model", [Incident, Assignment, TimelineEvent, Call, CallerNumber], ids=lambda m: m._meta.model_name
)
def test_superuser_can_open_a_change_page(admin_client, busy_day, model):
    obj = model.objects.order_by("pk").first()

    r = admin_client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk]))

    assert r.status_code == 200, r.content


@pytest.mark.parametrize(
    "name",
    [
        "admin:incidents_incident_changelist",
        "admin:incidents_call_changelist",
        "admin:incidents_timelineevent_changelist",
        "admin:dispatch_assignment_changelist",
    ],
)
def test_changelist_queries_do_not_grow_with_the_rows(admin_client, seeded, make_incident, operator, name):
    # given a few incidents with calls and assignments, the page's query count
    def add_incidents(n: int) -> None:
        for _ in range(n):
            incident = make_incident()
            call = services.call_create(actor=operator, caller_number="0856")
            services.call_attach_to_incident(call=call, incident=incident, actor=operator)
            dispatch_to(incident, seeded.agency("damkar"), actor=operator)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            r = admin_client.get(reverse(name))
        assert r.status_code == 200, r.content
        return len(captured)

    add_incidents(2)
    few = queries()

    # when there are three times as many rows, then the page costs the same
    add_incidents(4)
    assert queries() == few


def test_incident_change_page_shows_the_timeline(admin_client, busy_day):
    r = admin_client.get(reverse("admin:incidents_incident_change", args=[busy_day.pk]))

    assert r.status_code == 200, r.content
    assert busy_day.reference.encode() in r.content
    assert b"Menuju lokasi." in r.content


def test_incident_add_page_opens(admin_client, seeded):
    r = admin_client.get(reverse("admin:incidents_incident_add"))
    assert r.status_code == 200, r.content


def test_admin_index(admin_client, seeded):
    r = admin_client.get(reverse("admin:index"))
    assert r.status_code == 200, r.content


# ------------------------------------------------------------------------------------------------
# Actions call the services
# ------------------------------------------------------------------------------------------------
def _run_action(client, action: str, *objects, url: str = "admin:incidents_incident_changelist"):
    return client.post(reverse(url), {"action": action, "_selected_action": [o.pk for o in objects]})


def test_verify_action_verifies_through_the_service(admin_client, admin_user, make_incident):
    # given two received incidents
    first, second = make_incident(), make_incident()

    # when the admin verifies them
    r = _run_action(admin_client, "verify_incidents", first, second)

    # then both are verified, each with a timeline event by the admin user
    assert r.status_code == 302, r.content
    for incident in (first, second):
        assert reload(incident).status == S.VERIFIED
        event = TimelineEvent.objects.filter(incident=incident, kind=K.STATUS_CHANGED).get()
        assert (event.from_state, event.to_state, event.actor) == (S.RECEIVED, S.VERIFIED, admin_user)
    assert [level for level, _text in _messages(r)] == [messages.SUCCESS]


def test_an_illegal_action_shows_an_error_and_changes_nothing(admin_client, incident):
    # when a received incident is "resolved" from the admin
    r = _run_action(admin_client, "resolve_incidents", incident)

    # then the admin explains, and neither the incident nor its timeline changed
    assert r.status_code == 302, r.content
    levels = [level for level, _text in _messages(r)]
    assert levels == [messages.ERROR]
    assert incident.reference in _messages(r)[0][1]
    after = reload(incident)
    assert (after.status, after.version) == (S.RECEIVED, 1)
    assert [e.kind for e in after.timeline.all()] == [K.CREATED]


def test_an_action_on_a_mixed_selection_reports_each_outcome(admin_client, make_incident):
    verified = make_incident()
    services.incident_verify(incident=verified, actor=None)
    received = make_incident()

    r = _run_action(admin_client, "verify_incidents", verified, received)

    assert sorted(level for level, _text in _messages(r)) == [messages.SUCCESS, messages.ERROR]
    assert reload(received).status == S.VERIFIED


@pytest.mark.parametrize(
    ("action", "source", "target"),
    [
        ("resolve_incidents", S.VERIFIED, S.RESOLVED),
        ("close_incidents", S.RESOLVED, S.CLOSED),
        ("false_alarm_incidents", S.RECEIVED, S.FALSE_ALARM),
    ],
)
def test_other_actions(admin_client, admin_user, make_incident, action, source, target):
    incident = make_incident()
    if source in (S.VERIFIED, S.RESOLVED):
        services.incident_verify(incident=incident, actor=None)
    if source == S.RESOLVED:
        services.incident_resolve(incident=incident, actor=None)

    r = _run_action(admin_client, action, incident)

    assert r.status_code == 302, r.content
    assert reload(incident).status == target
    assert TimelineEvent.objects.filter(incident=incident, to_state=target).get().actor == admin_user


def test_withdraw_assignment_action_uses_the_service(admin_client, incident, seeded):
    (assignment,) = dispatch_to(incident, seeded.agency("damkar"), actor=None)

    r = _run_action(admin_client, "cancel_assignments", assignment, url="admin:dispatch_assignment_changelist")

    assert r.status_code == 302, r.content
    assert reload(assignment).status == Assignment.Status.CANCELLED
    assert reload(incident).status == S.VERIFIED  # nobody left: back to the dispatcher


# ------------------------------------------------------------------------------------------------
# Forms go through the services
# ------------------------------------------------------------------------------------------------
def _incident_form(seeded, **overrides) -> dict:
    data = {
        "region": seeded.region.pk,
        "category": seeded.category("fire").pk,
        "priority": 1,
        "channel": "walk_in",
        "description": "Kebakaran kios.",
        "address": "Pasar Johar",
        "district": seeded.district("Semarang Tengah").pk,
        "village": seeded.village("Kauman").pk,
        "latitude": "",
        "longitude": "",
        "caller_name": "Pak Slamet",
        "caller_number": "0812-7777-8888",
        "received_at_0": "",
        "received_at_1": "",
        "timeline-TOTAL_FORMS": "0",
        "timeline-INITIAL_FORMS": "0",
        "timeline-MIN_NUM_FORMS": "0",
        "timeline-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def test_adding_an_incident_in_the_admin_uses_incident_create(admin_client, admin_user, seeded, time_machine):
    time_machine.move_to("2025-03-10 08:00:00+07:00", tick=False)

    r = admin_client.post(
        reverse("admin:incidents_incident_add"),
        _incident_form(seeded, received_at_0="2025-03-10", received_at_1="07:58:00"),
    )

    assert r.status_code == 302, r.content
    incident = Incident.objects.get()
    assert incident.reference == "SMG-250310-0001"
    assert (incident.status, incident.created_by, incident.caller_number) == (S.RECEIVED, admin_user, "+6281277778888")
    assert incident.timeline.get().kind == K.CREATED


def test_editing_an_incident_in_the_admin_uses_incident_update(admin_client, admin_user, incident, seeded):
    data = _incident_form(
        seeded,
        category=incident.category.pk,
        priority=incident.priority,
        description=incident.description,
        address="Jl. Sisingamangaraja 20",
        district=incident.district.pk,
        village=incident.village.pk,
        caller_name=incident.caller_name,
        caller_number=incident.caller_number,
    )
    for field in ("region", "channel", "received_at_0", "received_at_1"):
        data.pop(field)

    r = admin_client.post(reverse("admin:incidents_incident_change", args=[incident.pk]), data)

    assert r.status_code == 302, r.content
    after = reload(incident)
    assert (after.address, after.version) == ("Jl. Sisingamangaraja 20", 2)
    event = after.timeline.get(kind=K.UPDATED)
    assert event.actor == admin_user
    assert list(event.payload["changes"]) == ["address"]


def test_a_rule_broken_in_the_admin_form_is_a_form_error_and_writes_nothing(admin_client, seeded):
    # a village outside the chosen district is refused by the same check the service uses
    r = admin_client.post(
        reverse("admin:incidents_incident_add"),
        _incident_form(
            seeded, village=seeded.village("Tugurejo").pk, received_at_0="2025-03-10", received_at_1="07:58:00"
        ),
    )

    assert r.status_code == 200, r.content
    assert list(r.context["adminform"].form.errors) == ["village"]
    assert not Incident.objects.exists()


def test_flagging_a_caller_number_in_the_admin_uses_the_service(admin_client, seeded):
    r = admin_client.post(
        reverse("admin:incidents_callernumber_add"),
        {"number": "0812 3333 4444", "is_flagged": "on", "blocked_until_0": "", "blocked_until_1": "", "note": "Iseng"},
    )

    assert r.status_code == 302, r.content
    record = CallerNumber.objects.get()
    assert (record.number, record.is_flagged, record.note) == ("+6281233334444", True, "Iseng")


# ------------------------------------------------------------------------------------------------
# The timeline is read-only in the admin
# ------------------------------------------------------------------------------------------------
def test_timeline_admin_has_no_add_change_or_delete(admin_client, admin_user, busy_day, rf):
    model_admin = admin.site._registry[TimelineEvent]
    request = rf.get("/")
    request.user = admin_user
    event = busy_day.timeline.first()

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)

    assert admin_client.get(reverse("admin:incidents_timelineevent_add")).status_code == 403
    r = admin_client.post(reverse("admin:incidents_timelineevent_change", args=[event.pk]), {"note": "rewritten"})
    assert r.status_code == 403, r.content
    assert admin_client.post(reverse("admin:incidents_timelineevent_delete", args=[event.pk])).status_code == 403
    assert reload(event).note == event.note


def test_incidents_cannot_be_deleted_in_the_admin(admin_client, incident):
    r = admin_client.post(reverse("admin:incidents_incident_delete", args=[incident.pk]), {"post": "yes"})

    assert r.status_code == 403, r.content
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_status_is_not_a_form_field(admin_client, incident, seeded):
    r = admin_client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))

    form = r.context["adminform"].form
    assert "status" not in form.fields
    assert "reference" not in form.fields


# ------------------------------------------------------------------------------------------------
# Search
# ------------------------------------------------------------------------------------------------
def _search(client, url_name: str, term: str):
    r = client.get(reverse(url_name), {"q": term})
    assert r.status_code == 200, r.content
    return list(r.context["cl"].result_list)


def test_search_incidents_by_reference(admin_client, busy_day):
    assert _search(admin_client, "admin:incidents_incident_changelist", busy_day.reference) == [busy_day]
    assert _search(admin_client, "admin:incidents_incident_changelist", "SMG-000000-0001") == []


def test_search_incidents_by_caller_number(admin_client, busy_day):
    # the stored form (+62…) and any part of it
    assert _search(admin_client, "admin:incidents_incident_changelist", "+6281234567890") == [busy_day]
    assert _search(admin_client, "admin:incidents_incident_changelist", "1234567890") == [busy_day]


def test_search_incidents_by_caller_number_as_people_type_it(admin_client, busy_day):
    assert _search(admin_client, "admin:incidents_incident_changelist", "0812-3456-7890") == [busy_day]


def test_search_calls_and_timeline_by_reference(admin_client, busy_day):
    calls = _search(admin_client, "admin:incidents_call_changelist", busy_day.reference)
    assert [c.incident for c in calls] == [busy_day]
    events = _search(admin_client, "admin:incidents_timelineevent_changelist", busy_day.reference)
    assert {e.incident for e in events} == {busy_day}
    assert len(events) == busy_day.timeline.count()
    assert [c.caller_number for c in _search(admin_client, "admin:incidents_call_changelist", "85700001111")] == [
        "+6285700001111"
    ]
