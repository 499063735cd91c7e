"""django-filter FilterSets for the incidents API (and anything else that lists incidents)."""

from __future__ import annotations

import django_filters as filters
from django.db.models import Case, CharField, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from dispatch.models import Agency, Assignment

from .models import Call, Category, Channel, District, Incident, Priority, Village


def category_with_descendants(category: Category) -> list[int]:
    """Ids of a category and every category below it (one query; the tree is small)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found, stack = [], [category.pk]
    while stack:
        pk = stack.pop()
        if pk not in found:
            found.append(pk)
            stack.extend(children.get(pk, ()))
    return found


@extend_schema_field(OpenApiTypes.STR)
class CodeChoiceFilter(filters.ModelChoiceFilter):
    """A model chosen by its code (documented as a string)."""


class SlaState:
    """State of an incident's own SLA clocks (incidents.sla): dispatch, on scene, resolve.

    Each clock stores its warning threshold and deadline when it starts (``*_warn_at``,
    ``*_due_at``) and stops at its milestone; an incident that is no longer open stops them all.

    * breached: a clock stopped after its deadline, or is still running past it;
    * at risk:  not breached, and a running clock is past its warning threshold;
    * on time:  everything else.

    Computed in SQL as one CASE, so it filters at any size without loading rows.
    """

    ON_TIME = "on_time"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    CHOICES = [(ON_TIME, _("On time")), (AT_RISK, _("At risk")), (BREACHED, _("Breached"))]
    CLOCKS = (
        ("first_dispatched_at", "dispatch_warn_at", "dispatch_due_at"),
        ("first_on_scene_at", "response_warn_at", "response_due_at"),
        ("resolved_at", "resolve_warn_at", "resolve_due_at"),
    )

    @classmethod
    def expression(cls, now) -> Case:
        open_ = Q(status__in=Incident.OPEN_STATUSES)
        breached, at_risk = Q(), Q()
        for stop, warn, due in cls.CLOCKS:
            running = Q(**{f"{stop}__isnull": True}) & open_
            breached |= (running & Q(**{f"{due}__lt": now})) | Q(**{f"{stop}__gt": F(due)})
            at_risk |= running & Q(**{f"{warn}__lte": now})
        return Case(
            When(breached, then=Value(cls.BREACHED)),
            When(at_risk, then=Value(cls.AT_RISK)),
            default=Value(cls.ON_TIME),
            output_field=CharField(),
        )


class IncidentFilter(filters.FilterSet):
    # distinct=False: django-filter's MultipleChoiceFilter adds SELECT DISTINCT by default, for
    # filters across to-many relations. These are the incident's own columns, so no row can repeat,
    # and DISTINCT over every selected column made PostgreSQL read, hash and sort all matching
    # incidents before LIMIT (the open queue: 10,000 rows for a page of 50; bench/RESULTS.md).
    status = filters.MultipleChoiceFilter(
        choices=Incident.Status.choices, distinct=False, help_text="Repeat for several statuses."
    )
    category = filters.ModelChoiceFilter(
        queryset=Category.objects.all(),
        to_field_name="code",
        method="filter_category",
        help_text="Category code; includes its subcategories.",
    )
    priority = filters.MultipleChoiceFilter(choices=Priority.choices, distinct=False)
    district = filters.ModelChoiceFilter(queryset=District.objects.all(), help_text="District id.")
    agency = CodeChoiceFilter(
        queryset=Agency.objects.all(),
        to_field_name="code",
        method="filter_agency",
        help_text="Agency code: incidents dispatched (now or before) to this agency.",
    )
    received_at = filters.IsoDateTimeFromToRangeFilter(
        help_text="received_at_after / received_at_before (ISO 8601, inclusive)."
    )
    sla = filters.ChoiceFilter(
        choices=SlaState.CHOICES,
        method="filter_sla",
        help_text="SLA state of the dispatch, on-scene and resolve clocks.",
    )
    has_coordinates = filters.BooleanFilter(method="filter_has_coordinates")
    q = filters.CharFilter(
        method="filter_search", max_length=200, help_text="Text in the reference, address or description."
    )

    class Meta:
        model = Incident
        fields = ["status", "category", "priority", "district", "agency", "received_at", "sla", "has_coordinates", "q"]

    def filter_category(self, queryset, name, value):
        return queryset.filter(category_id__in=category_with_descendants(value)) if value else queryset

    def filter_agency(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(Exists(Assignment.objects.filter(incident=OuterRef("pk"), agency=value)))

    def filter_sla(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.alias(sla_state=SlaState.expression(timezone.now())).filter(sla_state=value)

    def filter_has_coordinates(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(latitude__isnull=not value)

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(reference__icontains=value) | Q(address__icontains=value) | Q(description__icontains=value)
        )


class CallFilter(filters.FilterSet):
    # The call's own columns: no DISTINCT (see IncidentFilter.status).
    outcome = filters.MultipleChoiceFilter(choices=Call.Outcome.choices, distinct=False)
    channel = filters.MultipleChoiceFilter(choices=Channel.choices, distinct=False)
    started_at = filters.IsoDateTimeFromToRangeFilter(help_text="started_at_after / started_at_before (ISO 8601).")
    incident = filters.NumberFilter(field_name="incident_id", help_text="Incident id.")

    class Meta:
        model = Call
        fields = ["outcome", "channel", "started_at", "incident"]


class CategoryFilter(filters.FilterSet):
    is_active = filters.BooleanFilter()
    parent = filters.CharFilter(field_name="parent__code", help_text="Parent category code.")

    class Meta:
        model = Category
        fields = ["is_active", "parent"]


class VillageFilter(filters.FilterSet):
    district = filters.NumberFilter(field_name="district_id", help_text="District id.")

    class Meta:
        model = Village
        fields = ["district"]
