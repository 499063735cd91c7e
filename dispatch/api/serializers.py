"""Serializers of the dispatch API: agencies, assignments, units, volunteers. Shapes only."""

from __future__ import annotations

from rest_framework import serializers

from dispatch.access import access_for
from dispatch.models import Agency, Assignment, FieldUnit, Volunteer
from incidents.api.serializers import AgencyRefSerializer, CategoryRefSerializer, DistrictRefSerializer
from incidents.models import Incident
from semarang112.api.fields import StrictFieldsMixin, mask_phone
from semarang112.api.serializers import ModelSerializer


class AgencySerializer(ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    email = serializers.CharField(read_only=True, help_text="May be empty.")

    class Meta:
        model = Agency
        fields = ["id", "code", "name", "kind", "region", "phone", "email", "radio_channel", "is_active"]
        read_only_fields = fields


class IncidentRefSerializer(ModelSerializer):
    category = CategoryRefSerializer(read_only=True)

    class Meta:
        model = Incident
        fields = ["id", "reference", "status", "priority", "category"]
        read_only_fields = fields


class UnitRefSerializer(ModelSerializer):
    class Meta:
        model = FieldUnit
        fields = ["id", "code", "name"]


class VolunteerRefSerializer(ModelSerializer):
    class Meta:
        model = Volunteer
        fields = ["id", "name"]


class AssignmentSerializer(ModelSerializer):
    incident = IncidentRefSerializer(read_only=True)
    agency = AgencyRefSerializer(read_only=True)
    unit = UnitRefSerializer(read_only=True, allow_null=True)
    volunteer = VolunteerRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Assignment
        fields = [
            "id",
            "incident",
            "agency",
            "unit",
            "volunteer",
            "status",
            "note",
            "requested_at",
            "acknowledge_due_at",
            "acknowledged_at",
            "en_route_at",
            "on_scene_at",
            "completed_at",
            "declined_at",
            "decline_reason",
            "cancelled_at",
        ]
        read_only_fields = fields


class UnitSerializer(ModelSerializer):
    agency = AgencyRefSerializer(read_only=True)
    home_district = DistrictRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = FieldUnit
        fields = ["id", "agency", "code", "name", "kind", "home_district", "status"]
        read_only_fields = fields


class UnitStatusInputSerializer(StrictFieldsMixin, serializers.Serializer):
    status = serializers.ChoiceField(choices=FieldUnit.Status.choices)


class VolunteerSerializer(ModelSerializer):
    community = AgencyRefSerializer(read_only=True)
    districts = serializers.SerializerMethodField()

    class Meta:
        model = Volunteer
        fields = ["id", "community", "name", "phone", "skills", "districts", "is_available"]
        read_only_fields = fields

    def get_districts(self, volunteer) -> list[int]:
        return [district.pk for district in volunteer.districts.all()]

    def to_representation(self, volunteer):
        data = super().to_representation(volunteer)
        request = self.context.get("request")
        if not access_for(request.user if request else None).can_see_personal_data:
            data["phone"] = mask_phone(data["phone"])
        return data


class VolunteerAvailabilityInputSerializer(StrictFieldsMixin, serializers.Serializer):
    is_available = serializers.BooleanField()


class AssignResourceInputSerializer(StrictFieldsMixin, serializers.Serializer):
    unit = serializers.PrimaryKeyRelatedField(queryset=FieldUnit.objects.all(), required=False, allow_null=True)
    volunteer = serializers.PrimaryKeyRelatedField(queryset=Volunteer.objects.all(), required=False, allow_null=True)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not attrs.get("unit") and not attrs.get("volunteer"):
            raise serializers.ValidationError({"unit": ["Give a unit, a volunteer, or both."]})
        return attrs
