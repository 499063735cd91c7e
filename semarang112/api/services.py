"""Writes of the API plumbing: issuing and revoking keys and tokens, recording use, purging records."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .models import ApiClient, ApiKey, HashedSecret, IdempotencyRecord, StaffToken

PREFIX_LENGTH = 8
SECRET_SEPARATOR = "."


def secret_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def secret_split(raw: str) -> tuple[str, str] | None:
    """``"<prefix>.<secret>"`` → (prefix, raw); None when the shape is wrong."""
    prefix, sep, rest = raw.partition(SECRET_SEPARATOR)
    if not sep or len(prefix) != PREFIX_LENGTH or len(rest) < 32 or len(raw) > 200:
        return None
    return prefix, raw


def _issue(model: type[HashedSecret], **fields) -> tuple[HashedSecret, str]:
    """Create a row with a fresh secret; returns (row, the secret to show once)."""
    for _attempt in range(5):
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        raw = f"{prefix}{SECRET_SEPARATOR}{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                row = model.objects.create(prefix=prefix, digest=secret_digest(raw), **fields)
        except IntegrityError:  # prefix collision (1 in 4 billion): draw again
            continue
        return row, raw
    raise RuntimeError("could not draw a unique key prefix")  # pragma: no cover


def api_key_create(*, client: ApiClient, name: str = "") -> tuple[ApiKey, str]:
    """A new key for ``client``. The returned secret is never stored and cannot be shown again."""
    return _issue(ApiKey, client=client, name=name)


def staff_token_create(*, user, name: str = "") -> tuple[StaffToken, str]:
    return _issue(StaffToken, user=user, name=name)


def secret_revoke(*, secret: HashedSecret) -> HashedSecret:
    """Revoke a key or token; the next request with it gets 401."""
    type(secret).objects.filter(pk=secret.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    secret.refresh_from_db(fields=["revoked_at"])
    return secret


def secret_touch(*, secret: HashedSecret) -> None:
    """Record use without a write per request: one conditional UPDATE per resolution window.

    The in-memory check skips the query entirely while the stored value is recent; the WHERE
    clause keeps concurrent requests from writing the same window twice.
    """
    now = timezone.now()
    window = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    if secret.last_used_at is not None and secret.last_used_at > now - window:
        return
    type(secret).objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - window), pk=secret.pk).update(
        last_used_at=now
    )
    secret.last_used_at = now


def idempotency_records_purge(*, now=None, batch_size: int = 5000) -> int:
    """Delete expired idempotency records in batches (periodic task). Returns how many."""
    now = now or timezone.now()
    deleted = 0
    while True:
        ids = list(IdempotencyRecord.objects.filter(expires_at__lte=now).values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < batch_size:
            return deleted
