"""Serializers of the incidents API: shapes only. Business rules live in incidents.services."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from dispatch.access import access_for, personal_data_visible
from dispatch.models import Agency, IncidentShare
from incidents.models import Call, Category, Channel, District, Incident, Priority, TimelineEvent, Village
from incidents.selectors import call_list_for_user, incident_list_for_user
from incidents.transitions import allowed_next
from semarang112.api.fields import (
    ConfigPrimaryKeyRelatedField,
    ConfigSlugRelatedField,
    CoordinateField,
    DateTimeField,
    StrictFieldsMixin,
    mask_name,
    mask_phone,
)
from semarang112.api.serializers import FlatInputSerializer, ModelSerializer

PERSONAL_FIELDS = ("caller_name", "caller_number")


def _principal(serializer):
    request = serializer.context.get("request")
    return request.user if request is not None else None


# ------------------------------------------------------------------------------------------------
# Reference data
# ------------------------------------------------------------------------------------------------
class CategoryRefSerializer(ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True)

    class Meta:
        model = Category
        fields = ["id", "code", "name"]


class DistrictRefSerializer(ModelSerializer):
    class Meta:
        model = District
        fields = ["id", "code", "name"]


class VillageRefSerializer(ModelSerializer):
    class Meta:
        model = Village
        fields = ["id", "code", "name"]


class AgencyRefSerializer(ModelSerializer):
    class Meta:
        model = Agency
        fields = ["id", "code", "name"]


class CategorySerializer(ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True)
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Category
        fields = [
            "id",
            "code",
            "name",
            "name_id",
            "name_en",
            "parent",
            "default_priority",
            "sla_dispatch_minutes",
            "sla_acknowledge_minutes",
            "sla_response_minutes",
            "is_active",
        ]


class DistrictSerializer(ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = District
        fields = ["id", "code", "name", "region"]


class VillageSerializer(ModelSerializer):
    district = DistrictRefSerializer(read_only=True)

    class Meta:
        model = Village
        fields = ["id", "code", "name", "district"]


# ------------------------------------------------------------------------------------------------
# Incidents (read)
# ------------------------------------------------------------------------------------------------
class AssignmentSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    agency = AgencyRefSerializer(read_only=True)
    status = serializers.CharField(read_only=True)
    requested_at = serializers.DateTimeField(read_only=True)


# Field objects used outside a serializer, to format values exactly as the declared fields do.
_DATETIME = serializers.DateTimeField(read_only=True)
_LATITUDE = CoordinateField(limit=90, read_only=True, allow_null=True)
_LONGITUDE = CoordinateField(limit=180, read_only=True, allow_null=True)
INCIDENT_DATETIME_FIELDS = (
    "received_at",
    "verified_at",
    "first_dispatched_at",
    "first_acknowledged_at",
    "first_on_scene_at",
    "resolved_at",
    "closed_at",
    "dispatch_due_at",
    "response_due_at",
)


def _output_zone():
    """The zone DRF's DateTimeField would write in, or None where its own path must be taken."""
    if not settings.USE_TZ or api_settings.DATETIME_FORMAT != ISO_8601:
        return None
    return timezone.get_current_timezone()


def _when(value, zone):
    """DRF's DateTimeField.to_representation of ``value`` given ``_output_zone()`` (looked up once
    per incident, not per timestamp): an aware value in that zone, ISO 8601, "Z" for UTC."""
    if value is None:
        return None
    if zone is None or getattr(value, "tzinfo", None) is None:
        return _DATETIME.to_representation(value)
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _assignments(incident: Incident):
    """The list's prefetched ``assignment_rows`` (incidents.selectors.incident_list_rows_for_user), or
    the incident's assignments."""
    rows = getattr(incident, "assignment_rows", None)
    return rows if rows is not None else incident.assignments.all()


def _text(value) -> str | None:
    return None if value is None else str(value)  # a CharField's to_representation (enum members → value)


def _ref(obj, name: str = "name") -> dict | None:
    """{id, code, name} of a reference row (Category*/District*/Village*/AgencyRefSerializer)."""
    if obj is None:
        return None
    return {"id": obj.pk, "code": _text(obj.code), "name": _text(getattr(obj, name))}


class IncidentSerializer(ModelSerializer):
    """An incident as lists and details show it; caller data masked unless the principal may see it.

    ``to_representation`` writes the dict directly instead of walking the declared fields: DRF's
    field-by-field path (a ``get_attribute`` and a ``to_representation`` per field, nested
    serializers built per request) cost about 40 ms of a 50-row list page, more than its SQL and
    the ORM together (bench/RESULTS.md, issue #8). The declared fields stay the schema; the output
    is the same, key for key (tests/api/test_incident_representation.py compares the two).
    """

    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    category = CategoryRefSerializer(read_only=True)
    district = DistrictRefSerializer(read_only=True, allow_null=True)
    village = VillageRefSerializer(read_only=True, allow_null=True)
    latitude = CoordinateField(limit=90, read_only=True, allow_null=True)
    longitude = CoordinateField(limit=180, read_only=True, allow_null=True)
    assignments = AssignmentSummarySerializer(many=True, read_only=True)
    allowed_next = serializers.SerializerMethodField(help_text="Statuses this incident may move to next.")
    personal_data_masked = serializers.SerializerMethodField(
        help_text="True when caller_name and caller_number are masked for this principal."
    )

    class Meta:
        model = Incident
        fields = [
            "id",
            "reference",
            "region",
            "status",
            "allowed_next",
            "priority",
            "category",
            "channel",
            "description",
            "address",
            "district",
            "village",
            "latitude",
            "longitude",
            "caller_name",
            "caller_number",
            "personal_data_masked",
            "duplicate_of",
            "assignments",
            "received_at",
            "verified_at",
            "first_dispatched_at",
            "first_acknowledged_at",
            "first_on_scene_at",
            "resolved_at",
            "closed_at",
            "dispatch_due_at",
            "response_due_at",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _visible(self, incident: Incident) -> bool:
        return personal_data_visible(_principal(self), incident)

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=Incident.Status.choices)))
    def get_allowed_next(self, incident: Incident) -> list[str]:
        return allowed_next(incident.status)

    def get_personal_data_masked(self, incident: Incident) -> bool:
        return not self._visible(incident)

    def to_representation(self, incident: Incident):
        visible = self._visible(incident)
        zone = _output_zone()
        region = incident.region
        caller_name, caller_number = _text(incident.caller_name), _text(incident.caller_number)
        data = {
            "id": incident.pk,
            "reference": _text(incident.reference),
            "region": None if region is None else region.code,
            "status": _text(incident.status),
            "allowed_next": allowed_next(incident.status),
            "priority": None if incident.priority is None else int(incident.priority),
            "category": _ref(incident.category, "display_name"),
            "channel": _text(incident.channel),
            "description": _text(incident.description),
            "address": _text(incident.address),
            "district": _ref(incident.district),
            "village": _ref(incident.village),
            "latitude": None if incident.latitude is None else _LATITUDE.to_representation(incident.latitude),
            "longitude": None if incident.longitude is None else _LONGITUDE.to_representation(incident.longitude),
            "caller_name": caller_name if visible else mask_name(caller_name),
            "caller_number": caller_number if visible else mask_phone(caller_number),
            "personal_data_masked": not visible,
            "duplicate_of": incident.duplicate_of_id,
            "assignments": [
                {
                    "id": assignment.pk,
                    "agency": _ref(assignment.agency),
                    "status": _text(assignment.status),
                    "requested_at": _when(assignment.requested_at, zone),
                }
                for assignment in _assignments(incident)
            ],
        }
        for name in INCIDENT_DATETIME_FIELDS:
            data[name] = _when(getattr(incident, name), zone)
        data["version"] = None if incident.version is None else int(incident.version)
        data["created_at"] = _when(incident.created_at, zone)
        data["updated_at"] = _when(incident.updated_at, zone)
        return data

    def field_by_field_representation(self, incident: Incident) -> dict:
        """DRF's generic rendering of the declared fields (with masking): the reference the direct
        ``to_representation`` is tested against."""
        data = super().to_representation(incident)
        if not self._visible(incident):
            data["caller_name"] = mask_name(data["caller_name"])
            data["caller_number"] = mask_phone(data["caller_number"])
        return data


class TimelineEventSerializer(ModelSerializer):
    actor = serializers.SerializerMethodField(help_text="Username, or the system / API client label.")
    agency = serializers.SerializerMethodField(help_text="Agency code of the assignment, if any.")

    class Meta:
        model = TimelineEvent
        fields = [
            "id",
            "kind",
            "from_state",
            "to_state",
            "note",
            "payload",
            "actor",
            "assignment",
            "agency",
            "created_at",
        ]
        read_only_fields = fields

    def get_actor(self, event: TimelineEvent) -> str:
        return event.actor.get_username() if event.actor_id else event.actor_label

    def get_agency(self, event: TimelineEvent) -> str | None:
        return event.assignment.agency.code if event.assignment_id else None

    def to_representation(self, event: TimelineEvent):
        data = super().to_representation(event)
        changes = (data.get("payload") or {}).get("changes")
        if isinstance(changes, dict) and not self.context.get("personal_data_visible", False):
            for field in PERSONAL_FIELDS:
                if field in changes:
                    mask = mask_phone if field == "caller_number" else mask_name
                    changes[field] = [mask(value) if isinstance(value, str) else value for value in changes[field]]
        return data


# ------------------------------------------------------------------------------------------------
# Incidents (write): shapes only
# ------------------------------------------------------------------------------------------------
@extend_schema_field(OpenApiTypes.INT)
class VisibleCallField(serializers.PrimaryKeyRelatedField):
    """A call the principal may see (others are 'does not exist')."""

    def get_queryset(self):
        return call_list_for_user(_principal(self.root))


@extend_schema_field(OpenApiTypes.INT)
class VisibleIncidentField(serializers.PrimaryKeyRelatedField):
    """An incident the principal may see (others are 'does not exist')."""

    def get_queryset(self):
        return incident_list_for_user(_principal(self.root))


class IncidentCreateSerializer(StrictFieldsMixin, FlatInputSerializer):
    category = ConfigSlugRelatedField(
        slug_field="code", queryset=Category.objects.all(), help_text="Category code, e.g. fire (GET /categories/)."
    )
    description = serializers.CharField(max_length=5000)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, help_text="Default: the category's.")
    channel = serializers.ChoiceField(
        choices=Channel.choices, required=False, help_text="Default: api for integration clients, phone_112 for staff."
    )
    address = serializers.CharField(max_length=500, required=False, allow_blank=True)
    district = ConfigPrimaryKeyRelatedField(queryset=District.objects.all(), required=False, allow_null=True)
    village = serializers.PrimaryKeyRelatedField(queryset=Village.objects.all(), required=False, allow_null=True)
    latitude = CoordinateField(limit=90, required=False, allow_null=True)
    longitude = CoordinateField(limit=180, required=False, allow_null=True)
    caller_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    caller_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    received_at = DateTimeField(required=False, help_text="Default: now (or the call's answer time).")
    call = VisibleCallField(required=False, allow_null=True, help_text="The reporting call, if already recorded.")


class IncidentUpdateSerializer(StrictFieldsMixin, serializers.Serializer):
    """The editable details (incidents.services.EDITABLE_FIELDS); status moves only by actions."""

    unknown_field_message = _("This field cannot be edited here; status changes use the action endpoints.")

    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    description = serializers.CharField(max_length=5000, required=False)
    address = serializers.CharField(max_length=500, required=False, allow_blank=True)
    district = serializers.PrimaryKeyRelatedField(queryset=District.objects.all(), required=False, allow_null=True)
    village = serializers.PrimaryKeyRelatedField(queryset=Village.objects.all(), required=False, allow_null=True)
    latitude = CoordinateField(limit=90, required=False, allow_null=True)
    longitude = CoordinateField(limit=180, required=False, allow_null=True)
    caller_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    caller_number = serializers.CharField(max_length=32, required=False, allow_blank=True)


class NoteInputSerializer(StrictFieldsMixin, serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RequiredNoteInputSerializer(StrictFieldsMixin, serializers.Serializer):
    note = serializers.CharField(max_length=2000)


class ReasonInputSerializer(StrictFieldsMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class OptionalReasonInputSerializer(StrictFieldsMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class DispatchInputSerializer(StrictFieldsMixin, serializers.Serializer):
    agencies = serializers.SlugRelatedField(
        slug_field="code", queryset=Agency.objects.all(), many=True, help_text="Agency codes (GET /agencies/)."
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    def validate_agencies(self, agencies):
        if not agencies:
            raise serializers.ValidationError(_("Choose at least one agency."))
        return agencies


class MergeInputSerializer(StrictFieldsMixin, serializers.Serializer):
    into = VisibleIncidentField(help_text="Id of the incident this one duplicates.")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class CategoryChangeInputSerializer(StrictFieldsMixin, serializers.Serializer):
    category = serializers.SlugRelatedField(slug_field="code", queryset=Category.objects.all())
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


# ------------------------------------------------------------------------------------------------
# Shares (another agency may see, or assist on, one incident)
# ------------------------------------------------------------------------------------------------
class IncidentShareSerializer(ModelSerializer):
    agency = AgencyRefSerializer(read_only=True)
    granted_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    revoked_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    is_active = serializers.SerializerMethodField(help_text="Not revoked and not past its expiry.")

    class Meta:
        model = IncidentShare
        fields = [
            "id",
            "agency",
            "level",
            "is_active",
            "note",
            "granted_by",
            "granted_at",
            "expires_at",
            "revoked_by",
            "revoked_at",
        ]
        read_only_fields = fields

    def get_is_active(self, share: IncidentShare) -> bool:
        now = self.context.get("now")
        return share.revoked_at is None and (share.expires_at is None or (now is not None and share.expires_at > now))


class ShareCreateInputSerializer(StrictFieldsMixin, serializers.Serializer):
    agency = serializers.SlugRelatedField(
        slug_field="code", queryset=Agency.objects.all(), help_text="Code of the agency to share with (GET /agencies/)."
    )
    level = serializers.ChoiceField(
        choices=IncidentShare.Level.choices,
        help_text="view: read the incident and its timeline, without caller data; assist: also add notes "
        "and join with the agency's own assignment.",
    )
    expires_at = DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the share ends by itself: in the future and at most `INCIDENT_SHARE_MAX_DAYS` "
        f"({settings.INCIDENT_SHARE_MAX_DAYS} on this server) days from now, else 400 `share_expiry_past` / "
        "`share_expiry_too_late`. Omitted or null: that maximum — every share expires.",
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class AssistInputSerializer(StrictFieldsMixin, serializers.Serializer):
    agency = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Agency.objects.all(),
        required=False,
        help_text="Which of your agencies joins; needed only if several of them hold an assist share.",
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


# ------------------------------------------------------------------------------------------------
# Calls
# ------------------------------------------------------------------------------------------------
class CallSerializer(ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    operator = serializers.SlugRelatedField(slug_field="username", read_only=True)
    answer_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Call
        fields = [
            "id",
            "region",
            "channel",
            "caller_number",
            "caller_name",
            "started_at",
            "answered_at",
            "ended_at",
            "answer_seconds",
            "operator",
            "outcome",
            "incident",
            "notes",
            "created_at",
        ]
        read_only_fields = fields

    def to_representation(self, call: Call):
        data = super().to_representation(call)
        if not access_for(_principal(self)).can_see_personal_data:
            data["caller_name"] = mask_name(data["caller_name"])
            data["caller_number"] = mask_phone(data["caller_number"])
        return data


class CallCreateSerializer(StrictFieldsMixin, FlatInputSerializer):
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    caller_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    caller_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    started_at = DateTimeField(required=False)
    answered_at = DateTimeField(required=False, allow_null=True)
    ended_at = DateTimeField(required=False, allow_null=True)
    outcome = serializers.ChoiceField(
        choices=Call.Outcome.choices,
        required=False,
        help_text="pending (default) or a non-case outcome; emergency/duplicate calls are linked to an incident "
        "(POST /incidents/ with `call`, or POST /calls/{id}/link/).",
    )
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class CallLinkInputSerializer(StrictFieldsMixin, serializers.Serializer):
    incident = VisibleIncidentField(help_text="Id of the open incident this call is about.")


class CallOutcomeInputSerializer(StrictFieldsMixin, serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[(value, label) for value, label in Call.Outcome.choices])
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)
