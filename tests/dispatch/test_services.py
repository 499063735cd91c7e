"""Dispatching agencies, each step of an assignment, the milestones they set, and the agency email."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from smtplib import SMTPException
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from dispatch import services as dispatch_services
from dispatch.models import Assignment
from dispatch.tasks import assignment_notify_agency_task
from dispatch.transitions import ASSIGNMENT_TRANSITIONS, assignment_allowed_next, check_assignment_transition
from incidents import services
from incidents.models import Incident, TimelineEvent
from incidents.transitions import INCIDENT_TRANSITIONS
from semarang112.exceptions import ApplicationError, Conflict, InvalidTransition
from tests.factories import (
    AgencyFactory,
    UserFactory,
    assignment_in_status,
    dispatch_to,
    incident_in_status,
    reload,
)

A = Assignment.Status
S = Incident.Status
K = TimelineEvent.Kind
WIB = ZoneInfo("Asia/Jakarta")

ASSIGNMENT_STATUSES = list(A)
ASSIGNMENT_PAIRS = [(a, b) for a, b in itertools.product(ASSIGNMENT_STATUSES, ASSIGNMENT_STATUSES) if a != b]


def _pair_id(pair) -> str:
    return f"{pair[0]}->{pair[1]}"


def _events(incident, kind=None):
    qs = TimelineEvent.objects.filter(incident=incident)
    return list(qs.filter(kind=kind) if kind else qs)


# ------------------------------------------------------------------------------------------------
# Assignment transition map and every step against every pair
# ------------------------------------------------------------------------------------------------
def test_assignment_map_covers_every_status():
    assert set(ASSIGNMENT_TRANSITIONS) == set(ASSIGNMENT_STATUSES)
    for source, targets in ASSIGNMENT_TRANSITIONS.items():
        assert targets <= set(ASSIGNMENT_STATUSES)
        assert source not in targets
    for final in (A.COMPLETED, A.DECLINED, A.CANCELLED):
        assert ASSIGNMENT_TRANSITIONS[final] == frozenset()


@pytest.mark.parametrize("pair", list(itertools.product(ASSIGNMENT_STATUSES, ASSIGNMENT_STATUSES)), ids=_pair_id)
def test_check_assignment_transition_for_every_pair(pair):
    current, target = pair
    if target in ASSIGNMENT_TRANSITIONS[current]:
        check_assignment_transition(current, target)
        return
    with pytest.raises(InvalidTransition) as excinfo:
        check_assignment_transition(current, target)
    assert excinfo.value.code == "invalid_transition"
    assert excinfo.value.extra["allowed"] == sorted(ASSIGNMENT_TRANSITIONS[current])
    assert excinfo.value.extra["allowed"] == assignment_allowed_next(current)


def _step(assignment: Assignment, target: str, actor) -> None:
    """The service an agency or the command center uses to move an assignment to ``target``."""
    if target == A.ACKNOWLEDGED:
        dispatch_services.assignment_acknowledge(assignment=assignment, actor=actor)
    elif target == A.EN_ROUTE:
        dispatch_services.assignment_en_route(assignment=assignment, actor=actor)
    elif target == A.ON_SCENE:
        dispatch_services.assignment_on_scene(assignment=assignment, actor=actor)
    elif target == A.COMPLETED:
        dispatch_services.assignment_complete(assignment=assignment, actor=actor)
    elif target == A.DECLINED:
        dispatch_services.assignment_decline(assignment=assignment, actor=actor, reason="No unit free.")
    elif target == A.CANCELLED:
        dispatch_services.assignment_cancel(assignment=assignment, actor=actor, reason="Re-routed.")
    elif target == A.REQUESTED:
        # nothing goes back to requested (a new dispatch makes a new assignment); use the shared step
        with transaction.atomic():
            incident, locked = dispatch_services._lock_assignment(assignment)
            dispatch_services._step(incident, locked, target, actor=services.as_actor(actor))
    else:  # pragma: no cover
        raise AssertionError(target)


@pytest.mark.django_db
@pytest.mark.parametrize("pair", ASSIGNMENT_PAIRS, ids=_pair_id)
def test_assignment_service_for_every_pair_succeeds_or_raises_invalid_transition(pair):
    # given an assignment brought to the source state by the services
    source, target = pair
    actor = UserFactory()
    assignment = assignment_in_status(source, actor=actor)
    events_before = len(_events(assignment.incident))

    if target in ASSIGNMENT_TRANSITIONS[source]:
        # when the matching step runs, then it moves and the timeline records it
        _step(assignment, target, actor)
        assert reload(assignment).status == target
        event = TimelineEvent.objects.filter(assignment=assignment, kind=K.ASSIGNMENT_STATUS).last()
        assert (event.from_state, event.to_state, event.actor) == (source, target, actor)
    else:
        # when the matching step runs, then it refuses and changes nothing
        with pytest.raises(InvalidTransition) as excinfo:
            _step(assignment, target, actor)
        assert excinfo.value.code == "invalid_transition"
        assert excinfo.value.extra["allowed"] == sorted(ASSIGNMENT_TRANSITIONS[source])
        assert reload(assignment).status == source
        assert len(_events(assignment.incident)) == events_before


# ------------------------------------------------------------------------------------------------
# incident_dispatch
# ------------------------------------------------------------------------------------------------
def test_dispatch_creates_one_requested_assignment_per_agency_and_moves_the_incident(
    incident, dispatcher, seeded, django_capture_on_commit_callbacks
):
    # given a received incident and the agencies routing suggests
    damkar, psc = seeded.agency("damkar"), seeded.agency("dinkes-psc")

    # when the dispatcher dispatches both (one of them twice by mistake)
    with django_capture_on_commit_callbacks() as callbacks:
        assignments = dispatch_services.incident_dispatch(
            incident=incident, agencies=[damkar, psc, damkar], actor=dispatcher, note="Bawa tangga."
        )

    # then each agency has one requested assignment
    assert [(a.agency, a.status, a.dispatched_by, a.note) for a in assignments] == [
        (damkar, A.REQUESTED, dispatcher, "Bawa tangga."),
        (psc, A.REQUESTED, dispatcher, "Bawa tangga."),
    ]
    # and dispatching from "received" verified the incident implicitly, at the same moment
    after = reload(incident)
    assert after.status == S.DISPATCHED
    assert after.first_dispatched_at == after.verified_at == assignments[0].requested_at
    # and the timeline has one event per assignment, then the status change
    created = _events(incident, K.ASSIGNMENT_CREATED)
    assert [(e.assignment, e.payload["agency"], e.actor) for e in created] == [
        (assignments[0], "damkar", dispatcher),
        (assignments[1], "dinkes-psc", dispatcher),
    ]
    status = _events(incident, K.STATUS_CHANGED)[-1]
    assert (status.from_state, status.to_state, status.payload["agencies"]) == (
        S.RECEIVED,
        S.DISPATCHED,
        ["damkar", "dinkes-psc"],
    )
    # and each agency is notified after commit
    assert len(callbacks) == 2


def test_dispatching_more_agencies_keeps_the_first_dispatch_time(incident, dispatcher, seeded, time_machine):
    # given an incident dispatched to the fire service
    time_machine.move_to(datetime(2025, 3, 10, 8, 0, tzinfo=WIB), tick=False)
    dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)
    first = reload(incident).first_dispatched_at

    # when the ambulance is added two minutes later
    time_machine.move_to(datetime(2025, 3, 10, 8, 2, tzinfo=WIB), tick=False)
    (added,) = dispatch_to(incident, seeded.agency("dinkes-psc"), actor=dispatcher)

    # then the incident stays dispatched with its first dispatch time
    after = reload(incident)
    assert after.status == S.DISPATCHED
    assert after.first_dispatched_at == first
    assert added.requested_at == first + timedelta(minutes=2)


def test_dispatch_needs_at_least_one_active_agency(incident, dispatcher, seeded):
    with pytest.raises(ApplicationError) as excinfo:
        dispatch_services.incident_dispatch(incident=incident, agencies=[], actor=dispatcher)
    assert excinfo.value.code == "agencies_required"

    closed = AgencyFactory(is_active=False)
    with pytest.raises(ApplicationError) as excinfo:
        dispatch_services.incident_dispatch(
            incident=incident, agencies=[seeded.agency("damkar"), closed], actor=dispatcher
        )
    assert excinfo.value.code == "agency_inactive"
    assert excinfo.value.extra["agencies"] == [closed.code]
    assert not Assignment.objects.filter(incident=incident).exists()
    assert reload(incident).status == S.RECEIVED


def test_dispatch_to_an_agency_already_on_the_incident_is_a_conflict(incident, dispatcher, seeded):
    # given the fire service is already on the incident
    damkar = seeded.agency("damkar")
    dispatch_to(incident, damkar, actor=dispatcher)

    # when it is dispatched again together with another agency
    with pytest.raises(Conflict) as excinfo:
        dispatch_to(incident, seeded.agency("bpbd"), damkar, actor=dispatcher)

    # then nothing is added
    assert excinfo.value.code == "already_dispatched"
    assert excinfo.value.extra["agencies"] == ["damkar"]
    assert Assignment.objects.filter(incident=incident).count() == 1


def test_an_agency_that_declined_can_be_dispatched_again(incident, dispatcher, agency_user, seeded):
    damkar = seeded.agency("damkar")
    (first,) = dispatch_to(incident, damkar, actor=dispatcher)
    dispatch_services.assignment_decline(assignment=first, actor=agency_user, reason="Unit sedang di lokasi lain.")

    (second,) = dispatch_to(incident, damkar, actor=dispatcher)

    assert second.pk != first.pk
    assert reload(incident).status == S.DISPATCHED


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.RESOLVED, S.CLOSED, S.CANCELLED, S.FALSE_ALARM, S.MERGED])
def test_dispatch_of_an_ended_incident_is_an_invalid_transition(status):
    incident = incident_in_status(status)

    with pytest.raises(InvalidTransition) as excinfo:
        dispatch_to(incident)

    assert excinfo.value.extra["allowed"] == sorted(INCIDENT_TRANSITIONS[status])
    assert not Assignment.objects.filter(incident=incident, status=A.REQUESTED).exists()


# ------------------------------------------------------------------------------------------------
# Steps, milestones and response time
# ------------------------------------------------------------------------------------------------
def test_milestones_and_response_time(incident_at, dispatcher, agency_user, seeded, time_machine):
    # given an incident received at T
    t = datetime(2025, 3, 10, 8, 0, tzinfo=WIB)
    incident = incident_at(t)

    # when it is dispatched at T+1m, acknowledged at T+2m, en route at T+3m and on scene at T+7m
    time_machine.move_to(t + timedelta(minutes=1), tick=False)
    (assignment,) = dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)
    time_machine.move_to(t + timedelta(minutes=2), tick=False)
    dispatch_services.assignment_acknowledge(assignment=assignment, actor=agency_user)
    time_machine.move_to(t + timedelta(minutes=3), tick=False)
    dispatch_services.assignment_en_route(assignment=assignment, actor=agency_user)
    time_machine.move_to(t + timedelta(minutes=7), tick=False)
    dispatch_services.assignment_on_scene(assignment=assignment, actor=agency_user)

    # then every milestone is where it happened and the response time is 7 minutes
    after = reload(incident)
    assert after.status == S.ON_SCENE
    assert after.received_at == t
    assert after.verified_at == after.first_dispatched_at == t + timedelta(minutes=1)
    assert after.first_acknowledged_at == t + timedelta(minutes=2)
    assert after.first_on_scene_at == t + timedelta(minutes=7)
    assert after.response_time == timedelta(minutes=7)
    step = reload(assignment)
    assert (step.requested_at, step.acknowledged_at, step.en_route_at, step.on_scene_at) == (
        t + timedelta(minutes=1),
        t + timedelta(minutes=2),
        t + timedelta(minutes=3),
        t + timedelta(minutes=7),
    )


def test_only_the_first_acknowledgement_and_arrival_set_the_incident_milestones(
    incident_at, dispatcher, agency_user, seeded, time_machine
):
    # given an incident dispatched to two agencies at T+1m
    t = datetime(2025, 3, 10, 8, 0, tzinfo=WIB)
    incident = incident_at(t)
    time_machine.move_to(t + timedelta(minutes=1), tick=False)
    fire, ambulance = dispatch_to(incident, seeded.agency("damkar"), seeded.agency("dinkes-psc"), actor=dispatcher)

    # when the ambulance acknowledges first and arrives first, the fire service later
    time_machine.move_to(t + timedelta(minutes=2), tick=False)
    dispatch_services.assignment_acknowledge(assignment=ambulance, actor=dispatcher)
    time_machine.move_to(t + timedelta(minutes=4), tick=False)
    dispatch_services.assignment_acknowledge(assignment=fire, actor=agency_user)
    time_machine.move_to(t + timedelta(minutes=6), tick=False)
    dispatch_services.assignment_on_scene(assignment=ambulance, actor=dispatcher)
    time_machine.move_to(t + timedelta(minutes=9), tick=False)
    dispatch_services.assignment_on_scene(assignment=fire, actor=agency_user)

    # then the incident keeps the first of each, and changed status to on scene only once
    after = reload(incident)
    assert after.first_acknowledged_at == t + timedelta(minutes=2)
    assert after.first_on_scene_at == t + timedelta(minutes=6)
    assert after.response_time == timedelta(minutes=6)
    on_scene = [e for e in _events(incident, K.STATUS_CHANGED) if e.to_state == S.ON_SCENE]
    assert len(on_scene) == 1


def test_each_step_writes_an_assignment_event_with_the_actor(incident, dispatcher, agency_user, seeded):
    (assignment,) = dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)

    dispatch_services.assignment_acknowledge(assignment=assignment, actor=agency_user, note="Unit 3 berangkat.")
    dispatch_services.assignment_en_route(assignment=assignment, actor=agency_user)
    dispatch_services.assignment_on_scene(assignment=assignment, actor=agency_user)
    dispatch_services.assignment_complete(assignment=assignment, actor=agency_user, note="Api padam.")

    events = _events(incident, K.ASSIGNMENT_STATUS)
    assert [(e.from_state, e.to_state, e.actor, e.assignment, e.payload["agency"]) for e in events] == [
        (A.REQUESTED, A.ACKNOWLEDGED, agency_user, assignment, "damkar"),
        (A.ACKNOWLEDGED, A.EN_ROUTE, agency_user, assignment, "damkar"),
        (A.EN_ROUTE, A.ON_SCENE, agency_user, assignment, "damkar"),
        (A.ON_SCENE, A.COMPLETED, agency_user, assignment, "damkar"),
    ]
    assert [events[0].note, events[-1].note] == ["Unit 3 berangkat.", "Api padam."]
    assert reload(assignment).completed_at is not None


# ------------------------------------------------------------------------------------------------
# Decline and withdraw: back to the dispatcher when nobody is left
# ------------------------------------------------------------------------------------------------
def test_decline_of_the_last_active_assignment_returns_the_incident_to_dispatch(
    incident, dispatcher, agency_user, seeded
):
    # given an incident dispatched to the fire service only
    (assignment,) = dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)

    # when the fire service declines
    dispatch_services.assignment_decline(assignment=assignment, actor=agency_user, reason="  Semua unit keluar.  ")

    # then the assignment records why, and the incident is back with the dispatcher
    declined = reload(assignment)
    assert (declined.status, declined.decline_reason) == (A.DECLINED, "Semua unit keluar.")
    assert declined.declined_at is not None
    after = reload(incident)
    assert after.status == S.VERIFIED
    assert after.first_dispatched_at is not None  # the first dispatch still counts
    kinds = [(e.kind, e.from_state, e.to_state, e.actor) for e in _events(incident)][-3:]
    assert kinds == [
        (K.ASSIGNMENT_STATUS, A.REQUESTED, A.DECLINED, agency_user),
        (K.STATUS_CHANGED, S.DISPATCHED, S.VERIFIED, agency_user),
        (K.RETURNED_TO_DISPATCH, "", "", agency_user),
    ]


def test_decline_while_another_agency_is_still_active_keeps_the_incident_dispatched(
    incident, dispatcher, agency_user, seeded
):
    fire, _ambulance = dispatch_to(incident, seeded.agency("damkar"), seeded.agency("dinkes-psc"), actor=dispatcher)

    dispatch_services.assignment_decline(assignment=fire, actor=agency_user, reason="Tidak ada unit.")

    assert reload(incident).status == S.DISPATCHED
    assert not _events(incident, K.RETURNED_TO_DISPATCH)


def test_withdrawing_the_last_assignment_also_returns_the_incident_to_dispatch(incident, dispatcher, seeded):
    (assignment,) = dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)

    dispatch_services.assignment_cancel(assignment=assignment, actor=dispatcher, reason="Salah instansi.")

    assert reload(assignment).status == A.CANCELLED
    assert reload(incident).status == S.VERIFIED
    assert len(_events(incident, K.RETURNED_TO_DISPATCH)) == 1


@pytest.mark.parametrize(
    "service", [dispatch_services.assignment_decline, dispatch_services.assignment_cancel], ids=["decline", "cancel"]
)
def test_decline_and_withdraw_need_a_reason(incident, dispatcher, seeded, service):
    (assignment,) = dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)

    with pytest.raises(ApplicationError) as excinfo:
        service(assignment=assignment, actor=dispatcher, reason="   ")

    assert excinfo.value.code == "reason_required"
    assert reload(assignment).status == A.REQUESTED


# ------------------------------------------------------------------------------------------------
# Ending an incident ends its assignments
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "end",
    [
        lambda incident, actor: services.incident_cancel(incident=incident, actor=actor, reason="Pelapor membatalkan."),
        lambda incident, actor: services.incident_mark_false_alarm(incident=incident, actor=actor, reason="Iseng."),
    ],
    ids=["cancel", "false_alarm"],
)
def test_cancel_and_false_alarm_cancel_every_active_assignment(incident, dispatcher, agency_user, seeded, end):
    # given one requested and one acknowledged assignment, and one already declined
    fire, ambulance, police = dispatch_to(
        incident, seeded.agency("damkar"), seeded.agency("dinkes-psc"), seeded.agency("polrestabes"), actor=dispatcher
    )
    dispatch_services.assignment_acknowledge(assignment=fire, actor=agency_user)
    dispatch_services.assignment_decline(assignment=police, actor=dispatcher, reason="Bukan wewenang.")

    # when the incident ends
    end(incident, dispatcher)

    # then every live assignment is cancelled with an event, the declined one is left alone
    assert [reload(a).status for a in (fire, ambulance, police)] == [A.CANCELLED, A.CANCELLED, A.DECLINED]
    cancelled = [e for e in _events(incident, K.ASSIGNMENT_STATUS) if e.to_state == A.CANCELLED]
    assert {e.assignment_id for e in cancelled} == {fire.pk, ambulance.pk}
    assert reload(incident).closed_at is not None


def test_close_completes_units_on_scene_and_cancels_the_others(incident, dispatcher, agency_user, seeded):
    # given a unit on scene and another agency still requested
    fire, ambulance = dispatch_to(incident, seeded.agency("damkar"), seeded.agency("dinkes-psc"), actor=dispatcher)
    dispatch_services.assignment_acknowledge(assignment=fire, actor=agency_user)
    dispatch_services.assignment_on_scene(assignment=fire, actor=agency_user)
    services.incident_resolve(incident=incident, actor=dispatcher)

    # when the incident is closed
    services.incident_close(incident=incident, actor=dispatcher, note="Selesai.")

    # then nothing stays active
    assert (reload(fire).status, reload(ambulance).status) == (A.COMPLETED, A.CANCELLED)
    after = reload(incident)
    assert after.status == S.CLOSED
    assert not Assignment.objects.filter(incident=incident, status__in=Assignment.ACTIVE_STATUSES).exists()


def test_merging_a_dispatched_incident_cancels_its_assignments(make_incident, dispatcher, seeded):
    duplicate, original = make_incident(), make_incident()
    (assignment,) = dispatch_to(duplicate, seeded.agency("damkar"), actor=dispatcher)

    services.incident_merge(incident=duplicate, into=original, actor=dispatcher)

    assert reload(assignment).status == A.CANCELLED


# ------------------------------------------------------------------------------------------------
# Atomicity
# ------------------------------------------------------------------------------------------------
def test_failed_dispatch_leaves_no_assignment_and_no_status_change(incident, dispatcher, seeded, monkeypatch):
    # given the timeline write for the status change fails
    def boom(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "timeline_event_create", boom)

    # when the incident is dispatched
    with pytest.raises(RuntimeError):
        dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)

    # then neither the assignments nor the status change were kept
    assert not Assignment.objects.filter(incident=incident).exists()
    after = reload(incident)
    assert (after.status, after.first_dispatched_at, after.version) == (S.RECEIVED, None, incident.version)
    assert [e.kind for e in _events(incident)] == [K.CREATED]


def test_failed_step_event_leaves_the_assignment_and_incident_unchanged(incident, dispatcher, seeded, monkeypatch):
    (assignment,) = dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)
    monkeypatch.setattr(dispatch_services, "timeline_event_create", lambda **kwargs: 1 / 0)

    with pytest.raises(ZeroDivisionError):
        dispatch_services.assignment_acknowledge(assignment=assignment, actor=dispatcher)

    assert (reload(assignment).status, reload(assignment).acknowledged_at) == (A.REQUESTED, None)
    assert reload(incident).first_acknowledged_at is None


# ------------------------------------------------------------------------------------------------
# Telling the agency (dispatch.tasks.assignment_notify_agency_task)
# ------------------------------------------------------------------------------------------------
def test_notify_agency_sends_exactly_one_email_even_when_run_twice(incident, dispatcher, seeded, mailoutbox):
    # given a new assignment to the fire service
    (assignment,) = dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)

    # when the notification task runs twice (a redelivered message)
    first = assignment_notify_agency_task(assignment.pk)
    second = assignment_notify_agency_task(assignment.pk)

    # then one email went out, and the assignment remembers it
    assert (first, second) == (True, False)
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["damkar@semarangkota.go.id"]
    assert incident.reference in message.subject
    assert incident.description in message.body
    assert reload(assignment).notified_at is not None


def test_dispatch_notifies_each_agency_after_commit(
    incident, dispatcher, seeded, mailoutbox, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_to(incident, seeded.agency("damkar"), seeded.agency("dinkes-psc"), actor=dispatcher)

    assert sorted(m.to[0] for m in mailoutbox) == ["damkar@semarangkota.go.id", "psc119@semarangkota.go.id"]
    # a second run of every task (redelivery) sends nothing more
    for assignment in Assignment.objects.filter(incident=incident):
        assignment_notify_agency_task.delay(assignment.pk)
    assert len(mailoutbox) == 2


def test_failed_dispatch_enqueues_no_notification(
    incident, dispatcher, seeded, monkeypatch, mailoutbox, celery_eager, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "timeline_event_create", lambda **kwargs: 1 / 0)

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ZeroDivisionError):
        dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)

    assert callbacks == []
    assert mailoutbox == []


@pytest.mark.parametrize("case", ["missing", "no_email", "withdrawn"])
def test_notify_agency_quietly_skips_what_it_should_not_send(incident, dispatcher, seeded, mailoutbox, case):
    if case == "missing":
        assignment_id = 999_999
    elif case == "no_email":
        (assignment,) = dispatch_to(incident, seeded.agency("polrestabes"), actor=dispatcher)  # no email on file
        assignment_id = assignment.pk
    else:
        (assignment,) = dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)
        dispatch_services.assignment_cancel(assignment=assignment, actor=dispatcher, reason="Salah kirim.")
        assignment_id = assignment.pk

    assert assignment_notify_agency_task(assignment_id) is False
    assert mailoutbox == []


def test_notify_agency_mail_failure_keeps_the_assignment_unnotified(incident, dispatcher, seeded, monkeypatch):
    # given the mail server refuses
    (assignment,) = dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)

    def refuse(*args, **kwargs):
        raise SMTPException("421 try again later")

    monkeypatch.setattr(dispatch_services, "send_mail", refuse)

    # when the service runs, the error surfaces (so Celery retries) and nothing is marked sent
    with pytest.raises(SMTPException):
        dispatch_services.assignment_notify_agency(assignment_id=assignment.pk)
    assert reload(assignment).notified_at is None
    assert SMTPException in assignment_notify_agency_task.autoretry_for


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def incident_at(make_incident, time_machine):
    """``incident_at(t)``: an incident received (and created) at ``t``, with the clock stopped there."""

    def make(t: datetime) -> Incident:
        time_machine.move_to(t, tick=False)
        return make_incident()

    return make


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_emailing_an_agency_does_not_block_rows_that_refer_to_the_assignment(
    seeded, make_incident, dispatcher, run_in_threads, monkeypatch
):
    # given an assignment whose agency is being emailed (the mail server is slow)
    import threading

    from django.db import connection

    from dispatch import services as dispatch_services
    from incidents.models import SlaEvent

    incident = make_incident()
    damkar = seeded.agency("damkar")
    damkar.email = "damkar@example.org"
    damkar.save(update_fields=["email"])
    (assignment,) = dispatch_services.incident_dispatch(incident=incident, agencies=[damkar], actor=dispatcher)
    Assignment.objects.filter(pk=assignment.pk).update(notified_at=None)  # whatever the dispatch's task did
    sending, release = threading.Event(), threading.Event()

    def slow_send_mail(*args, **kwargs):
        sending.set()
        release.wait(10)
        return 1

    monkeypatch.setattr(dispatch_services, "send_mail", slow_send_mail)

    def notify():
        return dispatch_services.assignment_notify_agency(assignment_id=assignment.pk)

    def record_event():
        sending.wait(10)
        try:
            # when the SLA sweep records an event of that assignment meanwhile, it is not held up
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                SlaEvent.objects.create(
                    incident=incident,
                    assignment=assignment,
                    target="acknowledge",
                    level="warning",
                    due_at=assignment.requested_at,
                    recorded_at=assignment.requested_at,
                )
            return True
        finally:
            release.set()

    (sent, sent_error), (recorded, record_error) = run_in_threads(notify, record_event)

    assert (sent_error, record_error) == (None, None)
    assert sent is True and recorded is True
