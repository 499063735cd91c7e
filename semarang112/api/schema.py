"""OpenAPI: the problem-details error responses on every operation, auth schemes, the top text."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers

from .exception_handlers import PROBLEM_BASE, PROBLEM_CONTENT_TYPE

API_DESCRIPTION = """
REST API v1 of **Command Center 112 Kota Semarang**: incidents, calls, dispatch and the
reference data behind them. Used by the provincial and national 112 platforms, citizen apps,
CCTV analytics, the agencies' (OPD) own software and the staff console.

## Authentication
* Integration clients: `Authorization: Api-Key <key>`. Keys are issued in the admin (shown once),
  belong to a client with scopes (`incidents:create`, `incidents:read`, `incidents:write`,
  `assignments:write`, `reports:read`) and optionally an owning agency. A revoked key or a disabled
  client gets 401 at once.
* Staff: the session cookie of the console (send `X-CSRFToken` on writes), or
  `Authorization: Token <token>` from `POST /api/v1/auth/token/`.

What a principal may see and do follows its role (command center, agency, auditor) or its
scopes; an incident it may not see answers 404, an action it may not take answers 403.

## Idempotency
`POST /api/v1/incidents/` and `POST /api/v1/calls/` accept `Idempotency-Key` (IETF draft
"The Idempotency-Key HTTP Header Field"). Integration clients must send it. A retry with the same
key and body replays the first response (`Idempotent-Replayed: true`); the same key with another
body gets 422; a retry while the first request is still running gets 409 with `Retry-After`.
Keys are scoped to the client (or staff user) and remembered for 48 hours (at least 24).
A 201 is sent only after the incident is committed.

## Concurrency
Incidents carry `version` and an `ETag`. Send `If-Match` with PATCH: if someone changed the
incident in between you get 412 instead of overwriting their edit.

## Errors
Every 4xx/5xx is `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`, a
stable `code`, and `errors` (field → messages) for invalid input. An illegal state change is
409 `invalid_transition` with `allowed` (the states reachable from the current one).

## Rate limits
Per client and per staff user; over the limit you get 429 with `Retry-After` (seconds).

## Pagination
Lists use cursor pagination: follow `next` / `previous`; `page_size` is capped at 100.
""".strip()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, the body of every error."""

    type = serializers.URLField(help_text="URI of the problem type; ends with the code.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per field (nested as parent.0.child): the messages.",
    )
    allowed = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="invalid_transition: the states allowed next."
    )


_EXAMPLES: dict[int, tuple[str, str, dict]] = {
    400: (
        "invalid",
        'category: Invalid pk "999" - object does not exist.',
        {"errors": {"category": ['Invalid pk "999" - object does not exist.']}},
    ),
    401: ("not_authenticated", "Authentication credentials were not provided.", {}),
    403: ("forbidden", "You are not allowed to do this (incident.dispatch).", {"action": "incident.dispatch"}),
    404: ("not_found", "No Incident matches the given query.", {}),
    406: ("not_acceptable", "Could not satisfy the request Accept header.", {}),
    409: (
        "invalid_transition",
        "Cannot change status from closed to dispatched.",
        {"current": "closed", "target": "dispatched", "allowed": ["verified"]},
    ),
    412: (
        "precondition_failed",
        "The incident was changed by someone else (If-Match does not match); reload and retry.",
        {"current_version": 4},
    ),
    413: ("request_too_large", "The request body is too large.", {}),
    415: ("unsupported_media_type", 'Unsupported media type "text/plain" in request.', {}),
    422: ("idempotency_key_reused", "This Idempotency-Key was already used with a different request.", {}),
    429: ("throttled", "Request was throttled. Expected available in 12 seconds.", {}),
}
_DESCRIPTIONS = {
    400: "Invalid input: malformed JSON, a wrong type or length, an unknown id (named in `errors`), a broken business rule.",
    401: "No or invalid credentials; a revoked key or a disabled client.",
    403: "Authenticated, but this principal may not take this action here.",
    404: "No such object, or not visible to this principal (the same answer on purpose).",
    406: "The Accept header asks for something other than JSON.",
    409: "Conflict: an illegal state change (`invalid_transition`, with `allowed`), a concurrent duplicate "
    "request still in flight (`idempotency_key_in_use`, with Retry-After) or another conflict.",
    412: "If-Match does not match the current version (someone else changed it).",
    413: "Request body too large.",
    415: "Content-Type is not application/json.",
    422: "The Idempotency-Key was already used with a different request.",
    429: "Rate limit exceeded; see Retry-After.",
}


def _example(status: int) -> dict:
    code, detail, extra = _EXAMPLES[status]
    value = {
        "type": PROBLEM_BASE + code,
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return {code: {"value": value, "summary": detail[:80]}}


class AutoSchema(SpectacularAutoSchema):
    """Adds the problem-details responses each operation can produce.

    Views may add statuses per action with ``problem_statuses = {"action": {409}}``.
    """

    def _problem_statuses(self) -> set[int]:
        statuses = {401, 403, 406, 429}
        if "{" in self.path:
            statuses.add(404)
        if self.method in ("POST", "PUT", "PATCH"):
            statuses |= {400, 413, 415}
        if self.method == "GET" and self._is_list_view():
            statuses.add(400)  # bad filter, ordering, cursor
        if self.method == "POST" and "{" in self.path:
            statuses.add(409)  # actions: invalid_transition and other conflicts
        if self.method == "PATCH":
            statuses |= {409, 412}
        if self._is_create_operation() and getattr(self.view, "idempotent_create", False):
            statuses |= {409, 422}
        action = getattr(self.view, "action", None)
        statuses |= set(getattr(self.view, "problem_statuses", {}).get(action, ()))
        return statuses

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        for status in sorted(self._problem_statuses()):
            if str(status) in responses:
                continue
            responses[str(status)] = {
                "content": {PROBLEM_CONTENT_TYPE: {"schema": problem, "examples": _example(status)}},
                "description": _DESCRIPTIONS[status],
            }
        return responses


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "semarang112.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Integration clients: `Api-Key <key>` (issued in the admin, shown once).",
        }


class StaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = "semarang112.api.authentication.StaffTokenAuthentication"
    name = "StaffToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Staff: `Token <token>` from POST /api/v1/auth/token/.",
        }


def postprocess_document(result, generator, request, public):
    result["info"]["description"] = API_DESCRIPTION
    return result
