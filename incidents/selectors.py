"""Reads, scoped by permission: the one place that decides which incidents a principal sees.

The API, the web views, the admin, exports and reports all start from ``incident_list_for_user``.
Visibility is plain SQL over foreign keys — the command center's regions, the agency's
assignments (past or present), live shares — never a Python loop over rows.
"""

from __future__ import annotations

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from dispatch.access import Access, access_for, live_share_grants, personal_data_visible
from dispatch.models import Agency, Assignment
from semarang112.core import config_cache

from .models import Call, Category, District, Incident, Region, TimelineEvent


def _assignment_conditions(access: Access) -> Q | None:
    """Assignments (past or present) of the principal's agencies or, for field officers, units."""
    conditions = Q()
    if access.agency_ids:
        conditions |= Q(agency_id__in=access.agency_ids)
    if access.unit_ids:
        conditions |= Q(unit_id__in=access.unit_ids)
    return conditions or None


def _assigned_flag(conditions: Q) -> Q:
    """True for incidents with such an assignment, as a per-row subquery for the fetched rows only.

    A scalar ``(SELECT true ... LIMIT 1)``, not ``EXISTS``: PostgreSQL may run an EXISTS as a
    hashed subplan that first reads every assignment of the agency (hundreds of thousands of rows
    after a few years) even when the page shows 50 incidents; a scalar subquery is never hashed.
    """
    rows = (
        Assignment.objects.filter(conditions, incident=OuterRef("pk"))
        .order_by()
        .annotate(flag=Value(True))
        .values("flag")
    )
    return Q(Coalesce(Subquery(rows[:1], output_field=BooleanField()), Value(False)))


def _agency_visibility(access: Access) -> Q | None:
    """Incidents assigned (now or before) to the principal's agencies or units, or shared live with them.

    One semi-join, ``id IN (SELECT incident_id FROM dispatch_assignment WHERE ...)``, so that the
    planner can choose with real statistics: for a large agency, walk the newest incidents by
    ``received_at`` and probe the assignment index until the page is full; for a small one, read
    its assignments and sort them. An OR of EXISTS clauses (assigned OR shared) cannot become a
    semi-join; PostgreSQL then hashes all of the agency's assignments on every query, which grows
    with the history (bench/RESULTS.md, issue #4).

    Live shares are few, so their incident ids are read first (one small query over the
    agencies' django-guardian group grants, ``dispatch.access.live_share_grants``) and folded into
    the same subquery when the shared incident has an assignment of any agency (then it is one of
    the subquery's rows); a share of an incident nobody has been dispatched to yet is added with
    an OR, which only costs the semi-join while such a share is live.
    """
    conditions = _assignment_conditions(access)
    if conditions is None:
        return None
    folded: list[int] = []
    separate: list[int] = []
    if access.agency_ids:
        live = (
            live_share_grants(access.agency_ids)
            .filter(permission__codename="view_incident")  # every share level grants view
            .annotate(dispatched=Exists(Assignment.objects.filter(incident_id=OuterRef("content_object_id"))))
            .values_list("content_object_id", "dispatched")
        )
        for incident_id, dispatched in live:
            (folded if dispatched else separate).append(incident_id)
    if folded:
        conditions |= Q(incident_id__in=sorted(set(folded)))
    visible = Q(pk__in=Assignment.objects.filter(conditions).values("incident_id"))
    if separate:
        visible |= Q(pk__in=sorted(set(separate)))
    return visible


def _visibility(access: Access) -> Q | None:
    """A Q on Incident for what the principal sees; None means nothing at all."""
    if access.sees_everything:
        return Q()
    conditions = []
    if access.is_command_center:
        conditions.append(Q(region_id__in=access.cc_region_ids))
    agency = _agency_visibility(access)
    if agency is not None:
        conditions.append(agency)
    if not conditions:
        return None
    combined = conditions[0]
    for condition in conditions[1:]:
        combined |= condition
    return combined


def incident_list_for_user(user) -> QuerySet[Incident]:
    """Incidents the principal may see, annotated with ``pii_visible`` (may it see caller data).

    ``pii_visible`` is a constant for command center, auditors and superusers, and a per-row
    subquery over the agency's assignments for agency principals (evaluated only for the rows
    fetched).
    """
    access = access_for(user)
    visible = _visibility(access)
    if visible is None:
        return Incident.objects.none()
    queryset = Incident.objects.filter(visible)
    assigned = _assignment_conditions(access)
    if access.is_superuser or (access.is_command_center and access.cc_all_regions):
        pii = Value(True, output_field=BooleanField())
    elif access.is_command_center:
        pii = Q(region_id__in=access.cc_region_ids)
        if assigned is not None:
            pii |= _assigned_flag(assigned)
    elif access.reads_everything:
        pii = Value(personal_data_visible(user, Incident(region_id=0)), output_field=BooleanField())
    else:
        pii = _assigned_flag(assigned) if assigned is not None else Value(False, output_field=BooleanField())
    if isinstance(pii, Q):
        pii = ExpressionWrapper(pii, output_field=BooleanField())
    return queryset.annotate(pii_visible=pii)


# What a list row shows of each assignment (incidents.api.serializers.AssignmentSummarySerializer).
ASSIGNMENT_SUMMARY_FIELDS = ("id", "incident_id", "agency_id", "status", "requested_at")


def incident_list_rows_for_user(user) -> QuerySet[Incident]:
    """``incident_list_for_user`` with what a list row shows: its place (the village joined), the
    assignments as ``assignment_rows`` and ``due_at`` (the API's due-date ordering). Pass the rows
    of a page through ``list_rows_attach_reference_data`` for their region, category, district
    and the assignments' agencies.

    The assignments are one prefetch query in (requested_at, id) order, with only the columns a
    row shows: an assignment has some twenty columns, a dozen of them timestamps, and loading them
    all for about 75 assignments a page cost more Python time than the page's SQL. ``to_attr``
    stores them as a plain list, without a related manager and a queryset per incident.
    """
    assignments = Assignment.objects.order_by("requested_at", "id")
    if config_cache.enabled():  # configuration rows come from the cache (list_rows_attach_reference_data)
        related = ("village",)
        assignments = assignments.only(*ASSIGNMENT_SUMMARY_FIELDS)
    else:
        related = ("village", *REFERENCE_FIELDS)
        assignments = assignments.select_related("agency").only(*ASSIGNMENT_SUMMARY_FIELDS, *AGENCY_REF_FIELDS)
    return (
        incident_list_for_user(user)
        .select_related(*related)
        .prefetch_related(Prefetch("assignments", queryset=assignments, to_attr="assignment_rows"))
        .annotate(due_at=Coalesce("response_due_at", "received_at"))
    )


# Configuration tables a list row refers to: read through the configuration cache, not joined.
REFERENCE_FIELDS = ("region", "category", "district")
AGENCY_REF_FIELDS = ("agency__id", "agency__code", "agency__name")


def _reference_rows() -> dict[str, dict]:
    """{field: {pk: row}} of the configuration tables list rows refer to (shared, read-only)."""

    def load() -> dict[str, dict]:
        return {
            "region": Region.objects.in_bulk(),
            "category": Category.objects.in_bulk(),
            "district": District.objects.in_bulk(),
            "agency": Agency.objects.in_bulk(),
        }

    return config_cache.cached("incidents.list_reference_rows", load)


def list_rows_attach_reference_data(incidents: list[Incident]) -> list[Incident]:
    """Give each row of ``incident_list_rows_for_user`` its region, category and district, and its
    assignments their agency, from the configuration cache — what ``select_related`` would load.

    These are configuration tables (a few dozen rows; every change bumps the configuration
    version): joining them made PostgreSQL plan four more joins and Django build four more objects
    per row, about a fifth of an agency list page's CPU. The rows are the process's shared
    instances: read them, never change them. A row missing from the cache (created after the
    version was read) is left to the usual lazy load. Without PostgreSQL there is no version to
    trust across requests; there the selector joins them as before and this does nothing.
    """
    if not config_cache.enabled() or not incidents:
        return incidents
    rows = _reference_rows()
    fields = [(Incident._meta.get_field(name), rows[name]) for name in REFERENCE_FIELDS]
    agency_field, agencies = Assignment._meta.get_field("agency"), rows["agency"]
    for incident in incidents:
        for field, by_pk in fields:
            value = by_pk.get(getattr(incident, field.attname))
            if value is not None:
                field.set_cached_value(incident, value)
        for assignment in getattr(incident, "assignment_rows", ()):
            agency = agencies.get(assignment.agency_id)
            if agency is not None:
                agency_field.set_cached_value(assignment, agency)
    return incidents


def incident_get_for_user(user, *, pk: int | str | None = None, reference: str | None = None) -> Incident:
    """One visible incident, or Http404 — the same answer whether it is missing or not visible."""
    if pk is None and reference is None:
        raise Http404
    queryset = incident_list_for_user(user).select_related("category", "district", "village", "region")
    try:
        if pk is not None:
            return queryset.get(pk=int(pk))
        return queryset.get(reference=reference)
    except (Incident.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def assignment_list_for_user(user) -> QuerySet[Assignment]:
    """Assignments of visible incidents. Agency principals see their own agency's assignments and,
    on incidents they work on or that are shared with them, the other agencies' too (who else is there)."""
    return Assignment.objects.filter(incident__in=incident_list_for_user(user).values("pk"))


def call_list_for_user(user) -> QuerySet[Call]:
    """Calls: the command center of the region, auditors and superusers; nobody else."""
    access = access_for(user)
    if access.is_superuser or access.reads_everything or access.cc_all_regions:
        return Call.objects.all()
    if access.is_command_center:
        return Call.objects.filter(region_id__in=access.cc_region_ids)
    return Call.objects.none()


def timeline_for_incident(incident: Incident) -> QuerySet[TimelineEvent]:
    """The incident's timeline, oldest first. The caller has already checked visibility."""
    return incident.timeline.select_related("actor", "assignment__agency").order_by("created_at", "id")
