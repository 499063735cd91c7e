"""API-level errors. They are ApplicationErrors like the domain's, so the one handler maps them."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from semarang112.exceptions import ApplicationError, Conflict


class ApiError(ApplicationError):
    """An ApplicationError that may add response headers (Retry-After, …)."""

    headers: dict[str, str] = {}

    def __init__(self, message=None, *, code=None, extra=None, headers=None):
        super().__init__(str(message if message is not None else self.default_message), code=code, extra=extra)
        if headers:
            self.headers = headers

    default_message = _("The request cannot be processed.")


class IdempotencyKeyRequired(ApiError):
    code = "idempotency_key_required"
    http_status = 400
    default_message = _("Integration clients must send an Idempotency-Key header with this request.")


class IdempotencyKeyInvalid(ApiError):
    code = "idempotency_key_invalid"
    http_status = 400
    default_message = _("The Idempotency-Key must be 1 to 255 printable ASCII characters.")


class IdempotencyKeyInUse(ApiError):
    """A retry arrived while the first request with this key is still being processed."""

    code = "idempotency_key_in_use"
    http_status = 409
    default_message = _("A request with this Idempotency-Key is still being processed; retry shortly.")


class IdempotencyKeyMismatch(ApiError):
    code = "idempotency_key_reused"
    http_status = 422
    default_message = _("This Idempotency-Key was already used with a different request.")


class PreconditionFailed(ApiError):
    code = "precondition_failed"
    http_status = 412
    default_message = _("The incident was changed by someone else (If-Match does not match); reload and retry.")


__all__ = [
    "ApiError",
    "Conflict",
    "IdempotencyKeyInUse",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyMismatch",
    "IdempotencyKeyRequired",
    "PreconditionFailed",
]
