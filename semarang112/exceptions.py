"""The one domain error type raised by services (HackSoft styleguide's ApplicationError).

Each error carries a stable machine-readable ``code`` that the API maps to an HTTP status and a
problem-details body, and that the web views show as a message.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A business rule said no. ``code`` is stable; ``message`` is for people (translated)."""

    code = "application_error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra or {}

    def __str__(self) -> str:
        return str(self.message)


class InvalidTransition(ApplicationError):
    """The requested state change is not allowed from the current state (HTTP 409)."""

    code = "invalid_transition"
    http_status = 409


class Conflict(ApplicationError):
    """The object changed underneath the caller or the action collides with another (HTTP 409)."""

    code = "conflict"
    http_status = 409


class Forbidden(ApplicationError):
    """The principal may see the object but not take this action (HTTP 403)."""

    code = "forbidden"
    http_status = 403
