"""Dispatch API: agencies (read), assignments and their steps, units and volunteers.

Assignments are fetched through ``assignment_list_for_user`` (404 when not visible) and each
step calls ``require`` and then its one service. Units and volunteers are updated only by their
own agency (``require_any_agency``).
"""

from __future__ import annotations

import django_filters as filters
from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from dispatch import access
from dispatch import services as dispatch_services
from dispatch.access import require, require_any_agency
from dispatch.models import Agency, Assignment, FieldUnit, Volunteer
from incidents.api.serializers import NoteInputSerializer, ReasonInputSerializer
from incidents.selectors import assignment_list_for_user
from semarang112.api.authentication import actor_for
from semarang112.api.views import parse_input

from . import serializers as s

READ_ANY = "**Permissions:** any authenticated principal."
ID_REGEX = r"[0-9]{1,18}"


class AssignmentFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Assignment.Status.choices)
    agency = filters.CharFilter(field_name="agency__code", help_text="Agency code.")
    incident = filters.NumberFilter(field_name="incident_id", help_text="Incident id.")

    class Meta:
        model = Assignment
        fields = ["status", "agency", "incident"]


class UnitFilter(filters.FilterSet):
    agency = filters.CharFilter(field_name="agency__code", help_text="Agency code.")
    status = filters.MultipleChoiceFilter(choices=FieldUnit.Status.choices)
    home_district = filters.NumberFilter(field_name="home_district_id", help_text="District id.")

    class Meta:
        model = FieldUnit
        fields = ["agency", "status", "home_district"]


class VolunteerFilter(filters.FilterSet):
    community = filters.CharFilter(field_name="community__code", help_text="Community (agency) code.")
    is_available = filters.BooleanFilter()
    district = filters.NumberFilter(field_name="districts", help_text="District id.")

    class Meta:
        model = Volunteer
        fields = ["community", "is_available", "district"]


class AgencyFilter(filters.FilterSet):
    kind = filters.MultipleChoiceFilter(choices=Agency.Kind.choices)
    is_active = filters.BooleanFilter()

    class Meta:
        model = Agency
        fields = ["kind", "is_active"]


@extend_schema_view(
    list=extend_schema(summary="List agencies (OPD, police, partners)", description=READ_ANY),
    retrieve=extend_schema(summary="Get an agency", description=READ_ANY),
)
class AgencyViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Agency.objects.select_related("region")
    serializer_class = s.AgencySerializer
    filterset_class = AgencyFilter
    lookup_value_regex = ID_REGEX
    keyset_orderings = {"name": ("name", "id"), "code": ("code", "id")}


def _step_schema(summary: str, request_serializer, example: dict):
    return extend_schema(
        summary=summary,
        description="**Permissions:** the assignment's own agency (staff, supervisor; field officers of the "
        "assigned unit), command-center supervisors, clients of that agency with `assignments:write`.",
        request=request_serializer,
        responses={200: s.AssignmentSerializer},
        examples=[OpenApiExample(summary, value=example, request_only=True)],
    )


@extend_schema_view(
    list=extend_schema(
        summary="List assignments",
        description="**Permissions:** any principal; assignments of the incidents it may see.",
    ),
    retrieve=extend_schema(summary="Get an assignment", description="**Permissions:** as for the list (else 404)."),
)
class AssignmentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.AssignmentSerializer
    filterset_class = AssignmentFilter
    lookup_value_regex = ID_REGEX
    keyset_orderings = {"-requested_at": ("-requested_at", "-id"), "requested_at": ("requested_at", "id")}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Assignment.objects.none()
        return assignment_list_for_user(self.request.user).select_related(
            "incident__category", "agency", "unit", "volunteer"
        )

    def get_assignment(self) -> Assignment:
        assignment = self.get_queryset().filter(pk=int(self.kwargs["pk"])).first()
        if assignment is None:
            raise Http404
        return assignment

    def retrieve(self, request, pk=None):
        return Response(s.AssignmentSerializer(self.get_assignment(), context={"request": request}).data)

    def _step(self, action_name: str, input_serializer, call) -> Response:
        assignment = self.get_assignment()
        require(self.request.user, action_name, assignment=assignment)
        data = parse_input(input_serializer, self.request)
        call(assignment, actor_for(self.request), data)
        return Response(s.AssignmentSerializer(self.get_assignment(), context={"request": self.request}).data)

    @_step_schema("Acknowledge", NoteInputSerializer, {"note": "Engine 2 takes it."})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._step(
            access.ASSIGNMENT_ACKNOWLEDGE,
            NoteInputSerializer,
            lambda a, actor, data: dispatch_services.assignment_acknowledge(
                assignment=a, actor=actor, note=data["note"]
            ),
        )

    @_step_schema("En route", NoteInputSerializer, {"note": ""})
    @action(detail=True, methods=["post"], url_path="en-route")
    def en_route(self, request, pk=None):
        return self._step(
            access.ASSIGNMENT_EN_ROUTE,
            NoteInputSerializer,
            lambda a, actor, data: dispatch_services.assignment_en_route(assignment=a, actor=actor, note=data["note"]),
        )

    @_step_schema("On scene", NoteInputSerializer, {"note": "Arrived."})
    @action(detail=True, methods=["post"], url_path="on-scene")
    def on_scene(self, request, pk=None):
        return self._step(
            access.ASSIGNMENT_ON_SCENE,
            NoteInputSerializer,
            lambda a, actor, data: dispatch_services.assignment_on_scene(assignment=a, actor=actor, note=data["note"]),
        )

    @_step_schema("Complete", NoteInputSerializer, {"note": "Fire out, area handed to police."})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self._step(
            access.ASSIGNMENT_COMPLETE,
            NoteInputSerializer,
            lambda a, actor, data: dispatch_services.assignment_complete(assignment=a, actor=actor, note=data["note"]),
        )

    @_step_schema("Decline", ReasonInputSerializer, {"reason": "No engine free in this district."})
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        return self._step(
            access.ASSIGNMENT_DECLINE,
            ReasonInputSerializer,
            lambda a, actor, data: dispatch_services.assignment_decline(
                assignment=a, actor=actor, reason=data["reason"]
            ),
        )

    @extend_schema(
        summary="Put a unit or volunteer on the assignment",
        description="**Permissions:** `assignment.assign_resource` — the assignment's own agency (staff, "
        "supervisors, volunteer coordinators; not field officers), command-center supervisors. The unit or "
        "volunteer must belong to that agency; the unit is marked assigned until its last live assignment ends.",
        request=s.AssignResourceInputSerializer,
        responses={200: s.AssignmentSerializer},
        examples=[OpenApiExample("Engine 2", value={"unit": 12}, request_only=True)],
    )
    @action(detail=True, methods=["post"], url_path="assign-resource")
    def assign_resource(self, request, pk=None):
        return self._step(
            access.ASSIGNMENT_ASSIGN_RESOURCE,
            s.AssignResourceInputSerializer,
            lambda a, actor, data: dispatch_services.assignment_assign_resource(
                assignment=a, actor=actor, unit=data.get("unit"), volunteer=data.get("volunteer")
            ),
        )

    @extend_schema(
        summary="Withdraw an agency (re-routing)",
        description="**Permissions:** `assignment.cancel` — dispatchers and supervisors of the command center; "
        "clients without an agency with `assignments:write`.",
        request=ReasonInputSerializer,
        responses={200: s.AssignmentSerializer},
        examples=[OpenApiExample("Re-route", value={"reason": "Sent BPBD instead."}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._step(
            access.ASSIGNMENT_CANCEL,
            ReasonInputSerializer,
            lambda a, actor, data: dispatch_services.assignment_cancel(
                assignment=a, actor=actor, reason=data["reason"]
            ),
        )


@extend_schema_view(
    list=extend_schema(summary="List field units", description=READ_ANY),
    retrieve=extend_schema(summary="Get a field unit", description=READ_ANY),
    partial_update=extend_schema(
        summary="Report a unit's status",
        description="**Permissions:** `unit.update` — supervisors of the unit's own agency.",
        request=s.UnitStatusInputSerializer,
        responses={200: s.UnitSerializer},
        examples=[OpenApiExample("Off duty", value={"status": "off_duty"}, request_only=True)],
    ),
)
class UnitViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = FieldUnit.objects.select_related("agency", "home_district")
    serializer_class = s.UnitSerializer
    filterset_class = UnitFilter
    lookup_value_regex = ID_REGEX
    keyset_orderings = {"code": ("agency_id", "code", "id")}

    def partial_update(self, request, pk=None):
        unit = self.get_object()
        require_any_agency(request.user, [unit.agency_id], access.UNIT_UPDATE)
        data = parse_input(s.UnitStatusInputSerializer, request)
        dispatch_services.unit_set_status(unit=unit, status=data["status"], actor=actor_for(request))
        return Response(s.UnitSerializer(self.get_object(), context={"request": request}).data)


@extend_schema_view(
    list=extend_schema(summary="List volunteers", description=READ_ANY + " Phone numbers are masked unless allowed."),
    retrieve=extend_schema(summary="Get a volunteer", description=READ_ANY),
    partial_update=extend_schema(
        summary="Report a volunteer's availability",
        description="**Permissions:** `volunteer.update` — the community's coordinator or agency supervisor.",
        request=s.VolunteerAvailabilityInputSerializer,
        responses={200: s.VolunteerSerializer},
        examples=[OpenApiExample("Available", value={"is_available": True}, request_only=True)],
    ),
)
class VolunteerViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Volunteer.objects.select_related("community").prefetch_related("districts")
    serializer_class = s.VolunteerSerializer
    filterset_class = VolunteerFilter
    lookup_value_regex = ID_REGEX
    keyset_orderings = {"name": ("name", "id")}

    def partial_update(self, request, pk=None):
        volunteer = self.get_object()
        require_any_agency(request.user, [volunteer.community_id], access.VOLUNTEER_UPDATE)
        data = parse_input(s.VolunteerAvailabilityInputSerializer, request)
        dispatch_services.volunteer_set_availability(
            volunteer=volunteer, is_available=data["is_available"], actor=actor_for(request)
        )
        return Response(s.VolunteerSerializer(self.get_object(), context={"request": request}).data)
