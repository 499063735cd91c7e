"""Calls: every inbound contact, prank counting and blocking, linking calls to incidents."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from incidents import services
from incidents.models import Call, CallerNumber, Incident, TimelineEvent
from semarang112.exceptions import ApplicationError, Conflict
from tests.factories import RegionFactory, incident_in_status, reload

Outcome = Call.Outcome
K = TimelineEvent.Kind
WIB = ZoneInfo("Asia/Jakarta")


# ------------------------------------------------------------------------------------------------
# Phone numbers
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("081234567890", "+6281234567890"),
        ("0812-3456-7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("+6281234567890", "+6281234567890"),
        ("+62 812-3456-7890", "+6281234567890"),
        ("  +62 (812) 3456 7890 ", "+6281234567890"),
        ("(024) 3544113", "+62243544113"),
        ("112", "112"),
        ("110", "110"),
        ("", ""),
        (None, ""),
        ("tidak ada", ""),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_normalize_caller_number(raw, expected):
    assert services.normalize_caller_number(raw) == expected


def test_every_spelling_of_one_number_is_one_caller():
    spellings = ["0812 3456 7890", "62-812-3456-7890", "+62 812 3456 7890", "(0812) 34567890"]
    assert {services.normalize_caller_number(s) for s in spellings} == {"+6281234567890"}


# ------------------------------------------------------------------------------------------------
# call_create and call_set_outcome
# ------------------------------------------------------------------------------------------------
def test_call_create_records_a_pending_call_for_the_operator(seeded, operator):
    call = services.call_create(actor=operator, caller_number="0812-1111-2222", caller_name="Ani")

    call = reload(call)
    assert (call.outcome, call.region, call.operator, call.caller_number) == (
        Outcome.PENDING,
        seeded.region,
        operator,
        "+6281211112222",
    )
    assert call.incident is None


@pytest.mark.parametrize("outcome", [Outcome.PRANK, Outcome.SILENT])
def test_prank_and_silent_calls_are_counted_without_an_incident(seeded, operator, outcome):
    # when a prank or silent call is logged
    services.call_create(actor=operator, caller_number="0812 9999 0000", outcome=outcome)

    # then it is counted against the number, and no case exists
    record = CallerNumber.objects.get(number="+6281299990000")
    assert (record.prank_count, record.is_flagged, record.is_blocked) == (1, False, False)
    assert not Incident.objects.exists()
    assert Call.objects.get().outcome == outcome


@pytest.mark.parametrize("outcome", [Outcome.INFORMATION, Outcome.WRONG_NUMBER, Outcome.TRANSFERRED, Outcome.PENDING])
def test_other_non_case_calls_are_not_counted_as_pranks(seeded, operator, outcome):
    services.call_create(actor=operator, caller_number="081299990000", outcome=outcome)

    assert not CallerNumber.objects.exists()
    assert not Incident.objects.exists()


def test_a_prank_without_a_number_is_logged_but_not_counted(seeded, operator):
    services.call_create(actor=operator, caller_number="", outcome=Outcome.SILENT)

    assert Call.objects.get().outcome == Outcome.SILENT
    assert not CallerNumber.objects.exists()


def test_repeat_prank_caller_is_flagged_and_blocked_at_the_threshold(seeded, operator, settings, time_machine):
    # given a threshold of 3 prank calls within 7 days and a 30-minute block
    settings.PRANK_FLAG_THRESHOLD = 3
    settings.PRANK_FLAG_WINDOW_DAYS = 7
    settings.PRANK_BLOCK_MINUTES = 30
    now = datetime(2025, 6, 1, 22, 0, tzinfo=WIB)
    time_machine.move_to(now, tick=False)

    # when the same caller pranks twice (written differently each time)
    services.call_create(actor=operator, caller_number="0812-5555-6666", outcome=Outcome.PRANK)
    services.call_create(actor=operator, caller_number="62 812 5555 6666", outcome=Outcome.SILENT)

    # then the number is counted but not yet flagged
    record = CallerNumber.objects.get(number="+6281255556666")
    assert (record.prank_count, record.is_flagged, record.blocked_until) == (2, False, None)

    # when the third prank comes in
    services.call_create(actor=operator, caller_number="+62 812-5555-6666", outcome=Outcome.PRANK)

    # then the number is flagged and blocked for the configured time
    record = reload(record)
    assert (record.prank_count, record.is_flagged) == (3, True)
    assert record.blocked_until == now + timedelta(minutes=30)
    assert record.is_blocked

    # and the block runs out on its own, while the flag stays for the supervisor
    time_machine.move_to(now + timedelta(minutes=31), tick=False)
    record = reload(record)
    assert (record.is_blocked, record.is_flagged) == (False, True)


def test_pranks_outside_the_window_do_not_flag(seeded, operator, settings):
    # given a 2-call threshold within 30 days and one prank 40 days ago
    settings.PRANK_FLAG_THRESHOLD = 2
    settings.PRANK_FLAG_WINDOW_DAYS = 30
    number = "081277778888"
    long_ago = datetime.now(tz=WIB) - timedelta(days=40)
    services.call_create(actor=operator, caller_number=number, outcome=Outcome.PRANK, started_at=long_ago)

    # when the caller pranks again today
    services.call_create(actor=operator, caller_number=number, outcome=Outcome.PRANK)

    # then the lifetime count grows but the caller is not flagged
    record = CallerNumber.objects.get(number="+6281277778888")
    assert (record.prank_count, record.is_flagged) == (2, False)


def test_setting_a_prank_outcome_later_counts_too(seeded, operator, settings):
    # given a threshold of 2 and one earlier prank by the number
    settings.PRANK_FLAG_THRESHOLD = 2
    services.call_create(actor=operator, caller_number="081200001111", outcome=Outcome.PRANK)
    call = services.call_create(actor=operator, caller_number="081200001111")

    # when the operator closes the pending call as silent
    services.call_set_outcome(call=call, outcome=Outcome.SILENT, actor=operator, notes="Tidak ada suara.")

    # then the call is ended and the number is flagged
    call = reload(call)
    assert (call.outcome, call.notes) == (Outcome.SILENT, "Tidak ada suara.")
    assert call.ended_at is not None
    assert CallerNumber.objects.get(number="+6281200001111").is_flagged


def test_call_set_outcome_refuses_a_second_outcome_and_case_outcomes(seeded, operator):
    call = services.call_create(actor=operator, caller_number="081200001111")

    with pytest.raises(ApplicationError) as excinfo:
        services.call_set_outcome(call=call, outcome=Outcome.EMERGENCY, actor=operator)
    assert excinfo.value.code == "call_outcome_needs_incident"

    services.call_set_outcome(call=call, outcome=Outcome.INFORMATION, actor=operator)
    with pytest.raises(Conflict) as excinfo:
        services.call_set_outcome(call=call, outcome=Outcome.PRANK, actor=operator)
    assert excinfo.value.code == "call_outcome_already_set"
    assert reload(call).outcome == Outcome.INFORMATION
    assert not CallerNumber.objects.exists()


@pytest.mark.parametrize("outcome", [Outcome.EMERGENCY, Outcome.DUPLICATE])
def test_call_create_refuses_case_outcomes_without_an_incident(seeded, operator, outcome):
    with pytest.raises(ApplicationError) as excinfo:
        services.call_create(actor=operator, caller_number="08123", outcome=outcome)
    assert excinfo.value.code == "call_outcome_needs_incident"
    assert not Call.objects.exists()


@pytest.mark.parametrize("field", ["answered_at", "ended_at"])
def test_call_times_must_not_precede_the_start(seeded, operator, field):
    start = datetime(2025, 6, 1, 10, 0, tzinfo=WIB)

    with pytest.raises(ApplicationError) as excinfo:
        services.call_create(actor=operator, started_at=start, **{field: start - timedelta(seconds=1)})

    assert (excinfo.value.code, excinfo.value.extra["field"]) == ("call_times_invalid", field)


def test_answer_seconds(seeded, operator):
    start = datetime(2025, 6, 1, 10, 0, tzinfo=WIB)

    call = services.call_create(actor=operator, started_at=start, answered_at=start + timedelta(seconds=7))

    assert call.answer_seconds == 7
    assert services.call_create(actor=operator).answer_seconds is None


# ------------------------------------------------------------------------------------------------
# Calls and incidents
# ------------------------------------------------------------------------------------------------
def test_incident_create_from_a_call_links_it_as_the_emergency_call(seeded, operator):
    # given a call answered 5 seconds after it rang
    start = datetime.now(tz=WIB).replace(microsecond=0) - timedelta(minutes=3)
    call = services.call_create(
        actor=operator,
        channel="phone_112",
        caller_number="0813 2222 3333",
        caller_name="Pak RT",
        started_at=start,
        answered_at=start + timedelta(seconds=5),
    )

    # when the operator opens an incident from it
    incident = services.incident_create(
        actor=operator, category=seeded.category("medical"), description="Warga pingsan.", call=call
    )

    # then the call is the incident's emergency call and the incident takes over its details
    call = reload(call)
    assert (call.outcome, call.incident) == (Outcome.EMERGENCY, incident)
    incident = reload(incident)
    assert incident.received_at == start + timedelta(seconds=5)
    assert (incident.caller_number, incident.caller_name, incident.region) == (
        "+6281322223333",
        "Pak RT",
        seeded.region,
    )
    linked = TimelineEvent.objects.get(incident=incident, kind=K.CALL_LINKED)
    assert linked.actor == operator
    assert linked.payload.items() >= {"call_id": call.pk, "channel": "phone_112"}.items()


def test_a_call_that_already_has_an_outcome_cannot_open_an_incident(seeded, operator, incident):
    call = services.call_create(actor=operator, caller_number="08123")
    services.call_set_outcome(call=call, outcome=Outcome.WRONG_NUMBER, actor=operator)

    with pytest.raises(Conflict) as excinfo:
        services.incident_create(actor=operator, category=seeded.category("fire"), description="x", call=call)

    assert excinfo.value.code == "call_outcome_already_set"
    assert Incident.objects.count() == 1  # only the fixture's incident


def test_one_call_opens_at_most_one_incident(seeded, operator):
    call = services.call_create(actor=operator, caller_number="08123")
    services.incident_create(actor=operator, category=seeded.category("fire"), description="x", call=call)

    with pytest.raises(Conflict):
        services.incident_create(actor=operator, category=seeded.category("fire"), description="y", call=call)


def test_attach_a_second_call_to_an_open_incident_as_duplicate(incident, operator):
    # given another caller reporting the same fire
    call = services.call_create(actor=operator, caller_number="0856 1234 5678")

    # when the operator attaches the call to the open incident
    services.call_attach_to_incident(call=call, incident=incident, actor=operator)

    # then the call is a duplicate report of it and the timeline says so
    call = reload(call)
    assert (call.outcome, call.incident) == (Outcome.DUPLICATE, incident)
    linked = TimelineEvent.objects.get(incident=incident, kind=K.CALL_LINKED)
    assert linked.payload.items() >= {"call_id": call.pk, "channel": "phone_112", "outcome": "duplicate"}.items()
    assert linked.actor == operator
    assert list(incident.calls.all()) == [call]


def test_attach_refuses_linked_and_finished_calls(incident, operator, make_incident):
    call = services.call_create(actor=operator, caller_number="0856")
    services.call_attach_to_incident(call=call, incident=incident, actor=operator)

    with pytest.raises(Conflict) as excinfo:
        services.call_attach_to_incident(call=call, incident=make_incident(), actor=operator)
    assert excinfo.value.code == "call_already_linked"

    prank = services.call_create(actor=operator, caller_number="0856", outcome=Outcome.PRANK)
    with pytest.raises(Conflict) as excinfo:
        services.call_attach_to_incident(call=prank, incident=incident, actor=operator)
    assert excinfo.value.code == "call_outcome_already_set"


@pytest.mark.parametrize("status", ["resolved", "closed", "cancelled", "merged"])
def test_attach_to_an_incident_that_is_no_longer_open_is_refused(seeded, operator, status):
    finished = incident_in_status(status, actor=operator, category=seeded.category("fire"))
    call = services.call_create(actor=operator, caller_number="0856")

    with pytest.raises(Conflict) as excinfo:
        services.call_attach_to_incident(call=call, incident=finished, actor=operator)

    assert excinfo.value.code == "incident_not_open"
    assert reload(call).outcome == Outcome.PENDING


def test_a_call_in_another_region(seeded, operator):
    kendal = RegionFactory(code="3324", reference_prefix="KDL")

    call = services.call_create(actor=operator, region=kendal, caller_number="08123")

    assert call.region == kendal


# ------------------------------------------------------------------------------------------------
# Manual flags
# ------------------------------------------------------------------------------------------------
def test_supervisor_flags_and_clears_a_number(seeded):
    until = datetime.now(tz=WIB) + timedelta(days=1)

    record = services.caller_number_set_flag(number="0812 4444 5555", flagged=True, blocked_until=until, note="Iseng.")
    assert (record.number, record.is_flagged, record.is_blocked, record.note) == (
        "+6281244445555",
        True,
        True,
        "Iseng.",
    )

    record = services.caller_number_set_flag(number="+6281244445555", flagged=False, blocked_until=until)
    assert (record.is_flagged, record.blocked_until, record.note) == (False, None, "Iseng.")
    assert CallerNumber.objects.count() == 1


@pytest.mark.django_db
def test_flagging_needs_a_number():
    with pytest.raises(ApplicationError) as excinfo:
        services.caller_number_set_flag(number=" - ", flagged=True)
    assert excinfo.value.code == "caller_number_required"
