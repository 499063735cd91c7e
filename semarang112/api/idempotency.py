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
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, connection
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from semarang112.core.postgres import prepared_cursor
from semarang112.core.transactions import all_or_nothing

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


def _is_lock_timeout(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE


def _replay(record: IdempotencyRecord) -> Response:
    headers = {**record.response_headers, REPLAYED_HEADER: "true"}
    return Response(record.response_body, status=record.status_code, headers=headers)


_TABLE = IdempotencyRecord._meta.db_table
_CLAIM_COLUMNS = "scope, key, fingerprint, method, path, state, status_code, response_body, response_headers, created_at, expires_at"
_CLAIM_UPSERT = (
    f"INSERT INTO {_TABLE} ({_CLAIM_COLUMNS}) {{values}} "
    "ON CONFLICT (scope, key) DO UPDATE SET "
    + ", ".join(f"{column} = EXCLUDED.{column}" for column in _CLAIM_COLUMNS.split(", ")[2:])
    + f" WHERE {_TABLE}.expires_at <= EXCLUDED.created_at RETURNING id{{returning}}"
)
# PostgreSQL: the wait for a concurrent request with the same key is bounded (lock_timeout set
# for this statement's unique-index wait, then restored in RETURNING to the value it had), all in
# the one round trip. (The value is kept with current_setting(): reading it back from pg_settings
# materialises every setting, 0.6 ms of server CPU per intake.)
_CLAIM_SQL = {
    "postgresql": "WITH _wait AS (SELECT current_setting('lock_timeout') AS previous, set_config('lock_timeout', %s, true)) "
    + _CLAIM_UPSERT.format(
        values="SELECT %s, %s, %s, %s, %s, %s, NULL, NULL, '{}', %s, %s FROM _wait",
        returning=", set_config('lock_timeout', (SELECT previous FROM _wait), true)",
    ),
    "sqlite": _CLAIM_UPSERT.format(values="VALUES (%s, %s, %s, %s, %s, %s, NULL, NULL, '{}', %s, %s)", returning=""),
}


def _claim(request, key: str) -> int | Response:
    """Insert the in-flight record (its id), or answer from an earlier request with the same key.

    One statement: ``INSERT … ON CONFLICT (scope, key) DO UPDATE … WHERE expired``. It inserts a
    new key, takes over an expired record, or returns nothing when the key is held by a committed
    request (compared and replayed below). A request still in flight with the same key holds the
    unique index entry: PostgreSQL makes this statement wait for it, at most API_IDEMPOTENCY_WAIT_MS.
    """
    scope, fingerprint, now = _scope(request), request_fingerprint(request), timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    params = [
        scope,
        key,
        fingerprint,
        request.method,
        request.path[:255],
        IdempotencyRecord.State.IN_FLIGHT,
        adapt(now),
        adapt(now + timedelta(hours=settings.API_IDEMPOTENCY_TTL_HOURS)),
    ]
    if connection.vendor == "postgresql":
        params.insert(0, f"{settings.API_IDEMPOTENCY_WAIT_MS}ms")
    try:
        with prepared_cursor(connection) as cursor:
            cursor.execute(_CLAIM_SQL[connection.vendor], params)
            row = cursor.fetchone()
    except OperationalError as exc:
        # The transaction is aborted; idempotent_create's atomic block rolls it back.
        if _is_lock_timeout(exc):
            raise IdempotencyKeyInUse(headers={"Retry-After": "1"}) from None
        raise
    if row is not None:
        return row[0]
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
        with all_or_nothing():
            return create()
    if not _valid_key(key):
        raise IdempotencyKeyInvalid()
    # Every error leaves the request and rolls back the record with the rest: the services inside
    # need no savepoints (two round trips each).
    with all_or_nothing():
        claimed = _claim(request, key)
        if isinstance(claimed, Response):
            return claimed
        response = create()
        _complete(claimed, response)
    return response


# The rendered body goes in as it is (a JSON text, which the jsonb column parses): no parse and
# re-encode of the representation on every intake.
_COMPLETE_SQL = f"UPDATE {_TABLE} SET state = %s, status_code = %s, response_body = %s, response_headers = %s WHERE id = %s"


def _complete(record_id: int, response: Response) -> None:
    """Store the response on the claimed record (in the transaction that made it)."""
    body = JSONRenderer().render(response.data) or b"null"
    headers = {name: response[name] for name in STORED_HEADERS if response.has_header(name)}
    with prepared_cursor(connection) as cursor:
        cursor.execute(
            _COMPLETE_SQL,
            [IdempotencyRecord.State.COMPLETED, response.status_code, body.decode(), json.dumps(headers), record_id],
        )
