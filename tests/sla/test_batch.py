"""The sweep's batches: the same record as the per-incident path, in a fixed number of statements."""

from __future__ import annotations

import importlib
import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from dispatch import services as dispatch_services
from dispatch.models import Assignment
from incidents import services, sla
from incidents.models import (
    Incident,
    Notification,
    SlaEvent,
    SlaPolicy,
    TimelineEvent,
    WebhookDelivery,
    WebhookEventType,
    WebhookSubscription,
)
from tests.factories import reload

from .conftest import T0

pytestmark = pytest.mark.django_db

K = TimelineEvent.Kind
E = WebhookEventType
ALL_EVENTS = list(E.values)


def events(incident) -> set[tuple[str, str]]:
    return set(SlaEvent.objects.filter(incident=incident).values_list("target", "level"))


def subscriptions(seeded) -> list[WebhookSubscription]:
    """The region's integration, damkar's (sees only incidents damkar is or was on), the police's."""
    return [
        WebhookSubscription.objects.create(name="cc", url="http://127.0.0.1:9/", event_types=ALL_EVENTS),
        WebhookSubscription.objects.create(
            name="damkar", url="http://127.0.0.1:9/", agency=seeded.agency("damkar"), event_types=["sla.warning", "sla.breach"]
        ),
        WebhookSubscription.objects.create(
            name="police", url="http://127.0.0.1:9/", agency=seeded.agency("polrestabes"), event_types=ALL_EVENTS
        ),
    ]


# ------------------------------------------------------------------------------------------------
# The same record as the per-incident path
# ------------------------------------------------------------------------------------------------
def _scenario(seeded, make_incident, dispatcher, supervisor, clock) -> list[list[Incident]]:
    """Two identical sets of five fires (same moments, same steps), each with several events due at
    11 minutes: undispatched; dispatched at 20 s to damkar and the ambulance service (which
    acknowledges); dispatched at 59.9 s (a warning whose clock stopped); resolved at 5 minutes and
    reopened; and a water main (other targets) dispatched at once to damkar."""
    sets: list[list[Incident]] = [[], []]
    for incidents in sets:
        clock.at()
        incidents += [make_incident() for _ in range(4)]
        incidents.append(make_incident(category=seeded.category("water-main")))
    for incidents in sets:
        clock.at()
        dispatch_services.incident_dispatch(incident=incidents[4], agencies=[seeded.agency("damkar")], actor=dispatcher)
    for incidents in sets:
        clock.at(seconds=20)
        _damkar, psc = dispatch_services.incident_dispatch(
            incident=incidents[1], agencies=[seeded.agency("damkar"), seeded.agency("dinkes-psc")], actor=dispatcher
        )
        clock.at(seconds=60)
        dispatch_services.assignment_acknowledge(assignment=psc, actor=dispatcher)
    for incidents in sets:
        clock.at(seconds=59.9)
        dispatch_services.incident_dispatch(incident=incidents[2], agencies=[seeded.agency("damkar")], actor=dispatcher)
    for incidents in sets:
        clock.at(minutes=5)
        services.incident_verify(incident=incidents[3], actor=dispatcher)
        services.incident_resolve(incident=incidents[3], actor=dispatcher)
        clock.at(minutes=7)
        services.incident_reopen(incident=incidents[3], actor=supervisor, note="Flared up again.")
    return sets


def _record_of(incident: Incident) -> dict:
    """Everything the SLA engine wrote for an incident, without the ids that differ between sets."""
    incident = reload(incident)
    received = incident.received_at
    agency = {a.pk: a.agency.code for a in Assignment.objects.filter(incident=incident).select_related("agency")}
    sla_events = {
        event.pk: (event.target, event.level, agency.get(event.assignment_id), event.due_at - received, event.recorded_at)
        for event in SlaEvent.objects.filter(incident=incident)
    }
    timeline_ids = {}
    timeline = []
    for event in incident.timeline.filter(kind__in=[K.SLA_WARNING, K.SLA_BREACH]).order_by("created_at", "id"):
        timeline_ids[event.pk] = len(timeline)
        payload = dict(event.payload)
        assert payload.pop("sla_event_id") in sla_events
        timeline.append(
            (event.kind, event.to_state, event.note, payload, event.actor_id, event.actor_label, event.created_at,
             agency.get(event.assignment_id))
        )
    notifications = sorted(
        (
            n.recipient_id,
            n.kind,
            n.message.replace(incident.reference, "REF"),
            n.email_to,
            n.created_at,
            sla_events[n.sla_event_id][:3],
        )
        for n in Notification.objects.filter(incident=incident)
    )
    deliveries = []
    for delivery in WebhookDelivery.objects.filter(incident=incident, event_type__startswith="sla.").order_by("id"):
        body = delivery.payload
        assert body["id"] == str(delivery.event_id)
        assert body["incident"]["id"] == incident.pk and body["incident"]["reference"] == incident.reference
        assert body["sla"]["sla_event_id"] in sla_events
        body = {**body, "id": None, "timeline_event_id": timeline_ids[body["timeline_event_id"]]}
        body["incident"] = {**body["incident"], "id": None, "reference": None}
        body["sla"] = {**body["sla"], "sla_event_id": None}
        if body["assignment"] is not None:
            body["assignment"] = {**body["assignment"], "id": None}
        deliveries.append(
            (delivery.subscription.name, delivery.event_type, delivery.status, delivery.attempt_limit, body)
        )
    return {
        "sla_events": sorted(sla_events.values(), key=repr),
        "timeline": timeline,
        "notifications": notifications,
        "deliveries": deliveries,
        "next_check": incident.sla_next_check_at,
    }


def test_a_batch_records_exactly_what_the_per_incident_path_records(
    seeded, make_incident, dispatcher, supervisor, cc_people, clock
):
    # given integrations and two identical sets of fires with several thresholds passed each
    subscriptions(seeded)
    by_path, by_batch = _scenario(seeded, make_incident, dispatcher, supervisor, clock)
    now = clock.at(minutes=11)

    # when the first set goes through the per-incident path (ORM timeline events, the post_save
    # fan-out) and the sweep takes the second set in one batch
    for incident in by_path:
        sla.incident_sla_check(incident_id=incident.pk, now=now)
    result = sla.sla_sweep(now=now)

    # then the sweep did the second set in one go, and wrote exactly what the per-incident path wrote
    assert (result.checked, result.failed) == (5, 0)
    assert result.recorded == SlaEvent.objects.filter(incident__in=by_batch).count() == 19
    for reference, batched in zip(by_path, by_batch, strict=True):
        assert _record_of(batched) == _record_of(reference)

    # and that is the right record: per incident ...
    undispatched, two_agencies, just_in_time, reopened, water_main = by_batch
    assert events(undispatched) == {(t, lv) for t in ("dispatch", "response") for lv in ("warning", "breach")}
    assert set(SlaEvent.objects.filter(incident=two_agencies).values_list("target", "level", "assignment__agency__code")) == {
        ("acknowledge", "warning", "damkar"),
        ("acknowledge", "breach", "damkar"),
        ("response", "warning", None),
        ("response", "breach", None),
    }
    assert events(just_in_time) == {("dispatch", "warning")} | {
        (t, lv) for t in ("acknowledge", "response") for lv in ("warning", "breach")
    }
    assert events(reopened) == {("dispatch", "warning"), ("dispatch", "breach")}
    assert events(water_main) == {(t, lv) for t in ("acknowledge", "response") for lv in ("warning", "breach")}
    # ... a warning whose clock had stopped is on record but nobody is told ...
    stopped = SlaEvent.objects.get(incident=just_in_time, target="dispatch")
    assert not Notification.objects.filter(sla_event=stopped).exists()
    assert Notification.objects.filter(incident=just_in_time, sla_event__target="response").exists()
    # ... the damkar integration hears only of incidents damkar is on, the police's of none
    damkar_hears = set(WebhookDelivery.objects.filter(subscription__name="damkar").values_list("incident_id", flat=True))
    assert damkar_hears & {i.pk for i in by_batch} == {two_agencies.pk, just_in_time.pk, water_main.pk}
    assert not WebhookDelivery.objects.filter(subscription__name="police").exists()
    # ... and one outbox row per (timeline event, subscription)
    keys = list(WebhookDelivery.objects.values_list("subscription_id", "payload__timeline_event_id"))
    assert len(keys) == len(set(keys))


def test_the_batch_reads_the_stored_acknowledge_warning_not_the_policy_of_today(seeded, make_incident, dispatcher, clock, sweep):
    # given a dispatch to damkar (acknowledge within 2 minutes, warning at 80%: 96 s)
    incident = make_incident()
    (assignment,) = dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    assert assignment.acknowledge_warn_at == T0 + timedelta(seconds=96)
    assert reload(assignment).acknowledge_warn_at == T0 + timedelta(seconds=96)

    # when a policy edited afterwards would warn at 50%
    SlaPolicy.objects.create(category=seeded.category("fire"), agency=seeded.agency("damkar"), warning_percent=50)
    clock.at(seconds=90)
    sweep()

    # then the assignment's warning still falls when it was fixed at dispatch
    assert not SlaEvent.objects.filter(target="acknowledge").exists()
    clock.at(seconds=96)
    sweep()
    assert SlaEvent.objects.get(target="acknowledge", level="warning").due_at == T0 + timedelta(seconds=96)


def test_migration_0006_fills_the_warning_of_existing_assignments_from_the_policy(seeded, make_incident, dispatcher, clock):
    # given assignments written before the column existed, one agency with a 50% policy
    SlaPolicy.objects.create(category=seeded.category("fire"), agency=seeded.agency("damkar"), warning_percent=50)
    incident = make_incident()
    damkar, psc = dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar"), seeded.agency("dinkes-psc")], actor=dispatcher
    )
    Assignment.objects.update(acknowledge_warn_at=None)

    # when the migration's fill runs (its SQL on PostgreSQL, its loop elsewhere)
    migration = importlib.import_module("dispatch.migrations.0006_assignment_acknowledge_warn_at")

    def execute(sql, params=None):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    migration.fill(django_apps, SimpleNamespace(connection=connection, execute=execute))

    # then each has the warning its policy gives: 50% of 2 minutes for damkar, the default 80% otherwise
    assert reload(damkar).acknowledge_warn_at == T0 + timedelta(seconds=60)
    assert reload(psc).acknowledge_warn_at == T0 + timedelta(seconds=96)


# ------------------------------------------------------------------------------------------------
# One bad incident, concurrency, cost
# ------------------------------------------------------------------------------------------------
def test_a_batch_that_fails_on_one_incident_still_records_the_others(make_incident, clock, sweep, monkeypatch, caplog):
    # given five fires received a second apart (warnings at 48 s … 52 s), and the third one's data
    # makes recording it fail (think: a description that cannot be rendered)
    incidents = []
    for second in range(5):
        clock.at(seconds=second)
        incidents.append(make_incident())
    bad = incidents[2]
    real_describe = sla.sla_event_describe

    def describe(**kwargs):
        if kwargs["due_at"] == T0 + timedelta(seconds=50):
            raise ValueError("bad row")
        return real_describe(**kwargs)

    monkeypatch.setattr(sla, "sla_event_describe", describe)
    clock.at(seconds=55)

    # when the sweep runs (one batch of five)
    result = sweep()

    # then the batch was rolled back and redone incident by incident: only the bad one is left
    assert "checking them one by one" in caplog.text
    assert (result.checked, result.recorded, result.failed) == (4, 4, 1)
    for incident in incidents:
        assert events(incident) == (set() if incident == bad else {("dispatch", "warning")})
        assert incident.timeline.filter(kind=K.SLA_WARNING).count() == (0 if incident == bad else 1)
    assert reload(bad).sla_next_check_at == T0 + timedelta(seconds=50)  # still due: the next sweep retries

    # and once the data is fixed, the next sweep records it, once
    monkeypatch.setattr(sla, "sla_event_describe", real_describe)
    assert sweep().recorded == 1
    assert events(bad) == {("dispatch", "warning")}


def test_a_sweep_costs_the_same_statements_for_1_and_for_20_incidents_due(
    seeded, make_incident, dispatcher, cc_people, clock, django_assert_max_num_queries
):
    # given an integration, and fires dispatched to damkar at once: one at T0, twenty at T0 + 3 min
    # (acknowledge warning at 96 s, deadline at 120 s: events of an assignment, notifications, outbox rows)
    subscriptions(seeded)

    def dispatched_fire():
        incident = make_incident()
        dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
        return incident

    dispatched_fire()
    clock.at(minutes=3)
    twenty = [dispatched_fire() for _ in range(20)]

    # when the sweep finds one incident due (its next check is then at 8 minutes), then twenty
    with CaptureQueriesContext(connection) as one:
        first = sla.sla_sweep(now=T0 + timedelta(seconds=130))
    with django_assert_max_num_queries(len(one.captured_queries)):
        second = sla.sla_sweep(now=T0 + timedelta(minutes=3, seconds=100))

    # then the twenty cost no more statements than the one (and did their work)
    assert (first.checked, first.recorded) == (1, 2)
    assert (second.checked, second.recorded) == (20, 20)
    assert WebhookDelivery.objects.filter(incident__in=twenty, event_type=E.SLA_WARNING).count() == 40  # cc + damkar
    assert Notification.objects.filter(incident__in=twenty).count() == 20 * 2  # cc dispatcher, damkar supervisor
    # the due select; per batch: lock, assignments, events recorded, first resolutions, insert events,
    # insert timeline, outbox INSERT … SELECT, recipients, insert notifications, UPDATE next checks,
    # and three savepoints (batch, outbox, notifications) with their releases; the heartbeat (2 the first time)
    assert len(one.captured_queries) <= 20  # incl. the configuration version, read once per sweep


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.parametrize("batch", [200, 3])
def test_concurrent_batch_sweeps_record_each_event_once(seeded, make_incident, dispatcher, clock, run_in_threads, batch):
    # given an integration, and ten fires (five dispatched) past every threshold of their first 11 minutes
    subscription = WebhookSubscription.objects.create(name="cc", url="http://127.0.0.1:9/", event_types=ALL_EVENTS)
    incidents = [make_incident() for _ in range(10)]
    for incident in incidents[:5]:
        dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    clock.at(minutes=11)
    already = WebhookDelivery.objects.count()

    # when three sweeps run at once, in batches
    def sweep():
        return sla.sla_sweep(batch=batch)

    results = run_in_threads(sweep, sweep, sweep)

    # then each event exists once, with one timeline event, one outbox row and one set of notifications
    assert [error for _, error in results] == [None, None, None]
    expected = 5 * 4 + 5 * (2 + 2)
    assert SlaEvent.objects.count() == sum(result.recorded for result, _ in results) == expected
    timeline = list(TimelineEvent.objects.filter(kind__in=[K.SLA_WARNING, K.SLA_BREACH]).values_list("pk", flat=True))
    assert len(timeline) == expected
    outbox = list(
        WebhookDelivery.objects.filter(subscription=subscription, event_type__startswith="sla.").values_list(
            "payload__timeline_event_id", flat=True
        )
    )
    assert sorted(outbox) == sorted(timeline)
    assert WebhookDelivery.objects.count() == already + expected
    per_event = list(Notification.objects.values_list("sla_event_id", "recipient_id"))
    assert len(per_event) == len(set(per_event))
    assert Incident.objects.filter(sla_next_check_at__lte=clock.at(minutes=11)).count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_an_incident_locked_by_a_service_is_waited_for_not_skipped(make_incident, clock, run_in_threads):
    # given two fires past their dispatch warning, one of them locked by a service's transaction
    held, free = make_incident(), make_incident()
    clock.at(seconds=50)
    locked, release = threading.Event(), threading.Event()

    def service():
        with transaction.atomic():
            Incident.objects.select_for_update().get(pk=held.pk)
            locked.set()
            release.wait(10)

    def sweep():
        locked.wait(10)
        threading.Timer(0.5, release.set).start()  # the service commits while the sweep is running
        return sla.sla_sweep()

    # when the sweep runs meanwhile
    (_, service_error), (result, sweep_error) = run_in_threads(service, sweep)

    # then the batch skipped the locked incident, and the same sweep checked it once the lock was gone
    assert service_error is None and sweep_error is None
    assert (result.checked, result.recorded, result.failed) == (2, 2, 0)
    assert events(held) == events(free) == {("dispatch", "warning")}


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_batch_does_not_queue_behind_a_long_lock_on_an_assignment(
    seeded, make_incident, dispatcher, clock, run_in_threads, monkeypatch, caplog
):
    # given two fires dispatched to damkar, past their acknowledge warning (96 s), and a task that
    # keeps one assignment locked for a while without the incident's lock (as the agency email does)
    monkeypatch.setattr(sla, "BATCH_LOCK_TIMEOUT_MS", 200)
    incidents = [make_incident() for _ in range(2)]
    assignments = [
        dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)[0]
        for incident in incidents
    ]
    clock.at(seconds=100)
    locked = threading.Event()

    def task():
        with transaction.atomic():
            Assignment.objects.select_for_update().get(pk=assignments[0].pk)
            locked.set()
            threading.Event().wait(1.5)

    def sweep():
        locked.wait(10)
        return sla.sla_sweep()

    # when the sweep runs meanwhile
    (_, task_error), (result, sweep_error) = run_in_threads(task, sweep)

    # then the batch gave up waiting, and its incidents were checked one by one: nothing lost
    assert task_error is None and sweep_error is None
    assert "checking them one by one" in caplog.text
    assert (result.checked, result.recorded, result.failed) == (2, 2, 0)
    for assignment in assignments:
        assert SlaEvent.objects.filter(assignment=assignment, level="warning").count() == 1
