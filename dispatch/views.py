"""Staff web console: the dispatch board (command center) and the agency inbox.

Thin views like ``incidents.views``: fetch through the selectors, check with ``dispatch.access``,
call one service, show its error if it refuses.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from incidents.models import Incident
from incidents.selectors import assignment_list_for_user, incident_get_for_user, incident_list_for_user
from semarang112.console.clocks import acknowledge_clock, current_clock
from semarang112.console.refresh import content_etag, not_modified, with_etag
from semarang112.exceptions import ApplicationError

from . import access as acl
from . import services
from .access import access_for, allowed_actions, require
from .forms import AssignResourceForm, DeclineForm, DispatchForm
from .models import Agency, Assignment, FieldUnit, Volunteer
from .transitions import ASSIGNMENT_TRANSITIONS

A = Assignment.Status
S = Incident.Status


@dataclass(frozen=True)
class Step:
    name: str
    permission: str
    target: str
    label: str


ASSIGNMENT_STEPS = [
    Step("acknowledge", acl.ASSIGNMENT_ACKNOWLEDGE, A.ACKNOWLEDGED, gettext_lazy("Acknowledge")),
    Step("en_route", acl.ASSIGNMENT_EN_ROUTE, A.EN_ROUTE, gettext_lazy("En route")),
    Step("on_scene", acl.ASSIGNMENT_ON_SCENE, A.ON_SCENE, gettext_lazy("On scene")),
    Step("complete", acl.ASSIGNMENT_COMPLETE, A.COMPLETED, gettext_lazy("Complete")),
    Step("decline", acl.ASSIGNMENT_DECLINE, A.DECLINED, gettext_lazy("Decline")),
]
_STEP_SERVICES = {
    "acknowledge": services.assignment_acknowledge,
    "en_route": services.assignment_en_route,
    "on_scene": services.assignment_on_scene,
    "complete": services.assignment_complete,
}


def _safe_next(request: HttpRequest, default: str) -> str:
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return next_url
    return default


def steps_for(user, assignment: Assignment) -> list[tuple[str, str]]:
    """(step, label) the user may take on the assignment now. No queries (access is cached)."""
    allowed = allowed_actions(user, assignment.incident, assignment)
    possible = ASSIGNMENT_TRANSITIONS.get(assignment.status, frozenset())
    steps = [
        (step.name, step.label) for step in ASSIGNMENT_STEPS if step.permission in allowed and step.target in possible
    ]
    if acl.ASSIGNMENT_CANCEL in allowed and A.CANCELLED in possible:
        steps.append(("cancel", _("Withdraw")))
    return steps


# ------------------------------------------------------------------------------------------------
# Dispatch board
# ------------------------------------------------------------------------------------------------
def _board_incidents(user) -> list[tuple[Incident, object]]:
    rows = (
        incident_list_for_user(user)
        .filter(status__in=(S.RECEIVED, S.VERIFIED, S.DISPATCHED, S.ON_SCENE))
        .select_related("category", "district", "village")
        .annotate(active_count=Count("assignments", filter=Q(assignments__status__in=Assignment.ACTIVE_STATUSES)))
        .order_by("priority", "received_at", "pk")[:200]
    )
    # Waiting for an agency first (never dispatched, or every agency declined), then the rest.
    result = [(incident, current_clock(incident)) for incident in rows]
    result.sort(key=lambda row: (row[0].active_count > 0, row[0].priority, row[0].received_at))
    return result


def _agency_capacity(incident: Incident | None) -> list[dict]:
    """Active agencies with their available units (and volunteers) overall and in the incident's district."""
    district_id = incident.district_id if incident is not None else None
    units_by_agency: dict[int, list[FieldUnit]] = defaultdict(list)
    for unit in (
        FieldUnit.objects.filter(status=FieldUnit.Status.AVAILABLE).select_related("home_district").order_by("code")
    ):
        units_by_agency[unit.agency_id].append(unit)
    volunteers = (
        Volunteer.objects.filter(is_available=True)
        .values("community_id")
        .annotate(total=Count("pk", distinct=True), here=Count("pk", filter=Q(districts=district_id), distinct=True))
    )
    volunteers_by_agency = {row["community_id"]: row for row in volunteers}
    rows = []
    for agency in Agency.objects.filter(is_active=True).exclude(kind=Agency.Kind.COMMAND_CENTER).order_by("name"):
        units = units_by_agency.get(agency.pk, [])
        vol = volunteers_by_agency.get(agency.pk, {})
        rows.append(
            {
                "agency": agency,
                "units": units,
                "units_here": [unit for unit in units if district_id and unit.home_district_id == district_id],
                "volunteers": vol.get("total", 0),
                "volunteers_here": vol.get("here", 0) if district_id else 0,
            }
        )
    return rows


@login_required
def board(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Incidents waiting for dispatch; with ``pk``, that incident's routing and the dispatch form."""
    request.console_screen = "dispatch"
    # The incident first: one the user may not see is a 404 whatever their role.
    incident = incident_get_for_user(request.user, pk=pk) if pk is not None else None
    if acl.INCIDENT_DISPATCH not in allowed_actions(request.user):
        raise PermissionDenied
    context: dict = {"rows": _board_incidents(request.user), "incident": incident}
    if incident is not None:
        suggested = services.routing_suggest(category=incident.category, district=incident.district)
        busy = set(
            incident.assignments.filter(status__in=Assignment.ACTIVE_STATUSES).values_list("agency_id", flat=True)
        )
        if request.method == "POST":
            form = DispatchForm(request.POST)
            if form.is_valid():
                version = form.cleaned_data["version"]
                if version is not None and version != incident.version:
                    messages.error(
                        request,
                        _("Incident %(ref)s was changed by someone else while you had it open; check it and try again.")
                        % {"ref": incident.reference},
                    )
                    return HttpResponseRedirect(reverse("dispatch:incident", args=[incident.pk]))
                try:
                    require(request.user, acl.INCIDENT_DISPATCH, incident=incident)
                    assignments = services.incident_dispatch(
                        incident=incident,
                        agencies=list(form.cleaned_data["agencies"]),
                        actor=request.user,
                        note=form.cleaned_data["note"],
                    )
                except ApplicationError as exc:
                    form.add_error("agencies" if exc.extra.get("field") == "agencies" else None, exc.message)
                else:
                    messages.success(
                        request,
                        _("%(ref)s dispatched to %(agencies)s.")
                        % {"ref": incident.reference, "agencies": ", ".join(a.agency.name for a in assignments)},
                    )
                    return HttpResponseRedirect(reverse("incidents:detail", args=[incident.pk]))
        else:
            form = DispatchForm(
                initial={
                    "agencies": [agency.pk for agency in suggested if agency.pk not in busy],
                    "version": incident.version,
                }
            )
        if form.is_bound:
            checked = {int(value) for value in request.POST.getlist("agencies") if value.isdigit()}
        else:
            checked = set(form.initial["agencies"])
        context.update(
            form=form,
            checked=checked,
            suggested=suggested,
            suggested_ids={agency.pk for agency in suggested},
            busy=busy,
            capacity=_agency_capacity(incident),
            can_dispatch=incident.status in (S.RECEIVED, S.VERIFIED, S.DISPATCHED, S.ON_SCENE),
            clock=current_clock(incident),
        )
        status = 400 if request.method == "POST" else 200
        return render(request, "dispatch/board.html", context, status=status)
    return render(request, "dispatch/board.html", context)


# ------------------------------------------------------------------------------------------------
# Agency inbox
# ------------------------------------------------------------------------------------------------
INBOX_GROUPS = [
    (A.REQUESTED, gettext_lazy("New — waiting for acknowledgement")),
    (A.ACKNOWLEDGED, gettext_lazy("Acknowledged")),
    (A.EN_ROUTE, gettext_lazy("En route")),
    (A.ON_SCENE, gettext_lazy("On scene")),
]


INBOX_FINISHED_ROWS = 50


def _inbox_assignments(user) -> tuple[list[Assignment], int, list[Assignment]]:
    """The user's agencies' (and units') active assignments, by priority and oldest first: the
    first INBOX_MAX_ROWS and how many there are in all; and the latest of those that ended among
    the ones requested in the last 24 hours, in a query of their own (so that they never push an
    active assignment off the screen)."""
    access = access_for(user)
    mine = assignment_list_for_user(user).filter(Q(agency_id__in=access.agency_ids) | Q(unit_id__in=access.unit_ids))
    active = (
        mine.filter(status__in=Assignment.ACTIVE_STATUSES)
        .select_related("incident__category", "incident__district", "incident__village", "agency", "unit", "volunteer")
        .order_by("incident__priority", "requested_at", "pk")
    )
    limit = settings.INBOX_MAX_ROWS
    shown = list(active[:limit])
    total = len(shown) if len(shown) < limit else active.order_by().count()
    finished = list(
        # The statuses named, not "not active": one range of (agency, status, requested_at) each.
        mine.filter(status__in=Assignment.ENDED_STATUSES, requested_at__gte=timezone.now() - timedelta(hours=24))
        .select_related("incident", "agency")  # what the list shows: fewer joins to plan (3.9 → 0.6 ms)
        .order_by("-requested_at", "-pk")[:INBOX_FINISHED_ROWS]
    )
    return shown, total, finished


def _inbox_context(user) -> dict:
    access = access_for(user)
    assignments, total, finished = _inbox_assignments(user)
    agency_ids = set(access.agency_roles)
    units: dict[int, list] = defaultdict(list)
    for unit in (
        FieldUnit.objects.filter(agency_id__in=agency_ids).exclude(status=FieldUnit.Status.OFF_DUTY).order_by("code")
    ):
        units[unit.agency_id].append(unit)
    volunteers: dict[int, list] = defaultdict(list)
    for volunteer in Volunteer.objects.filter(community_id__in=agency_ids, is_available=True).order_by("name"):
        volunteers[volunteer.community_id].append(volunteer)
    groups = []
    for status, label in INBOX_GROUPS:
        rows = [
            {
                "assignment": a,
                "steps": steps_for(user, a),
                "ack_clock": acknowledge_clock(a),
                "clock": current_clock(a.incident),
                "units": units.get(a.agency_id, []),
                "volunteers": volunteers.get(a.agency_id, []),
            }
            for a in assignments
            if a.status == status
        ]
        groups.append({"status": status, "label": label, "rows": rows})
    return {
        "groups": groups,
        "total": total,
        "shown": len(assignments),
        "finished": finished,
        "refresh": settings.QUEUE_REFRESH_SECONDS,
        "now": timezone.now(),
    }


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    request.console_screen = "inbox"
    if not access_for(request.user).agency_roles:
        raise PermissionDenied
    context = _inbox_context(request.user)
    if request.htmx and request.GET.get("rows") == "1":
        # The poll: 304 when the browser already holds what the groups show now.
        etag = content_etag(request, _inbox_fingerprint(context))
        if (unchanged := not_modified(request, etag)) is not None:
            return unchanged
        return with_etag(render(request, "dispatch/_inbox_groups.html", context), etag)
    return render(request, "dispatch/inbox.html", context)


def _inbox_fingerprint(context: dict):
    """Every value ``_inbox_groups.html`` shows (the clocks by their times: console.js ticks
    them), including the steps offered and the units and volunteers to choose from."""
    yield context["total"], context["shown"]
    for group in context["groups"]:
        yield group["status"], len(group["rows"])
        for row in group["rows"]:
            a = row["assignment"]
            incident = a.incident
            yield (
                a.pk,
                a.status,
                a.note,
                a.requested_at,
                a.agency.name,
                (a.unit_id, str(a.unit) if a.unit else None),
                (a.volunteer_id, str(a.volunteer) if a.volunteer else None),
                incident.pk,
                incident.reference,
                incident.priority,
                incident.category.display_name,
                incident.address,
                incident.village.name if incident.village else None,
                incident.district.name if incident.district else None,
                [(step, str(label)) for step, label in row["steps"]],
                row["ack_clock"],
                row["clock"],
                [(unit.pk, unit.code, unit.status) for unit in row["units"]],
                [(volunteer.pk, volunteer.name) for volunteer in row["volunteers"]],
            )
    for a in context["finished"]:
        yield a.pk, a.status, a.incident_id, a.incident.reference, a.agency.code, a.decline_reason


def _assignment_for(request: HttpRequest, pk: int) -> Assignment:
    """A visible assignment (404 otherwise, like incidents)."""
    return get_object_or_404(assignment_list_for_user(request.user).select_related("incident", "agency"), pk=pk)


@login_required
@require_POST
def assignment_step(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    """One step of an assignment (from the inbox or the incident page); errors are shown, never lost."""
    assignment = _assignment_for(request, pk)
    back = HttpResponseRedirect(_safe_next(request, reverse("dispatch:inbox")))
    spec = {s.name: s for s in ASSIGNMENT_STEPS}.get(step)
    if spec is None and step != "cancel":
        raise Http404
    expected = request.POST.get("status", "")
    if expected and expected != assignment.status:
        messages.error(
            request,
            _("The assignment of %(agency)s on %(ref)s is already “%(status)s”; nothing was changed.")
            % {
                "agency": assignment.agency.name,
                "ref": assignment.incident.reference,
                "status": assignment.get_status_display(),
            },
        )
        return back
    user = request.user
    try:
        if step == "decline":
            require(user, acl.ASSIGNMENT_DECLINE, assignment=assignment)
            form = DeclineForm(request.POST)
            if not form.is_valid():
                for error in form.errors.get("reason", []):
                    messages.error(request, error)
                return back
            services.assignment_decline(assignment=assignment, actor=user, reason=form.cleaned_data["reason"])
        elif step == "cancel":
            require(user, acl.ASSIGNMENT_CANCEL, assignment=assignment)
            reason = request.POST.get("reason", "").strip() or _("Withdrawn by the command center")
            services.assignment_cancel(assignment=assignment, actor=user, reason=reason)
        else:
            require(user, spec.permission, assignment=assignment)
            _STEP_SERVICES[step](assignment=assignment, actor=user, note=request.POST.get("note", "").strip())
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        label = spec.label if spec else _("Withdraw")
        messages.success(
            request,
            _("%(ref)s · %(agency)s: %(step)s.")
            % {"ref": assignment.incident.reference, "agency": assignment.agency.name, "step": label},
        )
    return back


@transaction.atomic
@login_required
@require_POST
def assignment_assign(request: HttpRequest, pk: int) -> HttpResponse:
    assignment = _assignment_for(request, pk)
    back = HttpResponseRedirect(_safe_next(request, reverse("dispatch:inbox")))
    form = AssignResourceForm(request.POST, agency=assignment.agency)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return back
    try:
        require(request.user, acl.ASSIGNMENT_ASSIGN_RESOURCE, assignment=assignment)
        services.assignment_assign_resource(
            assignment=assignment,
            unit=form.cleaned_data["unit"],
            volunteer=form.cleaned_data["volunteer"],
            actor=request.user,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(ref)s: unit / volunteer assigned.") % {"ref": assignment.incident.reference})
    return back
