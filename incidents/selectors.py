"""Reads, scoped by permission: the one place that decides which incidents a principal sees.

The API, the web views, the admin, exports and reports all start from ``incident_list_for_user``.
Visibility is plain SQL over foreign keys — the command center's regions, the agency's
assignments (past or present), live shares — never a Python loop over rows.
"""

from __future__ import annotations

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Value
from django.http import Http404
from django.utils import timezone

from dispatch.access import Access, access_for, personal_data_visible
from dispatch.models import Assignment, IncidentShare

from .models import Call, Incident, TimelineEvent


def _assigned_to(access: Access) -> Q | None:
    """Incidents that have (or had) an assignment to the principal's agencies or units."""
    conditions = Q()
    if access.agency_ids:
        conditions |= Q(agency_id__in=access.agency_ids)
    if access.unit_ids:
        conditions |= Q(unit_id__in=access.unit_ids)
    if not conditions:
        return None
    return Q(Exists(Assignment.objects.filter(conditions, incident=OuterRef("pk"))))


def _shared_with(access: Access) -> Q | None:
    if not access.agency_ids:
        return None
    live = IncidentShare.objects.active(timezone.now()).filter(agency_id__in=access.agency_ids, incident=OuterRef("pk"))
    return Q(Exists(live))


def _visibility(access: Access) -> Q | None:
    """A Q on Incident for what the principal sees; None means nothing at all."""
    if access.sees_everything:
        return Q()
    conditions = []
    if access.is_command_center:
        conditions.append(Q(region_id__in=access.cc_region_ids))
    for condition in (_assigned_to(access), _shared_with(access)):
        if condition is not None:
            conditions.append(condition)
    if not conditions:
        return None
    combined = conditions[0]
    for condition in conditions[1:]:
        combined |= condition
    return combined


def incident_list_for_user(user) -> QuerySet[Incident]:
    """Incidents the principal may see, annotated with ``pii_visible`` (may it see caller data).

    ``pii_visible`` is a constant for command center, auditors and superusers, and an EXISTS over
    the agency's assignments for agency principals (evaluated only for the rows fetched).
    """
    access = access_for(user)
    visible = _visibility(access)
    if visible is None:
        return Incident.objects.none()
    queryset = Incident.objects.filter(visible)
    if access.is_superuser or (access.is_command_center and access.cc_all_regions):
        pii = Value(True, output_field=BooleanField())
    elif access.is_command_center:
        pii = Q(region_id__in=access.cc_region_ids)
        assigned = _assigned_to(access)
        if assigned is not None:
            pii |= assigned
    elif access.reads_everything:
        pii = Value(personal_data_visible(user, Incident(region_id=0)), output_field=BooleanField())
    else:
        assigned = _assigned_to(access)
        pii = assigned if assigned is not None else Value(False, output_field=BooleanField())
    if isinstance(pii, Q):
        pii = ExpressionWrapper(pii, output_field=BooleanField())
    return queryset.annotate(pii_visible=pii)


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
