"""Serializer fields and helpers shared by the resource APIs."""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from semarang112.core import config_cache

COORDINATE_QUANTUM = Decimal("0.000001")


class CoordinateField(serializers.DecimalField):
    """Latitude/longitude as a JSON number; more than 6 decimals (GPS, CCTV) are rounded, not refused."""

    def __init__(self, *, limit: int, **kwargs):
        kwargs.setdefault("max_digits", 9)
        kwargs.setdefault("decimal_places", 6)
        kwargs.setdefault("coerce_to_string", False)
        super().__init__(min_value=Decimal(-limit), max_value=Decimal(limit), **kwargs)

    def validate_precision(self, value):
        try:
            value = value.quantize(COORDINATE_QUANTUM, rounding=ROUND_HALF_EVEN)
        except InvalidOperation:
            self.fail("invalid")
        return super().validate_precision(value)


class DateTimeField(serializers.DateTimeField):
    """An aware date-time within years 2000–2099: a call or report outside that is a client bug, and
    the local zone's historic offsets (LMT +07:07:12) would not even render as RFC 3339."""

    default_error_messages = {"out_of_range": _("Must be between the years 2000 and 2099.")}

    def to_internal_value(self, value):
        result = super().to_internal_value(value)
        if not 2000 <= result.year <= 2099:
            self.fail("out_of_range")
        return result


def mask_phone(value: str) -> str:
    """0812****789: the first four and the last three characters stay."""
    if not value:
        return value
    if len(value) <= 7:
        return value[:1] + "*" * (len(value) - 1)
    return f"{value[:4]}****{value[-3:]}"


def mask_name(value: str) -> str:
    """Budi Santoso → B*** S***."""
    return " ".join(f"{word[0]}***" for word in value.split()) if value else value


# Refuses unknown keys: a typo or a ``status`` must not be silently ignored. (A comment, not a
# docstring: the OpenAPI generator would show it as the description of every input schema.)
class StrictFieldsMixin:
    unknown_field_message = "Unknown field."

    def validate(self, attrs):
        initial = getattr(self, "initial_data", None)
        if isinstance(initial, dict):
            unknown = sorted(set(initial) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [self.unknown_field_message] for name in unknown})
        return super().validate(attrs)


class _ConfigLookupMixin:
    """Resolve the reference through the configuration cache (``semarang112.core.config_cache``).

    For references to configuration tables whose every change bumps the configuration version
    (categories, districts, agencies): an intake names a category and a district, and they are
    looked up once per process until the configuration changes. Only for fields whose queryset
    does not depend on the request. Unknown values are not cached (each is a query and a 400).
    """

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            return super().to_internal_value(data)
        # The declared queryset's model: get_queryset() would clone the queryset just to name it.
        model = (self.queryset if self.queryset is not None else self.get_queryset()).model
        key = f"api.lookup:{model._meta.label}:{getattr(self, 'slug_field', 'pk')}:{type(data).__name__}:{data}"
        return copy.copy(config_cache.cached(key, lambda: super(_ConfigLookupMixin, self).to_internal_value(data)))


class ConfigSlugRelatedField(_ConfigLookupMixin, serializers.SlugRelatedField):
    """``SlugRelatedField`` to a configuration table (e.g. a category by code), cached."""


class ConfigPrimaryKeyRelatedField(_ConfigLookupMixin, serializers.PrimaryKeyRelatedField):
    """``PrimaryKeyRelatedField`` to a configuration table (e.g. a district by id), cached."""
