"""One error shape for the whole API: RFC 9457 problem details (application/problem+json).

    {"type": "https://semarang112.example/problems/invalid_transition",
     "title": "Invalid transition", "status": 409, "detail": "...", "code": "invalid_transition",
     "errors": {"field": ["message", ...]}, ...extra}

``code`` is stable and machine-readable; ``errors`` maps each invalid field (nested fields as
``parent.0.child``) to its messages. Every 4xx/5xx of ``/api/`` has this shape: DRF exceptions and
ApplicationErrors through ``problem_exception_handler``, Django's own 404/500 through
``api_page_not_found`` / ``api_server_error`` (wired in ``semarang112/urls.py``).
"""

from __future__ import annotations

import json
import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from semarang112.exceptions import ApplicationError

PROBLEM_BASE = "https://semarang112.example/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_response(
    *, status_code: int, code: str, detail: str, errors: dict | None = None, extra: dict | None = None, headers=None
) -> Response:
    body = {
        "type": PROBLEM_BASE + code,
        "title": code.replace("_", " ").capitalize(),
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update({key: value for key, value in extra.items() if key not in body})
    response = Response(body, status=status_code, headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail → {"field": [...], "agencies.1": [...], "non_field_errors": [...]}."""
    errors: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, list) and all(not isinstance(item, dict | list) for item in value):
                errors.setdefault(name, []).extend(str(item) for item in value)
            else:
                errors.update(_flatten(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            errors.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item:  # list fields report {} / [] for the valid items
                    errors.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        errors.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return errors


def _first_message(errors: dict[str, list[str]]) -> str:
    for field, messages in errors.items():
        if messages:
            return messages[0] if field == "non_field_errors" else f"{field}: {messages[0]}"
    return "Invalid input."


def problem_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        field = exc.extra.get("field")
        errors = {field: [exc.message]} if isinstance(field, str) else None
        extra = {key: value for key, value in exc.extra.items() if key != "field"}
        return problem_response(
            status_code=exc.http_status,
            code=exc.code,
            detail=exc.message,
            errors=errors,
            extra=extra,
            headers=getattr(exc, "headers", None) or None,
        )
    if isinstance(exc, RequestDataTooBig):
        return problem_response(status_code=413, code="request_too_large", detail=str(exc))
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return problem_response(
            status_code=status.HTTP_400_BAD_REQUEST, code="invalid", detail="Invalid input.", errors=errors
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        return problem_response(
            status_code=response.status_code,
            code="invalid",
            detail=_first_message(errors),
            errors=errors,
            headers=dict(response.headers.items()),
        )
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    return problem_response(
        status_code=response.status_code, code=str(code), detail=str(detail), headers=dict(response.headers.items())
    )


# ------------------------------------------------------------------------------------------------
# Django-level errors under /api/ (no DRF view was reached): the same shape
# ------------------------------------------------------------------------------------------------
logger = logging.getLogger(__name__)


def _django_problem(status_code: int, code: str, detail: str) -> HttpResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": code.replace("_", " ").capitalize(),
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    return HttpResponse(json.dumps(body), status=status_code, content_type=PROBLEM_CONTENT_TYPE)


@csrf_exempt  # a POST to an unknown URL is a 404, not a CSRF failure page
def api_page_not_found(request, exception=None) -> HttpResponse:
    return _django_problem(404, "not_found", "No such API endpoint.")


def api_server_error(request) -> HttpResponse:
    return _django_problem(500, "server_error", "Internal server error. This is a bug; it has been logged.")
