"""FlatInputSerializer: shallow field copies per instance, each bound to its own serializer."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from incidents.api.serializers import IncidentCreateSerializer
from semarang112.api.serializers import FlatInputSerializer


def test_each_instance_has_its_own_fields_bound_to_it():
    first, second = IncidentCreateSerializer(data={}, context={"n": 1}), IncidentCreateSerializer(data={}, context={"n": 2})

    assert first.fields["call"] is not second.fields["call"]
    assert first.fields["call"].parent is first and second.fields["call"].parent is second
    assert first.fields["call"].context == {"n": 1} and second.fields["call"].context == {"n": 2}
    assert first.fields["call"].field_name == "call"
    # the declared field itself is never bound
    assert getattr(IncidentCreateSerializer._declared_fields["call"], "parent", None) is None


def test_validation_errors_stay_with_their_instance():
    bad = IncidentCreateSerializer(data={"description": ""})
    good = IncidentCreateSerializer(data={"description": "Pohon tumbang"})

    assert not bad.is_valid()
    good.is_valid()

    assert "description" in bad.errors
    assert "description" not in good.errors


@pytest.mark.parametrize(
    "field",
    [
        serializers.ListField(child=serializers.IntegerField()),
        serializers.DictField(child=serializers.CharField()),
        serializers.PrimaryKeyRelatedField(many=True, read_only=True),
    ],
)
def test_fields_with_a_bound_child_are_refused(field):
    with pytest.raises(TypeError, match="plain fields only"):
        type("Nested", (FlatInputSerializer,), {"items": field})
