"""Idempotent intake: ``Idempotency-Key`` on POST /incidents/ and POST /calls/.

Follows the IETF draft "The Idempotency-Key HTTP Header Field" and Stripe's documented behaviour:

* The first request inserts an ``in_flight`` record (unique per client-or-user scope and key),
  runs, and stores its status and body in the **same transaction** as the incident it created;
  the response leaves only after that transaction has committed.
* A retry with the same key and the same payload replays the stored status and body (with
  ``Idempotent-Replayed: true``); with a different payload (method, path or body) it gets 422.
* A retry while the first is still running: its INSERT waits on PostgreSQL's unique index for
  the first transaction, then either sees the committed record and replays it, or, when the
  wait passes API_IDEMPOTENCY_WAIT_MS, gets 409 with Retry-After. If the first request failed,
  its transaction rolled back, the key is free again and the retry simply runs.
* Only successful responses are stored: an error rolls everything back, so correcting the cause
  (e.g. reactivating an agency) and retrying with the same key works.
* Keys live API_IDEMPOTENCY_TTL_HOURS (at least 24 h); a periodic task purges expired records,
  and an expired record met before the purge is treated as absent.
* Integration clients must send a key (400 without); staff forms may omit it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .authentication import ApiClientPrincipal
from .exceptions import IdempotencyKeyInUse, IdempotencyKeyInvalid, IdempotencyKeyMismatch, IdempotencyKeyRequired
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
STORED_HEADERS = ("Location", "ETag")
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout expired


def request_fingerprint(request) -> str:
    """SHA-256 of method, path and the canonical JSON of the parsed body."""
    data = request.data
    if hasattr(data, "lists"):  # QueryDict (form posts): keep every value
        data = {key: values for key, values in data.lists()}
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _scope(request) -> str:
    user = request.user
    if isinstance(user, ApiClientPrincipal):
        return f"client:{user.api_client.pk}"
    return f"user:{user.pk}"


def _valid_key(key: str) -> bool:
    return 1 <= len(key) <= 255 and all(32 <= ord(char) < 127 for char in key)


@contextmanager
def _lock_wait(milliseconds: int) -> Iterator[None]:
    """Bound how long this transaction waits for a lock (PostgreSQL); SQLite queues writers anyway."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)", [f"{milliseconds}ms"]
        )
        (previous, _new) = cursor.fetchone()
    try:
        yield
    finally:  # the caller's savepoint has been rolled back by now, so the transaction is usable
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def _is_lock_timeout(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE


def _replay(record: IdempotencyRecord) -> Response:
    headers = {**record.response_headers, REPLAYED_HEADER: "true"}
    return Response(record.response_body, status=record.status_code, headers=headers)


def _claim(request, key: str) -> IdempotencyRecord | Response:
    """Insert the in-flight record, or answer from an earlier request with the same key."""
    scope, fingerprint, now = _scope(request), request_fingerprint(request), timezone.now()
    IdempotencyRecord.objects.filter(scope=scope, key=key, expires_at__lte=now).delete()
    try:
        # The savepoint is inside the lock-wait block, so a failed INSERT is rolled back first.
        with _lock_wait(settings.API_IDEMPOTENCY_WAIT_MS), transaction.atomic():
            return IdempotencyRecord.objects.create(
                scope=scope,
                key=key,
                fingerprint=fingerprint,
                method=request.method,
                path=request.path[:255],
                expires_at=now + timedelta(hours=settings.API_IDEMPOTENCY_TTL_HOURS),
            )
    except IntegrityError:
        pass  # the key is taken by a committed request: compare and replay below
    except OperationalError as exc:
        if _is_lock_timeout(exc):
            raise IdempotencyKeyInUse(headers={"Retry-After": "1"}) from None
        raise
    existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
    if existing is None:  # pragma: no cover - purged between the INSERT and this read
        raise IdempotencyKeyInUse(headers={"Retry-After": "1"})
    if existing.fingerprint != fingerprint:
        raise IdempotencyKeyMismatch()
    if existing.state != IdempotencyRecord.State.COMPLETED:  # pragma: no cover - never committed in flight
        raise IdempotencyKeyInUse(headers={"Retry-After": "1"})
    return _replay(existing)


def idempotent_create(request, create: Callable[[], Response]) -> Response:
    """Run ``create`` once per Idempotency-Key; the response leaves only after the commit."""
    key = request.headers.get(HEADER)
    if key is None:
        if isinstance(request.user, ApiClientPrincipal):
            raise IdempotencyKeyRequired()
        with transaction.atomic():
            return create()
    if not _valid_key(key):
        raise IdempotencyKeyInvalid()
    with transaction.atomic():
        claimed = _claim(request, key)
        if isinstance(claimed, Response):
            return claimed
        response = create()
        claimed.state = IdempotencyRecord.State.COMPLETED
        claimed.status_code = response.status_code
        claimed.response_body = json.loads(JSONRenderer().render(response.data) or b"null")
        claimed.response_headers = {name: response[name] for name in STORED_HEADERS if response.has_header(name)}
        claimed.save(update_fields=["state", "status_code", "response_body", "response_headers"])
    return response
