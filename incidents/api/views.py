"""Incidents API: thin views — fetch through the selectors, check the policy, call one service.

Every state change is an action endpoint backed by exactly one service function; no serializer
writes ``status``. Incidents are fetched with ``incident_get_for_user`` (404 whether missing or
invisible) and every write calls ``dispatch.access.require`` first (403).
"""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from dispatch import access
from dispatch import services as dispatch_services
from dispatch.access import require, require_scope
from dispatch.api.serializers import AssignmentSerializer
from dispatch.models import Assignment, IncidentShare
from incidents import services
from incidents.filters import CallFilter, CategoryFilter, IncidentFilter, VillageFilter
from incidents.models import Call, Category, Channel, District, Incident, Region, Village
from incidents.selectors import (
    call_list_for_user,
    incident_get_for_user,
    incident_list_rows_for_user,
    list_rows_attach_reference_data,
    timeline_for_incident,
)
from semarang112.api.authentication import ApiClientPrincipal, actor_for
from semarang112.api.exceptions import PreconditionFailed
from semarang112.api.idempotency import idempotent_create
from semarang112.api.views import etag_for, if_match_version, parse_input
from semarang112.exceptions import Conflict

from . import serializers as s

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Unique per report (e.g. a UUID), at most 255 printable ASCII characters. Required for "
    "integration clients; a retry with the same key and body replays the first response.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    location=OpenApiParameter.HEADER,
    required=False,
    description='The ETag (W/"<version>") you read; 412 if the incident changed since.',
)
INCIDENT_EXAMPLE = OpenApiExample(
    "Fire report",
    request_only=True,
    value={
        "category": "fire",
        "description": "Kebakaran rumah warga, api mulai membesar.",
        "address": "Jl. Teuku Umar 12",
        "district": 6,
        "latitude": -7.0245,
        "longitude": 110.4203,
        "caller_name": "Budi",
        "caller_number": "081234567890",
    },
)
INCIDENT_ORDERINGS = {
    "-received_at": ("-received_at", "-id"),
    "received_at": ("received_at", "id"),
    "priority": ("priority", "-received_at", "-id"),
    "-priority": ("-priority", "-received_at", "-id"),
    "due_at": ("due_at", "id"),
    "-due_at": ("-due_at", "-id"),
}
TIMELINE_ORDERINGS = {"created_at": ("created_at", "id"), "-created_at": ("-created_at", "-id")}


def _perm(text: str) -> str:
    return f"**Permissions:** {text}"


def _intake_region(principal) -> Region | None:
    """The region a command center principal reports into: its only region (None: the default).

    A call-taker of another region's center must not file incidents into Kota Semarang, where it
    could not even see them afterwards.
    """
    region_ids = access.access_for(principal).cc_region_ids
    return Region.objects.get(pk=next(iter(region_ids))) if len(region_ids) == 1 else None


def incident_response(
    request, incident: Incident, *, status_code: int = 200, location: bool = False, created: bool = False
) -> Response:
    """The incident as the caller may see it, with its ETag (re-read through the selector).

    ``created``: the instance ``incident_create`` just wrote and its related rows, answered as is
    (its creator reports it, even a client that may not read incidents; it has no assignments yet).
    """
    if created:
        incident._prefetched_objects_cache = {"assignments": Assignment.objects.none()}
        # The representation reads these rows first: iterating even an empty QuerySet compiles
        # its SQL (0.6 ms of an intake's CPU) before it finds out there is nothing to run.
        incident.assignment_rows = []
    else:
        try:
            incident = incident_get_for_user(request.user, pk=incident.pk)
        except Http404:  # e.g. a create-only client does not read incidents: answer with what was written
            pass
    data = s.IncidentSerializer(incident, context={"request": request}).data
    headers = {"ETag": etag_for(incident.version)}
    if location:
        headers["Location"] = reverse("api-v1:incident-detail", kwargs={"pk": incident.pk})
    return Response(data, status=status_code, headers=headers)


def _action_schema(summary: str, permission: str, request_serializer=None, example: dict | None = None, **kwargs):
    examples = [OpenApiExample(summary, value=example, request_only=True)] if example is not None else []
    return extend_schema(
        summary=summary,
        description=_perm(permission),
        request=request_serializer,
        responses={200: s.IncidentSerializer},
        examples=examples,
        **kwargs,
    )


@extend_schema_view(
    list=extend_schema(
        summary="List incidents",
        description=_perm(
            "any principal; only the incidents it may see (command center: its region; agencies: "
            "incidents dispatched or shared to them; clients: by scope — without `incidents:read` 403 "
            "`insufficient_scope`). Caller data is masked unless allowed."
        ),
    ),
    retrieve=extend_schema(summary="Get an incident", description=_perm("the incident must be visible (else 404).")),
    create=extend_schema(
        summary="Report an incident",
        description=_perm("`incident.create` — call-takers, dispatchers, supervisors; clients with `incidents:create`.")
        + " Send `Idempotency-Key` (required for integration clients). "
        "201 only after the incident is committed.",
        request=s.IncidentCreateSerializer,
        responses={201: s.IncidentSerializer},
        parameters=[IDEMPOTENCY_KEY],
        examples=[INCIDENT_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Edit an incident's details",
        description=_perm("`incident.update` on this incident.") + " Only the editable fields; status changes "
        "use the actions. Send `If-Match` to avoid overwriting someone else's edit (412).",
        request=s.IncidentUpdateSerializer,
        responses={200: s.IncidentSerializer},
        parameters=[IF_MATCH],
        examples=[
            OpenApiExample("Raise priority", value={"priority": 1, "address": "Jl. Teuku Umar 14"}, request_only=True)
        ],
    ),
)
class IncidentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.IncidentSerializer
    filterset_class = IncidentFilter
    idempotent_create = True
    # The one POST action that honours If-Match (PATCH gets 412 in the schema by itself).
    problem_statuses = {"change_category": {412}}
    lookup_value_regex = r"[0-9]{1,18}"
    http_method_names = ["get", "post", "patch", "head", "options"]

    @property
    def keyset_orderings(self):
        return TIMELINE_ORDERINGS if self.action == "timeline" else INCIDENT_ORDERINGS

    @property
    def keyset_default(self):
        return "created_at" if self.action == "timeline" else "-received_at"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Incident.objects.none()
        return incident_list_rows_for_user(self.request.user)

    def get_incident(self) -> Incident:
        return incident_get_for_user(self.request.user, pk=self.kwargs["pk"])

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if self.action == "list" and page is not None:
            list_rows_attach_reference_data(page)
        return page

    # -- read -------------------------------------------------------------------------------------
    def list(self, request, *args, **kwargs):
        require_scope(request.user, access.SCOPE_INCIDENTS_READ)
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, pk=None):
        return incident_response(request, self.get_incident())

    @extend_schema(
        summary="An incident's timeline",
        description=_perm("the incident must be visible.") + " Append-only history, oldest first.",
        responses={200: s.TimelineEventSerializer(many=True)},
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def timeline(self, request, pk=None):
        incident = self.get_incident()
        events = self.paginate_queryset(timeline_for_incident(incident))
        context = {
            "request": request,
            "personal_data_visible": access.personal_data_visible(request.user, incident),
        }
        return self.get_paginated_response(s.TimelineEventSerializer(events, many=True, context=context).data)

    @extend_schema(
        summary="An incident's assignments",
        description=_perm("the incident must be visible."),
        responses={200: AssignmentSerializer(many=True)},
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def assignments(self, request, pk=None):
        incident = self.get_incident()
        rows = (
            Assignment.objects.filter(incident=incident)
            .select_related("agency", "unit", "volunteer", "incident__category")
            .order_by("requested_at", "id")
        )
        return Response(AssignmentSerializer(rows, many=True, context={"request": request}).data)

    # -- create and edit ---------------------------------------------------------------------------
    def create(self, request):
        require(request.user, access.INCIDENT_CREATE)
        data = parse_input(s.IncidentCreateSerializer, request)
        if "channel" not in data:
            data["channel"] = Channel.API if isinstance(request.user, ApiClientPrincipal) else Channel.PHONE_112

        if data.get("call") is None:
            data["region"] = _intake_region(request.user)

        def run() -> Response:
            incident = services.incident_create(actor=actor_for(request), **data)
            return incident_response(request, incident, status_code=status.HTTP_201_CREATED, location=True, created=True)

        return idempotent_create(request, run)

    def partial_update(self, request, pk=None):
        incident = self.get_incident()
        require(request.user, access.INCIDENT_UPDATE, incident=incident)
        expected = if_match_version(request, incident.version)
        data = parse_input(s.IncidentUpdateSerializer, request, partial=True)
        try:
            incident = services.incident_update(
                incident=incident, actor=actor_for(request), data=dict(data), expected_version=expected
            )
        except Conflict as exc:
            if exc.code == "stale_version":
                raise PreconditionFailed(extra=exc.extra) from exc
            raise
        return incident_response(request, incident)

    # -- actions: one service each -----------------------------------------------------------------
    def _act(self, action_name: str, input_serializer, call) -> Response:
        incident = self.get_incident()
        require(self.request.user, action_name, incident=incident)
        data = parse_input(input_serializer, self.request) if input_serializer is not None else {}
        incident = call(incident, actor_for(self.request), data) or incident
        return incident_response(self.request, incident)

    @_action_schema(
        "Verify",
        "`incident.verify` (command center).",
        s.NoteInputSerializer,
        {"note": "Confirmed by a second caller."},
    )
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        return self._act(
            access.INCIDENT_VERIFY,
            s.NoteInputSerializer,
            lambda incident, actor, data: services.incident_verify(incident=incident, actor=actor, note=data["note"]),
        )

    @_action_schema(
        "Dispatch to agencies",
        "`incident.dispatch` (dispatchers, supervisors; clients with `incidents:write`).",
        s.DispatchInputSerializer,
        {"agencies": ["damkar", "dinkes-psc"], "note": "Two floors, people inside."},
    )
    @action(detail=True, methods=["post"], url_path="dispatch")
    def dispatch_agencies(self, request, pk=None):
        def run(incident, actor, data):
            dispatch_services.incident_dispatch(
                incident=incident, agencies=data["agencies"], actor=actor, note=data["note"]
            )

        return self._act(access.INCIDENT_DISPATCH, s.DispatchInputSerializer, run)

    @_action_schema(
        "Resolve", "`incident.resolve` (dispatchers, supervisors).", s.NoteInputSerializer, {"note": "Fire out."}
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return self._act(
            access.INCIDENT_RESOLVE,
            s.NoteInputSerializer,
            lambda incident, actor, data: services.incident_resolve(incident=incident, actor=actor, note=data["note"]),
        )

    @_action_schema("Close", "`incident.close` (supervisors).", s.NoteInputSerializer, {"note": "Report filed."})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        return self._act(
            access.INCIDENT_CLOSE,
            s.NoteInputSerializer,
            lambda incident, actor, data: services.incident_close(incident=incident, actor=actor, note=data["note"]),
        )

    @_action_schema(
        "Reopen", "`incident.reopen` (supervisors).", s.RequiredNoteInputSerializer, {"note": "Fire flared up again."}
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self._act(
            access.INCIDENT_REOPEN,
            s.RequiredNoteInputSerializer,
            lambda incident, actor, data: services.incident_reopen(incident=incident, actor=actor, note=data["note"]),
        )

    @_action_schema(
        "Cancel", "`incident.cancel` (command center).", s.ReasonInputSerializer, {"reason": "Caller withdrew."}
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(
            access.INCIDENT_CANCEL,
            s.ReasonInputSerializer,
            lambda incident, actor, data: services.incident_cancel(
                incident=incident, actor=actor, reason=data["reason"]
            ),
        )

    @_action_schema(
        "Mark as false alarm",
        "`incident.false_alarm` (command center).",
        s.OptionalReasonInputSerializer,
        {"reason": "Nothing found on site."},
    )
    @action(detail=True, methods=["post"], url_path="mark-false-alarm")
    def mark_false_alarm(self, request, pk=None):
        return self._act(
            access.INCIDENT_FALSE_ALARM,
            s.OptionalReasonInputSerializer,
            lambda incident, actor, data: services.incident_mark_false_alarm(
                incident=incident, actor=actor, reason=data["reason"]
            ),
        )

    @_action_schema(
        "Merge into another incident",
        "`incident.merge` (dispatchers, supervisors); `into` must be visible and open.",
        s.MergeInputSerializer,
        {"into": 41, "note": "Same fire, second caller."},
    )
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        return self._act(
            access.INCIDENT_MERGE,
            s.MergeInputSerializer,
            lambda incident, actor, data: services.incident_merge(
                incident=incident, into=data["into"], actor=actor, note=data["note"]
            ),
        )

    @_action_schema(
        "Change the category",
        "`incident.update` (command center). Re-runs routing and recomputes the deadlines. Send `If-Match` "
        "to avoid re-categorising an incident someone else has changed since you read it (412).",
        s.CategoryChangeInputSerializer,
        {"category": "flood", "note": "It is a flood, not a fire."},
        parameters=[IF_MATCH],
    )
    @action(detail=True, methods=["post"], url_path="change-category")
    def change_category(self, request, pk=None):
        incident = self.get_incident()
        require(request.user, access.INCIDENT_UPDATE, incident=incident)
        expected = if_match_version(request, incident.version)
        data = parse_input(s.CategoryChangeInputSerializer, request)
        try:
            incident = services.incident_change_category(
                incident=incident,
                category=data["category"],
                actor=actor_for(request),
                note=data["note"],
                expected_version=expected,
            )
        except Conflict as exc:
            if exc.code == "stale_version":
                raise PreconditionFailed(extra=exc.extra) from exc
            raise
        return incident_response(request, incident)

    @extend_schema(
        summary="Add a note to the timeline",
        description=_perm("`incident.note` (command center; agencies working on or assisting with the incident)."),
        request=s.RequiredNoteInputSerializer,
        responses={201: s.TimelineEventSerializer},
        examples=[OpenApiExample("Note", value={"note": "Second unit requested."}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def notes(self, request, pk=None):
        incident = self.get_incident()
        require(request.user, access.INCIDENT_NOTE, incident=incident)
        data = parse_input(s.RequiredNoteInputSerializer, request)
        event = services.incident_add_note(incident=incident, actor=actor_for(request), note=data["note"])
        return Response(
            s.TimelineEventSerializer(event, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    # -- shares and assisting ---------------------------------------------------------------------
    @extend_schema(
        methods=["GET"],
        summary="An incident's shares",
        description=_perm("the incident must be visible.")
        + " Every share of the incident, live and ended (revoked or expired), newest first.",
        responses={200: s.IncidentShareSerializer(many=True)},
        filters=False,
    )
    @extend_schema(
        methods=["POST"],
        summary="Share with another agency",
        description=_perm(
            "`incident.share` — dispatchers and supervisors of the incident's region; agency supervisors of an "
            "agency the command center dispatched (an agency that has the incident only through a share cannot "
            "share it on). Replacing a live share of the same agency needs the right to revoke it."
        )
        + " Grants django-guardian object permissions on the incident to the agency's group: `view` lets its "
        "members read the incident and its timeline (caller data stays masked); `assist` also lets them add "
        "notes and join with their own assignment (POST /incidents/{id}/assist/). Every share expires, at the "
        "latest `INCIDENT_SHARE_MAX_DAYS` days (default 30) after it is granted. Recorded on the timeline and "
        "in the access log.",
        request=s.ShareCreateInputSerializer,
        responses={201: s.IncidentShareSerializer},
        examples=[
            OpenApiExample(
                "PMI helps at a flood",
                value={"agency": "pmi", "level": "assist", "expires_at": "2025-03-27T18:00:00+07:00", "note": "Banjir"},
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None, pagination_class=None)
    def shares(self, request, pk=None):
        incident = self.get_incident()
        context = {"request": request, "now": timezone.now()}
        if request.method == "GET":
            rows = incident.shares.select_related("agency", "granted_by", "revoked_by").order_by("-granted_at", "-id")
            return Response(s.IncidentShareSerializer(rows, many=True, context=context).data)
        require(request.user, access.INCIDENT_SHARE, incident=incident)
        data = parse_input(s.ShareCreateInputSerializer, request)
        access.require_share(request.user, incident, data["agency"])
        share = dispatch_services.incident_share(
            incident=incident,
            agency=data["agency"],
            level=data["level"],
            actor=actor_for(request),
            expires_at=data.get("expires_at"),
            note=data["note"],
        )
        return Response(s.IncidentShareSerializer(share, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke a share",
        description=_perm(
            "`incident.share`; the command center of the incident's region revokes any share, an agency "
            "supervisor only those granted by their agency."
        )
        + " Removes the agency's guardian grants at once (its members get 404 unless the agency has an "
        "assignment there). Revoking an ended share changes nothing.",
        parameters=[OpenApiParameter("share_id", int, OpenApiParameter.PATH, description="The share's id.")],
        request=s.NoteInputSerializer,
        responses={200: s.IncidentShareSerializer},
        examples=[OpenApiExample("Revoke", value={"note": "Flood receded."}, request_only=True)],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"shares/(?P<share_id>[0-9]{1,18})/revoke",
        url_name="share-revoke",
        filterset_class=None,
    )
    def share_revoke(self, request, pk=None, share_id=None):
        incident = self.get_incident()
        share = IncidentShare.objects.select_related("agency", "incident").filter(incident=incident, pk=int(share_id))
        share = share.first()
        if share is None:
            raise Http404
        access.require_share_manageable(request.user, share)
        data = parse_input(s.NoteInputSerializer, request)
        share = dispatch_services.incident_share_revoke(share=share, actor=actor_for(request), note=data["note"])
        share = IncidentShare.objects.select_related("agency", "granted_by", "revoked_by").get(pk=share.pk)
        return Response(s.IncidentShareSerializer(share, context={"request": request, "now": timezone.now()}).data)

    @extend_schema(
        summary="Join with our own assignment (assist share)",
        description=_perm(
            "`incident.self_dispatch` — staff, supervisors and volunteer coordinators of an agency holding a "
            "live `assist` share of the incident; clients of that agency with `assignments:write`."
        )
        + " Adds an assignment for the agency (its steps then work as for any dispatch). Only once the command "
        "center has dispatched the incident (409 `incident_not_dispatched`); 409 `already_dispatched` if the "
        "agency already has a live assignment there. A joined assignment does not let the agency share the "
        "incident on.",
        request=s.AssistInputSerializer,
        responses={201: AssignmentSerializer},
        examples=[OpenApiExample("Join", value={"note": "Two PMI ambulances."}, request_only=True)],
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def assist(self, request, pk=None):
        incident = self.get_incident()
        require(request.user, access.INCIDENT_SELF_DISPATCH, incident=incident)
        data = parse_input(s.AssistInputSerializer, request)
        agency = access.assisting_agency(request.user, incident, data.get("agency"))
        assignment = dispatch_services.incident_assist_join(
            incident=incident, agency=agency, actor=actor_for(request), note=data["note"]
        )
        assignment = Assignment.objects.select_related("incident__category", "agency", "unit", "volunteer").get(
            pk=assignment.pk
        )
        return Response(
            AssignmentSerializer(assignment, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


# ------------------------------------------------------------------------------------------------
# Calls
# ------------------------------------------------------------------------------------------------
def call_response(request, call: Call, *, status_code: int = 200, location: bool = False) -> Response:
    headers = {"Location": reverse("api-v1:call-detail", kwargs={"pk": call.pk})} if location else None
    return Response(s.CallSerializer(call, context={"request": request}).data, status=status_code, headers=headers)


@extend_schema_view(
    list=extend_schema(
        summary="List calls",
        description=_perm("command center of the region, auditors; clients with `incidents:read` and no agency."),
    ),
    retrieve=extend_schema(summary="Get a call", description=_perm("as for the list (else 404).")),
    create=extend_schema(
        summary="Record a call",
        description=_perm("`call.create` — call-takers, dispatchers, supervisors; clients with `incidents:create`.")
        + " Send `Idempotency-Key` (required for integration clients).",
        request=s.CallCreateSerializer,
        responses={201: s.CallSerializer},
        parameters=[IDEMPOTENCY_KEY],
        examples=[
            OpenApiExample(
                "Silent call",
                value={"caller_number": "081234567890", "channel": "phone_112", "outcome": "silent"},
                request_only=True,
            )
        ],
    ),
)
class CallViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.CallSerializer
    filterset_class = CallFilter
    idempotent_create = True
    lookup_value_regex = r"[0-9]{1,18}"
    keyset_orderings = {"-started_at": ("-started_at", "-id"), "started_at": ("started_at", "id")}
    keyset_default = "-started_at"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Call.objects.none()
        return call_list_for_user(self.request.user).select_related("region", "operator")

    def get_call(self) -> Call:
        call = self.get_queryset().filter(pk=int(self.kwargs["pk"])).first()
        if call is None:
            raise Http404
        return call

    def list(self, request, *args, **kwargs):
        require_scope(request.user, access.SCOPE_INCIDENTS_READ)
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, pk=None):
        return call_response(request, self.get_call())

    def create(self, request):
        require(request.user, access.CALL_CREATE)
        data = parse_input(s.CallCreateSerializer, request)
        if "channel" not in data:
            data["channel"] = Channel.API if isinstance(request.user, ApiClientPrincipal) else Channel.PHONE_112

        data["region"] = _intake_region(request.user)

        def run() -> Response:
            call = services.call_create(actor=actor_for(request), **data)
            return call_response(request, call, status_code=status.HTTP_201_CREATED, location=True)

        return idempotent_create(request, run)

    @extend_schema(
        summary="Link a call to an open incident",
        description=_perm("`call.create` on the incident (command center of its region)."),
        request=s.CallLinkInputSerializer,
        responses={200: s.CallSerializer},
        examples=[OpenApiExample("Link", value={"incident": 41}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def link(self, request, pk=None):
        call = self.get_call()
        data = parse_input(s.CallLinkInputSerializer, request)
        incident = incident_get_for_user(request.user, pk=data["incident"].pk)
        require(request.user, access.CALL_CREATE, incident=incident)
        call = services.call_attach_to_incident(call=call, incident=incident, actor=actor_for(request))
        return call_response(request, call)

    @extend_schema(
        summary="Close a call with a non-case outcome",
        description=_perm("`call.create` (command center)."),
        request=s.CallOutcomeInputSerializer,
        responses={200: s.CallSerializer},
        examples=[OpenApiExample("Prank", value={"outcome": "prank"}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def outcome(self, request, pk=None):
        call = self.get_call()
        require(request.user, access.CALL_CREATE)
        data = parse_input(s.CallOutcomeInputSerializer, request)
        call = services.call_set_outcome(
            call=call, actor=actor_for(request), outcome=data["outcome"], notes=data.get("notes")
        )
        return call_response(request, call)


# ------------------------------------------------------------------------------------------------
# Reference data (read-only)
# ------------------------------------------------------------------------------------------------
READ_ANY = _perm("any authenticated principal.")


@extend_schema_view(
    list=extend_schema(summary="List categories", description=READ_ANY),
    retrieve=extend_schema(summary="Get a category", description=READ_ANY),
)
class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Category.objects.select_related("parent")
    serializer_class = s.CategorySerializer
    filterset_class = CategoryFilter
    lookup_value_regex = r"[0-9]{1,18}"
    keyset_orderings = {"sort_order": ("sort_order", "code", "id"), "code": ("code", "id")}


@extend_schema_view(
    list=extend_schema(summary="List districts (kecamatan)", description=READ_ANY),
    retrieve=extend_schema(summary="Get a district", description=READ_ANY),
)
class DistrictViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = District.objects.select_related("region")
    serializer_class = s.DistrictSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    filterset_fields = ["code"]
    keyset_orderings = {"name": ("name", "id"), "code": ("code", "id")}


@extend_schema_view(
    list=extend_schema(summary="List villages (kelurahan)", description=READ_ANY),
    retrieve=extend_schema(summary="Get a village", description=READ_ANY),
)
class VillageViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Village.objects.select_related("district")
    serializer_class = s.VillageSerializer
    filterset_class = VillageFilter
    lookup_value_regex = r"[0-9]{1,18}"
    keyset_orderings = {"name": ("name", "id"), "code": ("code", "id")}
