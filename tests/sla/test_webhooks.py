"""Outbound webhooks: who receives what, signed deliveries, retries with backoff, every attempt kept."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest

from dispatch import services as dispatch_services
from incidents import services, webhooks
from incidents.models import (
    Incident,
    TimelineEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEventType,
    WebhookSubscription,
)
from semarang112.core import config_cache
from tests.factories import RegionFactory, reload

E = WebhookEventType
ALL_EVENTS = list(E.values)

pytestmark = pytest.mark.django_db


def deliveries(subscription) -> list[tuple[str, str]]:
    return list(
        WebhookDelivery.objects.filter(subscription=subscription)
        .order_by("id")
        .values_list("event_type", "payload__incident__reference")
    )


def verify_like_a_receiver(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The README's recipe, written out independently of incidents.webhooks."""
    timestamp = headers["X-S112-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) <= 300
    return fresh and hmac.compare_digest(expected, headers["X-S112-Signature"])


# ------------------------------------------------------------------------------------------------
# Signing
# ------------------------------------------------------------------------------------------------
def test_signature_recipe_and_verification():
    body = b'{"id":"e1","type":"sla.breach"}'
    now = int(time.time())

    header = webhooks.signature(secret="s3cret", timestamp=now, body=body)

    assert header == "sha256=" + hmac.new(b"s3cret", f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    assert webhooks.signature_verify(secret="s3cret", timestamp=str(now), signature_header=header, body=body)
    assert not webhooks.signature_verify(secret="s3cret", timestamp=str(now), signature_header=header, body=body + b" ")
    assert not webhooks.signature_verify(secret="other", timestamp=str(now), signature_header=header, body=body)
    assert not webhooks.signature_verify(secret="s3cret", timestamp=str(now + 1), signature_header=header, body=body)
    old = now - 3600
    stale = webhooks.signature(secret="s3cret", timestamp=old, body=body)
    assert not webhooks.signature_verify(secret="s3cret", timestamp=str(old), signature_header=stale, body=body)


# ------------------------------------------------------------------------------------------------
# Who receives what
# ------------------------------------------------------------------------------------------------
def test_the_timeline_drives_the_event_types(seeded, make_incident, dispatcher, clock, sweep):
    # given a command center integration subscribed to everything
    subscription = WebhookSubscription.objects.create(name="cc", url="http://127.0.0.1:9/", event_types=ALL_EVENTS)

    # when a fire is created, dispatched, acknowledged, breaches its dispatch target... and is resolved
    incident = make_incident()
    clock.at(seconds=30)
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    (assignment,) = incident.assignments.all()
    dispatch_services.assignment_acknowledge(assignment=assignment, actor=dispatcher)
    clock.at(minutes=11)
    sweep()
    services.incident_resolve(incident=incident, actor=dispatcher)

    # then each change became one delivery of the right type
    assert [event_type for event_type, _ref in deliveries(subscription)] == [
        E.INCIDENT_CREATED,
        E.ASSIGNMENT_CHANGED,  # damkar asked
        E.INCIDENT_DISPATCHED,
        E.ASSIGNMENT_CHANGED,  # damkar acknowledged
        E.SLA_WARNING,  # on scene at 8 minutes
        E.SLA_BREACH,  # on scene at 10 minutes
        E.ASSIGNMENT_CHANGED,  # damkar withdrawn by the resolution
        E.INCIDENT_RESOLVED,
    ]
    breach = WebhookDelivery.objects.get(subscription=subscription, event_type=E.SLA_BREACH)
    assert breach.payload["sla"]["target"] == "response"
    assert breach.payload["incident"]["reference"] == incident.reference
    assert "caller_number" not in json.dumps(breach.payload)  # no personal data leaves the platform


def test_subscriptions_only_receive_events_of_incidents_their_agency_may_see(seeded, make_incident, dispatcher):
    # given subscriptions of the whole region, of another region, of damkar, and of the police
    everything = WebhookSubscription.objects.create(name="cc", url="http://127.0.0.1:9/", event_types=ALL_EVENTS)
    region = WebhookSubscription.objects.create(name="smg", url="http://127.0.0.1:9/", region=seeded.region, event_types=ALL_EVENTS)
    elsewhere = WebhookSubscription.objects.create(name="far", url="http://127.0.0.1:9/", region=RegionFactory(), event_types=ALL_EVENTS)
    damkar = WebhookSubscription.objects.create(
        name="damkar", url="http://127.0.0.1:9/", agency=seeded.agency("damkar"), event_types=ALL_EVENTS
    )
    police = WebhookSubscription.objects.create(
        name="police", url="http://127.0.0.1:9/", agency=seeded.agency("polrestabes"), event_types=ALL_EVENTS
    )

    # when a fire is created and dispatched to damkar
    incident = make_incident()
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)

    # then the region's subscriptions get everything, damkar from its assignment on, the others nothing
    assert len(deliveries(everything)) == len(deliveries(region)) == 3
    assert [event_type for event_type, _ in deliveries(damkar)] == [E.ASSIGNMENT_CHANGED, E.INCIDENT_DISPATCHED]
    assert deliveries(elsewhere) == deliveries(police) == []


def test_an_agency_keeps_receiving_events_of_an_incident_it_was_taken_off(seeded, make_incident, dispatcher):
    damkar = WebhookSubscription.objects.create(
        name="damkar", url="http://127.0.0.1:9/", agency=seeded.agency("damkar"), event_types=[E.ASSIGNMENT_CHANGED]
    )
    incident = make_incident()
    (assignment,) = dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)

    dispatch_services.assignment_cancel(assignment=assignment, actor=dispatcher, reason="Re-routed.")

    assert len(deliveries(damkar)) == 2  # asked, then cancelled: it had the assignment


def test_only_subscribed_event_types_and_active_subscriptions(make_incident):
    wanted = WebhookSubscription.objects.create(name="a", url="http://127.0.0.1:9/", event_types=[E.SLA_BREACH])
    inactive = WebhookSubscription.objects.create(
        name="b", url="http://127.0.0.1:9/", event_types=ALL_EVENTS, is_active=False
    )

    make_incident()

    assert deliveries(wanted) == deliveries(inactive) == []


def test_a_broken_fan_out_never_blocks_emergency_work(make_incident, monkeypatch):
    WebhookSubscription.objects.create(name="a", url="http://127.0.0.1:9/", event_types=ALL_EVENTS)

    def broken(**kwargs):
        raise RuntimeError("bug in the webhook code")

    monkeypatch.setattr(webhooks, "deliveries_create", broken)

    incident = make_incident()

    assert Incident.objects.filter(pk=incident.pk).exists()


def test_the_fan_out_costs_no_query_unless_a_subscription_wants_the_event(make_incident, django_assert_num_queries):
    # given an incident and its "created" timeline event, and no subscription; within one request
    # (one pinned configuration version) the list of active subscriptions has been read
    incident = make_incident()
    event = incident.timeline.get(kind="created")

    def fan_out(expected_queries: int) -> None:
        with config_cache.pinned():
            webhooks.active_subscriptions()
            with django_assert_num_queries(expected_queries):
                webhooks.timeline_event_saved(sender=None, instance=event, created=True)

    # then fanning the event out asks the database nothing
    fan_out(0)

    # and with a subscription to another type or another region, still nothing
    WebhookSubscription.objects.create(name="a", url="http://127.0.0.1:9/", event_types=[E.SLA_BREACH])
    WebhookSubscription.objects.create(name="b", url="http://127.0.0.1:9/", region=RegionFactory(), event_types=ALL_EVENTS)
    fan_out(0)

    # with one that wants it: one INSERT … SELECT (in its savepoint)
    wanted = WebhookSubscription.objects.create(name="c", url="http://127.0.0.1:9/", event_types=[E.INCIDENT_CREATED])
    fan_out(3)
    assert deliveries(wanted) == [(E.INCIDENT_CREATED, incident.reference)]


def test_a_subscription_created_elsewhere_gets_the_next_event(make_incident):
    # given the process has the (empty) list of active subscriptions cached
    webhooks.active_subscriptions()

    # when a subscription is created behind its back (bulk_create: no signal, as in another process)
    WebhookSubscription.objects.bulk_create(
        [WebhookSubscription(name="elsewhere", url="http://127.0.0.1:9/", event_types=[E.INCIDENT_CREATED])]
    )

    # then the very next incident is delivered to it
    incident = make_incident()
    subscription = WebhookSubscription.objects.get(name="elsewhere")
    assert deliveries(subscription) == [(E.INCIDENT_CREATED, incident.reference)]


def test_the_database_not_the_cached_list_decides_who_receives(make_incident):
    # given a subscription the process has cached, then disabled behind its back (no signal)
    subscription = WebhookSubscription.objects.create(name="cc", url="http://127.0.0.1:9/", event_types=ALL_EVENTS)
    webhooks.active_subscriptions()
    WebhookSubscription.objects.filter(pk=subscription.pk).update(is_active=False)

    make_incident()

    # then it receives nothing
    assert deliveries(subscription) == []

    # and a subscription saved in this process is seen at once
    fresh = WebhookSubscription.objects.create(name="new", url="http://127.0.0.1:9/", event_types=[E.INCIDENT_CREATED])
    incident = make_incident()
    assert deliveries(fresh) == [(E.INCIDENT_CREATED, incident.reference)]


def test_the_bulk_fan_out_writes_what_the_receiver_writes(seeded, make_incident, dispatcher):
    # given subscriptions of the region, of damkar, of the police, and events of two incidents
    everything = WebhookSubscription.objects.create(name="cc", url="http://127.0.0.1:9/", event_types=ALL_EVENTS)
    damkar = WebhookSubscription.objects.create(
        name="damkar", url="http://127.0.0.1:9/", agency=seeded.agency("damkar"), event_types=ALL_EVENTS
    )
    police = WebhookSubscription.objects.create(
        name="police", url="http://127.0.0.1:9/", agency=seeded.agency("polrestabes"), event_types=ALL_EVENTS
    )
    # (the first incident's from its dispatch on: who may see an incident is judged at the time)
    first, second = make_incident(), make_incident()
    WebhookDelivery.objects.filter(incident=first).delete()
    dispatch_services.incident_dispatch(incident=first, agencies=[seeded.agency("damkar")], actor=dispatcher)
    by_receiver = {
        (s, t, ref, body["timeline_event_id"])
        for s, t, ref, body in WebhookDelivery.objects.values_list(
            "subscription__name", "event_type", "payload__incident__reference", "payload"
        )
    }
    events = list(
        TimelineEvent.objects.filter(incident__in=[first, second])
        .exclude(incident=first, kind="created")
        .select_related("incident__category", "assignment__agency")
    )
    WebhookDelivery.objects.all().delete()

    # when the same events go through the bulk fan-out
    created = webhooks.timeline_events_fan_out(events)

    # then the same deliveries, one statement for all of them
    by_bulk = {
        (s, t, ref, body["timeline_event_id"])
        for s, t, ref, body in WebhookDelivery.objects.values_list(
            "subscription__name", "event_type", "payload__incident__reference", "payload"
        )
    }
    assert by_bulk == by_receiver and len(created) == len(by_bulk) > 0
    assert deliveries(police) == [] and len(deliveries(damkar)) == 2 and len(deliveries(everything)) == 3


# ------------------------------------------------------------------------------------------------
# Delivery
# ------------------------------------------------------------------------------------------------
def test_a_breach_is_delivered_signed_and_the_attempt_recorded(make_incident, receiver, clock, sweep):
    # given an integration subscribed to breaches
    subscription = WebhookSubscription.objects.create(name="cc", url=receiver.url, event_types=[E.SLA_BREACH])
    incident = make_incident()

    # when the dispatch deadline passes and the sweep runs (the delivery task runs after commit)
    clock.at(minutes=1)
    sweep()

    # then the receiver got one POST it can verify with the documented recipe
    (request,) = receiver.wait_for(1)
    assert request.path == "/hooks/112"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-S112-Event-Type"] == "sla.breach"
    assert verify_like_a_receiver(subscription.secret, request.headers, request.body)
    assert request.json["incident"]["reference"] == incident.reference
    assert request.json["sla"] == {
        "sla_event_id": request.json["sla"]["sla_event_id"],
        "target": "dispatch",
        "level": "breach",
        "due_at": incident.dispatch_due_at.isoformat(),
    }
    # and the delivery and its attempt are on record
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert (delivery.attempt_count, delivery.status_code, delivery.next_attempt_at) == (1, 200, None)
    assert delivery.delivered_at is not None
    (attempt,) = delivery.attempts.all()
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, "")
    assert attempt.latency_ms >= 0


def test_a_500_is_retried_with_exponential_backoff_until_delivered(make_incident, receiver, clock, settings):
    # given a receiver that fails twice, then answers 200
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    receiver.responses = [(500, 0), (503, 0)]
    subscription = WebhookSubscription.objects.create(name="cc", url=receiver.url, event_types=[E.INCIDENT_CREATED])
    make_incident()
    delivery = WebhookDelivery.objects.get(subscription=subscription)

    # first attempt: 500, next attempt in 30 s
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) == WebhookDelivery.Status.PENDING
    delivery = reload(delivery)
    assert (delivery.status_code, delivery.error) == (500, "HTTP 500 Internal Server Error")
    assert delivery.next_attempt_at == clock.at() + timedelta(seconds=30)
    # not due yet: a second message for it changes nothing
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) == "skipped"
    assert webhooks.deliveries_enqueue_due() == 0

    # second attempt after 30 s: 503, next in 60 s
    clock.at(seconds=30)
    assert webhooks.deliveries_enqueue_due() == 1  # runs eagerly
    delivery = reload(delivery)
    assert delivery.status_code == 503
    assert delivery.next_attempt_at == clock.at(seconds=30) + timedelta(seconds=60)

    # third attempt: delivered
    clock.at(seconds=90)
    webhooks.deliveries_enqueue_due()
    delivery = reload(delivery)
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert list(delivery.attempts.values_list("number", "status_code")) == [(1, 500), (2, 503), (3, 200)]
    assert len(receiver.requests) == 3
    # each attempt is signed afresh and carries the same event id
    assert len({request.headers["X-S112-Event-Id"] for request in receiver.requests}) == 1
    assert all(verify_like_a_receiver(subscription.secret, r.headers, r.body) for r in receiver.requests)


def test_a_timeout_is_recorded_and_retried(make_incident, receiver, clock, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.responses = [(200, 1.0)]  # answers too late
    subscription = WebhookSubscription.objects.create(name="cc", url=receiver.url, event_types=[E.INCIDENT_CREATED])
    make_incident()
    delivery = WebhookDelivery.objects.get(subscription=subscription)

    assert webhooks.delivery_attempt(delivery_id=delivery.pk) == WebhookDelivery.Status.PENDING

    delivery = reload(delivery)
    assert delivery.status_code is None
    assert "timed out" in delivery.error.lower()
    assert delivery.latency_ms >= 250
    clock.at(minutes=1)
    webhooks.deliveries_enqueue_due()
    assert reload(delivery).status == WebhookDelivery.Status.DELIVERED


def test_an_unreachable_receiver_is_given_up_after_the_attempt_limit_and_can_be_retried(make_incident, clock, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    subscription = WebhookSubscription.objects.create(name="cc", url="http://127.0.0.1:9/nothing", event_types=[E.INCIDENT_CREATED])
    make_incident()
    delivery = WebhookDelivery.objects.get(subscription=subscription)

    for minutes in (0, 10, 20):
        clock.at(minutes=minutes)
        webhooks.deliveries_enqueue_due()

    delivery = reload(delivery)
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.next_attempt_at is None
    assert delivery.attempts.count() == 3
    assert all(attempt.status_code is None and attempt.error for attempt in delivery.attempts.all())
    clock.at(hours=5)
    assert webhooks.deliveries_enqueue_due() == 0  # given up: no more attempts on its own

    # the admin's "retry" gives it another round, numbering attempts on
    assert webhooks.deliveries_retry(ids=[delivery.pk]) == 1
    webhooks.deliveries_enqueue_due()
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", flat=True)) == [1, 2, 3, 4]
    assert reload(delivery).status == WebhookDelivery.Status.PENDING


def test_backoff_is_exponential_and_bounded(settings):
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 600
    assert [webhooks.backoff(n).total_seconds() for n in range(1, 8)] == [30, 60, 120, 240, 480, 600, 600]


def test_a_redirect_is_not_followed(make_incident, receiver):
    receiver.responses = [(302, 0)]
    subscription = WebhookSubscription.objects.create(name="cc", url=receiver.url, event_types=[E.INCIDENT_CREATED])
    make_incident()
    delivery = WebhookDelivery.objects.get(subscription=subscription)

    webhooks.delivery_attempt(delivery_id=delivery.pk)

    assert reload(delivery).status_code == 302
    assert len(receiver.requests) == 1


def test_a_disabled_subscription_stops_its_pending_deliveries(make_incident):
    subscription = WebhookSubscription.objects.create(name="cc", url="http://127.0.0.1:9/", event_types=[E.INCIDENT_CREATED])
    make_incident()
    subscription.is_active = False
    subscription.save()
    delivery = WebhookDelivery.objects.get(subscription=subscription)

    assert webhooks.delivery_attempt(delivery_id=delivery.pk) == WebhookDelivery.Status.FAILED
    assert reload(delivery).error == "subscription disabled"
