"""Outbound webhooks: an outbox written with each timeline event, delivered signed, retried.

Events
    Every timeline event is the record of a change, so the timeline drives the webhooks: when one is
    saved (``timeline_event_saved``, connected in ``IncidentsConfig.ready``) the matching event type
    is fanned out to the active subscriptions that may see the incident, as ``WebhookDelivery`` rows
    in the same transaction — a rolled-back change sends nothing, a committed one is never lost.
    Events written in bulk (the SLA sweep's, with ``bulk_create``, which fires no signal) are fanned
    out by ``timeline_events_fan_out`` with the same rule, in one statement for all of them.

    The fan-out costs no query when no active subscription wants the event type in the incident's
    region (the active subscriptions are read through the configuration cache,
    ``semarang112.core.config_cache``: again as soon as any subscription changes, in any process),
    and one ``INSERT … SELECT`` otherwise: the database picks the subscriptions, so the cached list
    never sends an event to a subscription that has been disabled or narrowed.

    ==========================  =================================================
    timeline event              webhook event type
    ==========================  =================================================
    created                     incident.created
    status_changed → dispatched incident.dispatched
    status_changed → resolved   incident.resolved
    assignment_created/_status  assignment.changed
    sla_warning / sla_breach    sla.warning / sla.breach
    ==========================  =================================================

Visibility
    A subscription with an agency receives the events of incidents that have or had an assignment
    to that agency or a live share with it (the rule of ``incidents.selectors``); one without an
    agency receives its region's (every region's when the region is empty too). Payloads carry no
    caller name or number.

Delivery
    ``delivery_attempt`` claims a due delivery with one conditional UPDATE (a lease), POSTs the body
    with ``X-S112-Timestamp`` and ``X-S112-Signature: sha256=<hex HMAC-SHA256(secret,
    "<timestamp>.<body>")>``, records the attempt (status code, latency, error) and either marks the
    delivery delivered or schedules the next attempt with exponential backoff; at its attempt
    limit (WEBHOOK_MAX_ATTEMPTS) it is failed. The first attempt is queued after commit; retries
    (and any lost message) are queued by the periodic outbox flush from ``next_attempt_at`` — the
    database holds the schedule, no countdown message does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from semarang112.core import config_cache

from .models import (
    Incident,
    TimelineEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEventType,
    WebhookSubscription,
)

logger = logging.getLogger(__name__)

K = TimelineEvent.Kind
E = WebhookEventType

SIGNATURE_HEADER = "X-S112-Signature"
TIMESTAMP_HEADER = "X-S112-Timestamp"
#: A receiver should refuse a timestamp further than this from its clock (replay protection).
SIGNATURE_TOLERANCE_SECONDS = 300
USER_AGENT = "semarang112-webhooks/1"


# ------------------------------------------------------------------------------------------------
# Signing — the recipe documented in the README
# ------------------------------------------------------------------------------------------------
def signature(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``b"<timestamp>." + body`` with the subscription's secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signature_verify(
    *,
    secret: str,
    timestamp: str,
    signature_header: str,
    body: bytes,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver does: recompute over the raw body, compare in constant time, check freshness."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        return False
    return hmac.compare_digest(signature(secret=secret, timestamp=sent_at, body=body), signature_header or "")


def body_encode(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


# ------------------------------------------------------------------------------------------------
# Fan-out (inside the transaction of the change)
# ------------------------------------------------------------------------------------------------
def event_type_for(event: TimelineEvent) -> str | None:
    """The webhook event type of a timeline event, or None if integrations are not told."""
    if event.kind == K.CREATED:
        return E.INCIDENT_CREATED
    if event.kind == K.STATUS_CHANGED and event.to_state == Incident.Status.DISPATCHED:
        return E.INCIDENT_DISPATCHED
    if event.kind == K.STATUS_CHANGED and event.to_state == Incident.Status.RESOLVED:
        return E.INCIDENT_RESOLVED
    if event.kind in (K.ASSIGNMENT_CREATED, K.ASSIGNMENT_STATUS):
        return E.ASSIGNMENT_CHANGED
    if event.kind == K.SLA_WARNING:
        return E.SLA_WARNING
    if event.kind == K.SLA_BREACH:
        return E.SLA_BREACH
    return None


def timeline_event_saved(sender, instance: TimelineEvent, created: bool, raw: bool = False, **kwargs) -> None:
    """post_save receiver of TimelineEvent: write the webhook outbox rows for this change.

    No query at all when no active subscription wants the event type in the incident's region (the
    process's cached list says so); otherwise one INSERT … SELECT (``deliveries_create``). A failure
    is logged and must never undo the emergency work that wrote the timeline event, so the insert
    runs in its own savepoint.
    """
    if not created or raw:
        return
    event_type = event_type_for(instance)
    if event_type is None:
        return
    try:
        if not _maybe_wanted(event_type, instance.incident.region_id):
            return
        with transaction.atomic():
            deliveries_create(event=instance, event_type=event_type)
    except Exception:
        logger.exception("webhook fan-out of timeline event %s (%s) failed", instance.pk, event_type)


def timeline_events_fan_out(events: list[TimelineEvent]) -> list[WebhookDelivery]:
    """The outbox rows of timeline events written with ``bulk_create`` (which fires no post_save):
    exactly the deliveries ``timeline_event_saved`` would have written for each of them, in one
    INSERT … SELECT for all (none when no subscription wants any of them). Call in the transaction
    that wrote the events; like the receiver, a failure is logged and costs only the deliveries."""
    wanted = []
    for event in events:
        event_type = event_type_for(event)
        if event_type is not None and _maybe_wanted(event_type, event.incident.region_id):
            wanted.append((event, event_type))
    if not wanted:
        return []
    try:
        with transaction.atomic():
            return _deliveries_insert(wanted)
    except Exception:
        logger.exception("webhook fan-out of timeline events %s failed", [event.pk for event, _ in wanted])
        return []


# ------------------------------------------------------------------------------------------------
# Active subscriptions
# ------------------------------------------------------------------------------------------------
def active_subscriptions() -> list[WebhookSubscription]:
    """The active subscriptions, through the configuration cache (read again after any change to a
    subscription, in whatever process it was made). Read-only: shared by the process."""
    return config_cache.cached(
        "webhooks.active_subscriptions", lambda: list(WebhookSubscription.objects.filter(is_active=True).order_by("pk"))
    )


def _maybe_wanted(event_type: str, region_id: int | None) -> bool:
    """Whether any active subscription might receive ``event_type`` of an incident of this region
    (the agency rule is left to the database)."""
    return any(
        event_type in (subscription.event_types or []) and subscription.region_id in (None, region_id)
        for subscription in active_subscriptions()
    )


def subscriptions_for(*, incident: Incident, event_type: str) -> list[WebhookSubscription]:
    """Active subscriptions to ``event_type`` that may see ``incident`` (the rule the fan-out's
    INSERT … SELECT applies in SQL; for callers that want the objects)."""
    from dispatch.models import Assignment, IncidentShare

    subscriptions = [
        subscription
        for subscription in active_subscriptions()
        if event_type in (subscription.event_types or [])
        and (subscription.region_id is None or subscription.region_id == incident.region_id)
    ]
    if not any(subscription.agency_id for subscription in subscriptions):
        return subscriptions
    agency_ids = set(Assignment.objects.filter(incident_id=incident.pk).values_list("agency_id", flat=True))
    agency_ids |= set(
        IncidentShare.objects.active(timezone.now()).filter(incident_id=incident.pk).values_list("agency_id", flat=True)
    )
    return [
        subscription
        for subscription in subscriptions
        if subscription.agency_id is None or subscription.agency_id in agency_ids
    ]


def deliveries_create(*, event: TimelineEvent, event_type: str) -> list[WebhookDelivery]:
    """One pending delivery per subscription that may see the event (one INSERT … SELECT); each is
    queued after commit."""
    return _deliveries_insert([(event, event_type)])


#: Events per INSERT … SELECT (bounds the statement's size; a sweep batch rarely reaches it).
_FAN_OUT_CHUNK = 500


def _deliveries_insert(items: list[tuple[TimelineEvent, str]]) -> list[WebhookDelivery]:
    """INSERT … SELECT the deliveries of ``items`` (timeline event, event type).

    The subscriptions are chosen by the database, by the rule of this module's docstring: active,
    subscribed to the type, of the incident's region or of every region, and without an agency or
    with one that has or had an assignment on the incident or a live share of it. One event id and
    one payload per event, one row per (event, subscription), in event order, then subscription id.
    """
    from .tasks import webhook_delivery_attempt_task

    if not items:
        return []
    now = timezone.now()
    if connection.vendor == "postgresql":
        type_match = "s.event_types @> jsonb_build_array(e.event_type)"
    else:  # SQLite (the other database the settings know)
        type_match = "EXISTS (SELECT 1 FROM json_each(s.event_types) AS t WHERE t.value = e.event_type)"
    uuid_field = WebhookDelivery._meta.get_field("event_id")
    payload_field = WebhookDelivery._meta.get_field("payload")
    adapt_datetime = connection.ops.adapt_datetimefield_value
    deliveries: list[WebhookDelivery] = []
    for offset in range(0, len(items), _FAN_OUT_CHUNK):
        chunk = items[offset : offset + _FAN_OUT_CHUNK]
        rows, params, by_event_id = [], [], {}
        for index, (event, event_type) in enumerate(chunk):
            event_id = uuid.uuid4()
            payload = payload_build(event=event, event_type=event_type, event_id=event_id)
            by_event_id[event_id] = (event, event_type, payload)
            rows.append("(%s, %s, %s, %s, %s, %s)")
            params += [
                index,
                event.incident_id,
                event.incident.region_id,
                uuid_field.get_db_prep_value(event_id, connection),
                event_type,
                payload_field.get_db_prep_save(payload, connection),
            ]
        sql = (
            f"WITH e(ord, incident_id, region_id, event_id, event_type, payload) AS (VALUES {', '.join(rows)}) "
            f"INSERT INTO {WebhookDelivery._meta.db_table} (subscription_id, incident_id, event_id, event_type, "
            "payload, status, attempt_count, attempt_limit, error, next_attempt_at, created_at) "
            "SELECT s.id, e.incident_id, e.event_id, e.event_type, e.payload, %s, 0, %s, '', %s, %s "
            f"FROM e, {WebhookSubscription._meta.db_table} AS s "
            f"WHERE s.is_active AND (s.region_id IS NULL OR s.region_id = e.region_id) AND {type_match} AND ("
            "s.agency_id IS NULL"
            " OR EXISTS (SELECT 1 FROM dispatch_assignment AS a WHERE a.incident_id = e.incident_id AND a.agency_id = s.agency_id)"
            " OR EXISTS (SELECT 1 FROM dispatch_incidentshare AS h WHERE h.incident_id = e.incident_id"
            " AND h.agency_id = s.agency_id AND h.revoked_at IS NULL AND (h.expires_at IS NULL OR h.expires_at > %s))"
            ") ORDER BY e.ord, s.id RETURNING id, subscription_id, event_id"
        )
        params += [
            WebhookDelivery.Status.PENDING,
            settings.WEBHOOK_MAX_ATTEMPTS,
            adapt_datetime(now),
            adapt_datetime(now),
            adapt_datetime(now),
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            returned = cursor.fetchall()
        for pk, subscription_id, event_id in sorted(returned):
            event, event_type, payload = by_event_id[uuid_field.to_python(event_id)]
            deliveries.append(
                WebhookDelivery(
                    pk=pk,
                    subscription_id=subscription_id,
                    incident=event.incident,
                    event_id=uuid_field.to_python(event_id),
                    event_type=event_type,
                    payload=payload,
                    attempt_limit=settings.WEBHOOK_MAX_ATTEMPTS,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    for delivery in deliveries:
        transaction.on_commit(lambda pk=delivery.pk: webhook_delivery_attempt_task.delay(pk))
    return deliveries


def payload_build(*, event: TimelineEvent, event_type: str, event_id: uuid.UUID) -> dict:
    incident = event.incident
    body = {
        "id": str(event_id),
        "type": event_type,
        "occurred_at": _iso(event.created_at),
        "timeline_event_id": event.pk,
        "incident": {
            "id": incident.pk,
            "reference": incident.reference,
            "status": incident.status,
            "category": incident.category.code,
            "priority": incident.priority,
            "region_id": incident.region_id,
            "district_id": incident.district_id,
            "village_id": incident.village_id,
            "received_at": _iso(incident.received_at),
            "first_dispatched_at": _iso(incident.first_dispatched_at),
            "first_on_scene_at": _iso(incident.first_on_scene_at),
            "resolved_at": _iso(incident.resolved_at),
            "dispatch_due_at": _iso(incident.dispatch_due_at),
            "response_due_at": _iso(incident.response_due_at),
            "resolve_due_at": _iso(incident.resolve_due_at),
        },
        "assignment": None,
    }
    assignment = event.assignment
    if assignment is not None:
        body["assignment"] = {
            "id": assignment.pk,
            "agency": assignment.agency.code,
            "status": assignment.status,
            "requested_at": _iso(assignment.requested_at),
            "acknowledge_due_at": _iso(assignment.acknowledge_due_at),
        }
    if event_type in (E.SLA_WARNING, E.SLA_BREACH):
        body["sla"] = {key: event.payload.get(key) for key in ("sla_event_id", "target", "level", "due_at")}
    elif event.kind == K.STATUS_CHANGED or event.kind == K.ASSIGNMENT_STATUS:
        body["change"] = {"from": event.from_state, "to": event.to_state, "note": event.note}
    return body


# ------------------------------------------------------------------------------------------------
# Delivery (after commit, in a Celery task)
# ------------------------------------------------------------------------------------------------
def backoff(attempt: int) -> timedelta:
    """Wait after the ``attempt``-th failure: base × 2^(attempt-1), at most the ceiling."""
    seconds = settings.WEBHOOK_BACKOFF_SECONDS * (2 ** max(0, attempt - 1))
    return timedelta(seconds=min(seconds, settings.WEBHOOK_BACKOFF_MAX_SECONDS))


def _lease() -> timedelta:
    # While an attempt runs, nobody else may start one; if its worker dies the lease runs out.
    return timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 60)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is an answer (3xx), not something to follow with the signed body


_opener = urllib.request.build_opener(_NoRedirect)


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """POST; (status code or None, error text). Never raises for network trouble."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}"[:500]
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{type(reason).__name__}: {reason}"[:500]


def delivery_attempt(*, delivery_id: int) -> str:
    """Make the next attempt of a due delivery; returns its status afterwards, or "skipped".

    Safe to run twice: the claim (one conditional UPDATE moving ``next_attempt_at`` past the lease)
    lets one caller through; the others skip.
    """
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + _lease(), attempt_count=F("attempt_count") + 1)
    if not claimed:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    subscription = delivery.subscription
    if not subscription.is_active:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.FAILED, next_attempt_at=None, error="subscription disabled"
        )
        return WebhookDelivery.Status.FAILED
    body = body_encode(delivery.payload)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret=subscription.secret, timestamp=timestamp, body=body),
        "X-S112-Event-Id": str(delivery.event_id),
        "X-S112-Event-Type": delivery.event_type,
        "X-S112-Delivery-Attempt": str(delivery.attempt_count),
    }
    started_at = timezone.now()
    clock = time.monotonic()
    status_code, error = http_post(subscription.url, body, headers, settings.WEBHOOK_TIMEOUT_SECONDS)
    latency_ms = int((time.monotonic() - clock) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    if not ok and not error:
        error = f"HTTP {status_code}"
    return _attempt_record(
        delivery=delivery, started_at=started_at, status_code=status_code, latency_ms=latency_ms, error=error, ok=ok
    )


@transaction.atomic
def _attempt_record(
    *, delivery: WebhookDelivery, started_at: datetime, status_code: int | None, latency_ms: int, error: str, ok: bool
) -> str:
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempt_count,
        started_at=started_at,
        status_code=status_code,
        latency_ms=latency_ms,
        error=error,
    )
    now = timezone.now()
    values = {"status_code": status_code, "latency_ms": latency_ms, "error": error}
    if ok:
        values.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif delivery.attempt_count >= delivery.attempt_limit:
        values.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
    else:
        values.update(next_attempt_at=now + backoff(delivery.attempt_count))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**values)
    if not ok:
        logger.info("webhook delivery %s attempt %s failed: %s", delivery.pk, delivery.attempt_count, error)
    return values.get("status", WebhookDelivery.Status.PENDING)


def deliveries_enqueue_due(*, limit: int = 500) -> int:
    """Queue the deliveries whose next attempt is due (retries, and any first attempt whose message
    was lost). Periodic; reads ``webhook_delivery_due_idx``."""
    from .tasks import webhook_delivery_attempt_task

    ids = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        webhook_delivery_attempt_task.delay(pk)
    return len(ids)


def deliveries_retry(*, ids: list[int]) -> int:
    """Give failed deliveries another round of attempts now (admin action)."""
    return WebhookDelivery.objects.filter(pk__in=ids, status=WebhookDelivery.Status.FAILED).update(
        status=WebhookDelivery.Status.PENDING,
        attempt_limit=F("attempt_count") + settings.WEBHOOK_MAX_ATTEMPTS,
        next_attempt_at=timezone.now(),
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
