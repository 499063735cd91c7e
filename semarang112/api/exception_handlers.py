"""One error shape for the whole API: RFC 9457 problem details (application/problem+json).

    {"type": "https://semarang112.example/problems/invalid_transition",
     "title": "Invalid transition", "status": 409, "detail": "...", "code": "invalid_transition",
     "errors": {"field": ["message", ...]}, ...extra}
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
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


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(key): [str(item) for item in (value if isinstance(value, list) else [value])] for key, value in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": [str(item) for item in detail]}
    return {"non_field_errors": [str(detail)]}


def problem_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        field = exc.extra.get("field")
        errors = {field: [exc.message]} if isinstance(field, str) else None
        extra = {key: value for key, value in exc.extra.items() if key != "field"}
        return problem_response(
            status_code=exc.http_status, code=exc.code, detail=exc.message, errors=errors, extra=extra
        )
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
        return problem_response(
            status_code=response.status_code,
            code="invalid",
            detail="Invalid input.",
            errors=_flatten(exc.detail),
            headers=response.headers,
        )
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    return problem_response(
        status_code=response.status_code, code=str(code), detail=str(detail), headers=dict(response.headers.items())
    )
