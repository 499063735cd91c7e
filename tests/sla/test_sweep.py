"""The sweep: warnings and breaches at the right moment, exactly once, only for running clocks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dispatch import services as dispatch_services
from dispatch.models import Assignment
from incidents import notifications, services, sla
from incidents.models import Incident, Notification, SlaEvent, SlaPolicy, SweepHeartbeat, TimelineEvent
from incidents.tasks import sla_sweep_task
from tests.factories import reload

from .conftest import T0

pytestmark = pytest.mark.django_db

K = TimelineEvent.Kind


def events(incident) -> set[tuple[str, str]]:
    return set(SlaEvent.objects.filter(incident=incident).values_list("target", "level"))


def test_dispatch_warning_and_breach_fall_at_80_and_100_percent(make_incident, clock, sweep):
    # given a fire received at T0 (dispatch target 1 minute)
    incident = make_incident()

    # just before 80%: nothing
    clock.at(seconds=47)
    sweep()
    assert events(incident) == set()

    # at 80%: the warning, once
    clock.at(seconds=48)
    sweep()
    assert events(incident) == {("dispatch", "warning")}

    # at 100%: the breach
    clock.at(seconds=60)
    sweep()
    assert events(incident) == {("dispatch", "warning"), ("dispatch", "breach")}
    breach = SlaEvent.objects.get(incident=incident, target="dispatch", level="breach")
    assert breach.due_at == T0 + timedelta(minutes=1)
    assert breach.recorded_at == T0 + timedelta(minutes=1)
    # each one is on the timeline, by the system
    timeline = list(incident.timeline.filter(kind__in=[K.SLA_WARNING, K.SLA_BREACH]).order_by("created_at", "id"))
    assert [(event.kind, event.payload["target"]) for event in timeline] == [
        (K.SLA_WARNING, "dispatch"),
        (K.SLA_BREACH, "dispatch"),
    ]
    assert timeline[1].actor is None and timeline[1].actor_label == sla.SWEEP_ACTOR_LABEL
    assert timeline[1].payload["sla_event_id"] == breach.pk
    # and the next look is at the on-scene warning (8 minutes)
    assert reload(incident).sla_next_check_at == T0 + timedelta(minutes=8)


def test_every_threshold_passed_is_recorded_in_one_sweep_after_an_outage(make_incident, clock, sweep):
    # given no sweep ran for 5 hours after a fire was received
    incident = make_incident()
    clock.at(hours=5)

    result = sweep()

    # then every warning and breach is recorded, each once, and nothing is left to look at
    assert result.recorded == 6
    assert events(incident) == {
        (target, level) for target in ("dispatch", "response", "resolve") for level in ("warning", "breach")
    }
    assert reload(incident).sla_next_check_at is None


def test_a_second_sweep_or_a_redelivered_task_records_nothing_new(make_incident, clock, sweep, dispatcher):
    incident = make_incident()
    clock.at(minutes=11)
    first = sweep()
    timeline_count = incident.timeline.count()
    notification_count = Notification.objects.count()

    second = sweep()
    sla_sweep_task.apply()  # the same work delivered again as a task

    assert first.recorded == 4 and second.recorded == 0
    assert SlaEvent.objects.filter(incident=incident).count() == 4
    assert incident.timeline.count() == timeline_count
    assert Notification.objects.count() == notification_count > 0


def test_reaching_the_milestone_stops_the_clock(seeded, make_incident, dispatcher, clock, sweep):
    # given a fire dispatched after 30 s and acknowledged and on scene at 6 minutes
    incident = make_incident()
    clock.at(seconds=30)
    (assignment,) = dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    clock.at(seconds=90)
    dispatch_services.assignment_acknowledge(assignment=assignment, actor=dispatcher)
    clock.at(minutes=6)
    dispatch_services.assignment_on_scene(assignment=assignment, actor=dispatcher)

    # when sweeps run until well past the on-scene target
    for minutes in (1, 2, 5, 9, 11, 30):
        clock.at(minutes=minutes)
        sweep()

    # then no dispatch, acknowledge or on-scene event: only the resolve clock still runs
    assert events(incident) == set()
    assert reload(incident).sla_next_check_at == T0 + timedelta(minutes=192)


def test_a_dispatch_just_before_the_sweep_is_never_a_false_breach(seeded, make_incident, dispatcher, clock, sweep):
    # given a fire dispatched at 59.9 s, the sweep running at 60 s
    incident = make_incident()
    clock.at(seconds=59.9)
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    clock.at(seconds=60)

    sweep()

    # then the warning threshold (48 s) did pass while undispatched and is on record, but the
    # deadline was met; nobody is paged about a warning whose clock has already stopped
    assert events(incident) == {("dispatch", "warning")}
    assert incident.timeline.filter(kind=K.SLA_WARNING).count() == 1
    assert not Notification.objects.filter(incident=incident).exists()


def test_a_late_dispatch_seen_by_a_late_sweep_is_still_a_breach(seeded, make_incident, dispatcher, cc_people, clock, sweep):
    # given a fire dispatched at 65 s (5 s late), and the sweep only looking at 90 s
    incident = make_incident()
    clock.at(seconds=65)
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    clock.at(seconds=90)

    sweep()

    # then the breach is recorded (judged by the dispatch time, not the sweep time) and notified
    assert events(incident) == {("dispatch", "warning"), ("dispatch", "breach")}
    assert Notification.objects.filter(incident=incident, kind=Notification.Kind.SLA_BREACH).exists()


@pytest.mark.parametrize("end", ["cancel", "false_alarm", "merge"])
def test_cancelled_false_alarm_and_merged_incidents_stop_all_clocks(make_incident, operator, dispatcher, clock, sweep, end):
    incident = make_incident()
    clock.at(seconds=30)
    if end == "cancel":
        services.incident_cancel(incident=incident, actor=operator, reason="Caller cancelled.")
    elif end == "false_alarm":
        services.incident_mark_false_alarm(incident=incident, actor=operator, reason="Prank.")
    else:
        services.incident_merge(incident=incident, into=make_incident(), actor=dispatcher)

    clock.at(hours=6)
    sweep()

    assert events(incident) == set()
    assert reload(incident).sla_next_check_at is None  # out of the sweep's index for good


def test_acknowledge_warning_and_breach_belong_to_the_assignment(seeded, make_incident, dispatcher, clock, sweep):
    # given a fire dispatched at T0 + 20 s to damkar and the ambulance service (acknowledge within 2 min)
    incident = make_incident()
    clock.at(seconds=20)
    damkar, psc = dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar"), seeded.agency("dinkes-psc")], actor=dispatcher
    )
    # and the ambulance service acknowledges in time
    clock.at(seconds=60)
    dispatch_services.assignment_acknowledge(assignment=psc, actor=dispatcher)

    clock.at(seconds=20 + 95)
    sweep()
    assert not SlaEvent.objects.filter(target="acknowledge").exists()
    clock.at(seconds=20 + 96)
    sweep()
    clock.at(seconds=20 + 120)
    sweep()

    # then damkar's assignment has its warning and breach, the ambulance's nothing
    recorded = list(SlaEvent.objects.filter(target="acknowledge").values_list("assignment_id", "level", "due_at"))
    assert sorted(recorded, key=lambda row: row[2]) == [
        (damkar.pk, "warning", T0 + timedelta(seconds=20 + 96)),
        (damkar.pk, "breach", T0 + timedelta(seconds=20 + 120)),
    ]
    breach = incident.timeline.get(kind=K.SLA_BREACH, assignment=damkar)
    assert breach.payload["agency"] == "damkar"


def test_an_acknowledgement_stops_its_clock(seeded, make_incident, dispatcher, clock, sweep):
    incident = make_incident()
    (assignment,) = dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    clock.at(seconds=100)
    sweep()  # warning at 96 s
    dispatch_services.assignment_acknowledge(assignment=assignment, actor=dispatcher)
    clock.at(minutes=5)
    sweep()

    assert set(SlaEvent.objects.filter(target="acknowledge").values_list("level", flat=True)) == {"warning"}


def test_a_reopened_incident_gets_no_new_incident_deadlines(make_incident, supervisor, dispatcher, clock, sweep):
    # given a fire resolved at 5 minutes (before every deadline but dispatch) and reopened at 7
    incident = make_incident()
    clock.at(minutes=5)
    services.incident_verify(incident=incident, actor=dispatcher)
    services.incident_resolve(incident=incident, actor=dispatcher)
    clock.at(minutes=7)
    services.incident_reopen(incident=incident, actor=supervisor, note="Fire flared up again.")

    clock.at(hours=6)
    sweep()

    # then only the dispatch deadlines passed before the resolution count; the reopen restarts nothing
    assert events(incident) == {("dispatch", "warning"), ("dispatch", "breach")}
    assert reload(incident).sla_next_check_at is None


def test_recategorising_to_a_shorter_target_is_judged_at_the_next_sweep(seeded, make_incident, operator, clock, sweep):
    # given a broken water main (dispatch within 3 minutes; warning at 144 s), swept at 2 minutes
    incident = make_incident(category=seeded.category("water-main"))
    clock.at(minutes=2)
    sweep()
    assert events(incident) == set()

    # when it turns out to be a fire (dispatch within 1 minute)
    services.incident_change_category(incident=incident, category=seeded.category("fire"), actor=operator)
    sweep()

    # then the fire's passed thresholds are recorded at once
    assert events(incident) == {("dispatch", "warning"), ("dispatch", "breach")}


def test_failure_on_one_incident_rolls_it_back_and_spares_the_others(make_incident, clock, sweep, monkeypatch):
    # given two incidents due (warnings at 48 s and 49 s), and the first one's check dies after its
    # event row was inserted but before its timeline event (think: the worker was killed half-way)
    first = make_incident()
    clock.at(seconds=1)
    second = make_incident()
    clock.at(seconds=50)
    real_describe = sla.sla_event_describe

    def dying_describe(**kwargs):
        if kwargs["due_at"] == T0 + timedelta(seconds=48):
            raise RuntimeError("worker died")
        return real_describe(**kwargs)

    monkeypatch.setattr(sla, "sla_event_describe", dying_describe)

    result = sweep()

    # then nothing of the first incident was kept (no event without its timeline entry), the second is done
    assert result.failed == 1 and result.recorded == 1
    assert events(first) == set() and not first.timeline.filter(kind=K.SLA_WARNING).exists()
    assert reload(first).sla_next_check_at == T0 + timedelta(seconds=48)
    assert events(second) == {("dispatch", "warning")}

    # and the next sweep records the first incident's warning, once
    monkeypatch.setattr(sla, "sla_event_describe", real_describe)
    sweep()
    assert events(first) == {("dispatch", "warning")}
    assert first.timeline.filter(kind=K.SLA_WARNING).count() == 1


def test_a_failure_to_notify_does_not_cost_the_record(make_incident, cc_people, clock, sweep, monkeypatch, caplog):
    incident = make_incident()
    clock.at(seconds=50)

    def broken(**kwargs):
        raise RuntimeError("bug in the notification code")

    monkeypatch.setattr(notifications, "sla_events_notify_many", broken)

    result = sweep()

    assert result.recorded == 1 and result.failed == 0
    assert events(incident) == {("dispatch", "warning")}
    assert incident.timeline.filter(kind=K.SLA_WARNING).count() == 1
    assert "notifications of SLA event" in caplog.text


def test_the_sweep_reads_only_due_incidents_whatever_the_history(make_incident, dispatcher, clock, sweep, django_assert_max_num_queries):
    # given history: closed incidents, and open ones whose next check is hours away
    for _ in range(5):
        incident = make_incident()
        services.incident_verify(incident=incident, actor=dispatcher)
        services.incident_resolve(incident=incident, actor=dispatcher)
        services.incident_close(incident=incident, actor=dispatcher)
    clock.at(minutes=20)
    sweep()  # visits everything due once; closed incidents leave the index

    # when a sweep runs with nothing due
    with CaptureQueriesContext(connection) as queries:
        result = sweep()

    # then it costs one indexed select (plus the heartbeat), and touches no incident row
    assert result.checked == 0
    selects = [query["sql"] for query in queries.captured_queries if "incidents_incident" in query["sql"]]
    assert len(selects) == 1
    assert '"sla_next_check_at" <=' in selects[0]
    assert len(queries.captured_queries) <= 3
    assert Incident.objects.filter(status=Incident.Status.CLOSED, sla_next_check_at__isnull=False).count() == 0


@pytest.mark.postgres
def test_the_sweep_query_uses_the_partial_index(make_incident, clock):
    make_incident()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny test table; ask what the planner can use
        queryset = Incident.objects.filter(sla_next_check_at__lte=T0).order_by("sla_next_check_at", "pk")
        plan = queryset.values_list("sla_next_check_at", "pk")[:200].explain()
    assert "incident_sla_next_check_idx" in plan


def test_sweep_works_in_batches(make_incident, clock, sweep):
    incidents = [make_incident() for _ in range(5)]
    clock.at(seconds=50)

    result = sweep(batch=2)

    assert result.checked == 5 and result.complete
    assert all(events(incident) == {("dispatch", "warning")} for incident in incidents)


def test_each_sweep_leaves_a_heartbeat(clock, sweep, db):
    clock.at(minutes=1)
    sweep()
    heartbeat = SweepHeartbeat.objects.get(name=sla.SWEEP_NAME)
    assert heartbeat.finished_at == T0 + timedelta(minutes=1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_concurrent_sweeps_record_each_event_once(seeded, make_incident, dispatcher, clock, run_in_threads):
    # given ten fires, five of them dispatched, all past every threshold of the first 11 minutes
    incidents = [make_incident() for _ in range(10)]
    for incident in incidents[:5]:
        dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    clock.at(minutes=11)

    # when two sweeps run at the same moment (threads, separate connections)
    results = run_in_threads(sla.sla_sweep, sla.sla_sweep, sla.sla_sweep)

    # then every warning and breach exists once, with one timeline event and one set of notifications
    assert [error for _, error in results] == [None, None, None]
    assert sum(result.recorded for result, _ in results) == SlaEvent.objects.count()
    expected = 5 * 4 + 5 * (2 + 2)  # undispatched: dispatch + on scene; dispatched: acknowledge + on scene
    assert SlaEvent.objects.count() == expected
    assert TimelineEvent.objects.filter(kind__in=[K.SLA_WARNING, K.SLA_BREACH]).count() == expected
    per_event = Notification.objects.values_list("sla_event_id", "recipient_id")
    assert len(per_event) == len(set(per_event)) > 0


def test_reroute_is_off_by_default(seeded, make_incident, dispatcher, clock, sweep):
    incident = make_incident()
    (assignment,) = dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    clock.at(minutes=3)
    sweep()
    assert reload(assignment).status == Assignment.Status.REQUESTED
    assert Assignment.objects.filter(incident=incident).count() == 1


def test_an_unacknowledged_dispatch_is_rerouted_to_the_next_agency_when_configured(seeded, make_incident, dispatcher, clock, sweep, settings):
    # given re-routing is on and the fire (routing: damkar, then dinkes-psc) went to damkar
    settings.SLA_REROUTE_UNACKNOWLEDGED = True
    incident = make_incident()
    (stale,) = dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)

    # when damkar has not acknowledged at its 2-minute deadline
    clock.at(minutes=2)
    sweep()

    # then damkar's assignment is cancelled and the ambulance service is dispatched, by the services
    assert reload(stale).status == Assignment.Status.CANCELLED
    replacement = Assignment.objects.get(incident=incident, agency__code="dinkes-psc")
    assert replacement.status == Assignment.Status.REQUESTED
    assert replacement.acknowledge_due_at == T0 + timedelta(minutes=4)
    assert reload(incident).status == Incident.Status.DISPATCHED
    assert SlaEvent.objects.filter(assignment=stale, level="breach").count() == 1
    assert incident.timeline.filter(kind=K.ASSIGNMENT_CREATED, assignment=replacement).exists()
    # and the new assignment's clock is watched
    assert reload(incident).sla_next_check_at <= T0 + timedelta(minutes=2, seconds=96)

    # when the replacement is not acknowledged either, there is no one left to try
    clock.at(minutes=4)
    sweep()
    assert reload(replacement).status == Assignment.Status.REQUESTED
    assert incident.timeline.filter(kind=K.NOTE, assignment=replacement).exists()


def test_policy_warning_percent_applies_to_the_acknowledge_clock(seeded, make_incident, dispatcher, clock, sweep):
    SlaPolicy.objects.create(category=seeded.category("fire"), agency=seeded.agency("damkar"), warning_percent=50)
    incident = make_incident()
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)

    clock.at(seconds=59)
    sweep()
    assert not SlaEvent.objects.filter(target="acknowledge").exists()
    clock.at(seconds=60)
    sweep()
    assert SlaEvent.objects.filter(target="acknowledge", level="warning").exists()


def test_one_incident_costs_a_bounded_number_of_queries(make_incident, cc_people, clock, django_assert_max_num_queries):
    # given an incident with its dispatch warning and deadline passed, and a webhook subscription
    from incidents.models import WebhookSubscription

    WebhookSubscription.objects.create(name="cc", url="http://127.0.0.1:9/", event_types=["sla.breach"])
    incident = make_incident()
    clock.at(minutes=1)

    # then checking it is a handful of round trips, and each further event adds two (event, timeline)
    with django_assert_max_num_queries(19):
        events = sla.incident_sla_check(incident_id=incident.pk)
    assert len(events) == 2
