"""Staff web console: call intake, live queue, incident page, map and notifications.

Views are thin: parse a form, check the action with ``dispatch.access``, call the service,
render. Incidents are fetched only through ``incidents.selectors`` (404 for what the user may not
see); every ``ApplicationError`` a service raises is shown to the user, never swallowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dispatch import access as acl
from dispatch import services as dispatch_services
from dispatch.access import access_for, allowed_actions, personal_data_visible, require
from dispatch.models import Assignment, IncidentShare
from dispatch.views import steps_for
from semarang112.console.clocks import (
    acknowledge_clock,
    current_clock,
    dispatch_clock,
    open_incident_clock_q,
    response_clock,
)
from semarang112.console.menu import sees_queue
from semarang112.console.presence import presence_touch
from semarang112.console.refresh import content_etag, not_modified, with_etag
from semarang112.console.timeline import timeline_rows
from semarang112.exceptions import ApplicationError, Conflict

from . import services
from .forms import (
    INTAKE_ATTACH,
    INTAKE_CREATE,
    INTAKE_OUTCOMES,
    CallIntakeForm,
    CategoryChangeForm,
    IncidentEditForm,
    MergeForm,
    NoteForm,
    OptionalNoteForm,
    QueueFilterForm,
    ReasonForm,
    ShareForm,
)
from .models import Call, CallerNumber, Category, Incident, Region, Village
from .selectors import call_list_for_user, incident_get_for_user, incident_list_for_user, timeline_for_incident
from .transitions import INCIDENT_TRANSITIONS

S = Incident.Status


def _screen(request: HttpRequest, key: str) -> None:
    request.console_screen = key  # highlights the menu item


def _show_error(request: HttpRequest, exc: ApplicationError) -> None:
    messages.error(request, exc.message)


def _form_error(form, exc: ApplicationError) -> None:
    """Put a service error on the field it names (``extra["field"]``), or on the whole form."""
    field = exc.extra.get("field") if exc.extra else None
    form.add_error(field if field in form.fields else None, exc.message)


def _intake_region(user) -> Region:
    """The region a call-taker takes calls for: their center's only region, else the default."""
    access = access_for(user)
    if len(access.cc_region_ids) == 1:
        return Region.objects.get(pk=next(iter(access.cc_region_ids)))
    return services.default_region()


# ------------------------------------------------------------------------------------------------
# Call intake
# ------------------------------------------------------------------------------------------------
def _intake_context(request, form, region) -> dict:
    categories = list(Category.objects.filter(is_active=True).select_related("parent"))
    return {
        "form": form,
        "region": region,
        "categories": categories,
        "outcomes": [
            (value, Call.Outcome(value).label, key) for value, key in zip(INTAKE_OUTCOMES, "PSIW", strict=True)
        ],
        "started_at": (form.data.get("started_at") if form.is_bound else "") or timezone.now().isoformat(),
    }


@login_required
def intake(request: HttpRequest) -> HttpResponse:
    """Record a call; for an emergency open the incident (or attach to an open one) in one step."""
    _screen(request, "intake")
    if acl.CALL_CREATE not in allowed_actions(request.user):
        raise PermissionDenied
    region = _intake_region(request.user)
    if request.method != "POST":
        form = CallIntakeForm(region=region)
        return render(request, "incidents/intake.html", _intake_context(request, form, region))

    outcome = request.POST.get("outcome", "")
    attach_to = request.POST.get("attach_to", "")
    intent = outcome if outcome in INTAKE_OUTCOMES else (INTAKE_ATTACH if attach_to else INTAKE_CREATE)
    form = CallIntakeForm(request.POST, region=region, intent=intent)
    if form.is_valid():
        data = form.cleaned_data
        call_fields = {
            "actor": request.user,
            "region": region,
            "channel": data["channel"],
            "caller_number": data["caller_number"],
            "caller_name": data["caller_name"],
            "started_at": data["started_at"],
            "answered_at": data["started_at"],
            "notes": data["notes"],
        }
        try:
            with transaction.atomic():
                if intent in INTAKE_OUTCOMES:
                    call = services.call_create(**call_fields, outcome=intent, ended_at=timezone.now())
                    messages.success(
                        request, _("Call recorded: %(outcome)s.") % {"outcome": call.get_outcome_display()}
                    )
                    return redirect("incidents:intake")
                if intent == INTAKE_ATTACH:
                    incident = incident_get_for_user(request.user, pk=attach_to)
                    call = services.call_create(**call_fields)
                    services.call_attach_to_incident(call=call, incident=incident, actor=request.user)
                    messages.success(request, _("Call attached to incident %(ref)s.") % {"ref": incident.reference})
                    return redirect("incidents:intake")
                require(request.user, acl.INCIDENT_CREATE)
                call = services.call_create(**call_fields)
                incident = services.incident_create(
                    actor=request.user,
                    call=call,
                    region=region,
                    category=data["category"],
                    priority=data["priority"],
                    description=data["description"],
                    address=data["address"],
                    district=data["district"],
                    village=data["village"],
                    latitude=data["latitude"],
                    longitude=data["longitude"],
                )
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Incident %(ref)s created.") % {"ref": incident.reference})
            return redirect("incidents:detail", pk=incident.pk)
    return render(request, "incidents/intake.html", _intake_context(request, form, region), status=400)


@login_required
@require_GET
def intake_caller(request: HttpRequest) -> HttpResponse:
    """The number's earlier calls and incidents and its prank flag (htmx partial)."""
    if acl.CALL_CREATE not in allowed_actions(request.user):
        raise PermissionDenied
    number = services.normalize_caller_number(request.GET.get("caller_number", ""))
    context = {"number": number}
    if number:
        context.update(
            record=CallerNumber.objects.filter(number=number).first(),
            calls=list(
                call_list_for_user(request.user)
                .filter(caller_number=number)
                .select_related("incident")
                .order_by("-started_at")[:10]
            ),
            incidents=list(
                incident_list_for_user(request.user)
                .filter(caller_number=number)
                .select_related("category")
                .order_by("-received_at")[:10]
            ),
        )
    return render(request, "incidents/_caller.html", context)


@login_required
@require_GET
def intake_villages(request: HttpRequest) -> HttpResponse:
    """The <option>s of the village picker for one district (htmx partial)."""
    villages = Village.objects.none()
    district_id = request.GET.get("district", "")
    if district_id.isdigit():
        villages = Village.objects.filter(district_id=int(district_id)).order_by("name")
    return render(request, "incidents/_village_options.html", {"villages": villages})


@dataclass
class DuplicateCandidate:
    incident: Incident
    distance_m: float | None
    same_village: bool


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def duplicate_candidates(
    user, *, category: Category | None, village: Village | None, latitude: Decimal | None, longitude: Decimal | None
) -> list[DuplicateCandidate]:
    """Open incidents of the same category received recently, in the same village or close by.

    A bounding box in SQL narrows the rows; the exact (haversine) distance is checked on the few left.
    """
    if category is None or (village is None and (latitude is None or longitude is None)):
        return []
    radius = settings.DUPLICATE_RADIUS_METERS
    since = timezone.now() - timedelta(minutes=settings.DUPLICATE_WINDOW_MINUTES)
    near = Q()
    if village is not None:
        near |= Q(village=village)
    if latitude is not None and longitude is not None:
        lat, lon = float(latitude), float(longitude)
        dlat = radius / 111_320
        dlon = radius / (111_320 * max(math.cos(math.radians(lat)), 0.01))
        near |= Q(latitude__range=(lat - dlat, lat + dlat), longitude__range=(lon - dlon, lon + dlon))
    rows = (
        incident_list_for_user(user)
        .filter(near, category=category, status__in=Incident.OPEN_STATUSES, received_at__gte=since)
        .select_related("category", "district", "village")
        .order_by("-received_at")[:20]
    )
    found = []
    for incident in rows:
        distance = None
        if latitude is not None and incident.latitude is not None:
            distance = _haversine_m(
                float(latitude), float(longitude), float(incident.latitude), float(incident.longitude)
            )
        same_village = village is not None and incident.village_id == village.pk
        if same_village or (distance is not None and distance <= radius):
            found.append(DuplicateCandidate(incident=incident, distance_m=distance, same_village=same_village))
    return found


@login_required
@require_GET
def intake_duplicates(request: HttpRequest) -> HttpResponse:
    """Possible duplicates for what the call-taker has typed so far (htmx partial)."""
    if acl.CALL_CREATE not in allowed_actions(request.user):
        raise PermissionDenied
    form = CallIntakeForm(request.GET, region=_intake_region(request.user), intent=INTAKE_ATTACH)
    form.is_valid()  # partial input: use whatever parsed
    data = form.cleaned_data
    candidates = duplicate_candidates(
        request.user,
        category=data.get("category"),
        village=data.get("village"),
        latitude=data.get("latitude") if data.get("longitude") is not None else None,
        longitude=data.get("longitude") if data.get("latitude") is not None else None,
    )
    return render(
        request,
        "incidents/_duplicates.html",
        {
            "candidates": candidates,
            "radius": settings.DUPLICATE_RADIUS_METERS,
            "window": settings.DUPLICATE_WINDOW_MINUTES,
        },
    )


# ------------------------------------------------------------------------------------------------
# Live queue
# ------------------------------------------------------------------------------------------------
QUEUE_ROW_FIELDS = (
    "reference",
    "priority",
    "status",
    "address",
    "received_at",
    "first_dispatched_at",
    "first_on_scene_at",
    "dispatch_due_at",
    "dispatch_warn_at",
    "response_due_at",
    "response_warn_at",
    "category__name_id",
    "category__name_en",
    "district__name",
    "village__name",
)


def _queue_rows(user, form: QueueFilterForm) -> tuple[list[tuple[Incident, object]], int]:
    """Open incidents by priority, oldest first, with their current SLA clock, at most
    QUEUE_MAX_ROWS of them; and how many match in all. Fixed query count.

    Every filter, the SLA state included, is applied in SQL before the list is cut, so a breach
    further down than the cut is never missed by the "breached" filter.
    """
    queryset = (
        incident_list_for_user(user)
        .filter(status__in=Incident.OPEN_STATUSES)
        .select_related("category", "district", "village")
        # What the row and its clock show: loading all of an incident's ~20 timestamps for 500 rows
        # was a third of this function's time. (A field missing here costs a query per row: the
        # query-count test renders the whole partial.)
        .only(*QUEUE_ROW_FIELDS)
        .prefetch_related(
            Prefetch(
                "assignments",
                queryset=Assignment.objects.filter(status__in=Assignment.ACTIVE_STATUSES)
                .select_related("agency")
                .only("incident_id", "status", "agency__code", "agency__name"),
                to_attr="active_assignments",
            )
        )
        .order_by("priority", "received_at", "pk")
    )
    sla = ""
    if form.is_valid():
        data = form.cleaned_data
        if data["status"]:
            queryset = queryset.filter(status=data["status"])
        if data["category"]:
            queryset = queryset.filter(Q(category=data["category"]) | Q(category__parent=data["category"]))
        if data["district"]:
            queryset = queryset.filter(district=data["district"])
        if data["agency"]:
            queryset = queryset.filter(
                Exists(
                    Assignment.objects.filter(
                        incident=OuterRef("pk"), agency=data["agency"], status__in=Assignment.ACTIVE_STATUSES
                    )
                )
            )
        sla = data["sla"]
    now = timezone.now()
    if sla:
        queryset = queryset.filter(open_incident_clock_q(sla, now))
    limit = settings.QUEUE_MAX_ROWS
    rows, fetched = [], 0
    for incident in queryset[:limit]:
        fetched += 1
        clock = current_clock(incident)
        if sla and clock.state(now) != sla:  # only rows without a stored warning threshold
            continue
        rows.append((incident, clock))
    total = len(rows) if fetched < limit else queryset.order_by().count() - (fetched - len(rows))
    return rows, total


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    _screen(request, "queue")
    if not sees_queue(request.user):
        raise PermissionDenied
    form = QueueFilterForm(request.GET or None)
    rows, total = _queue_rows(request.user, form)
    refresh = request.htmx and request.GET.get("rows") == "1"
    if refresh:
        # The poll: unchanged rows are answered 304 without rendering them again.
        etag = content_etag(request, _queue_fingerprint(rows, total))
        if (unchanged := not_modified(request, etag)) is not None:
            return unchanged
    context = {
        "form": form,
        "rows": rows,
        "total": total,
        "wall": request.GET.get("wall") == "1",
        "refresh": settings.QUEUE_REFRESH_SECONDS,
        "now": timezone.now(),
    }
    if refresh:
        return with_etag(render(request, "incidents/_queue_rows.html", context), etag)
    return render(request, "incidents/queue.html", context)


def _queue_fingerprint(rows: list[tuple[Incident, object]], total: int):
    """Every value ``_queue_rows.html`` shows, row by row (the clocks by their times, not by their
    state now: console.js ticks them in the browser)."""
    yield total
    for incident, clock in rows:
        yield (
            incident.pk,
            incident.reference,
            incident.priority,
            incident.status,
            incident.category.display_name,
            incident.village.name if incident.village else None,
            incident.district.name if incident.district else None,
            incident.address,
            incident.received_at,
            [(a.pk, a.status, a.agency.code, a.agency.name) for a in incident.active_assignments],
            (clock.kind, str(clock.label), clock.started_at, clock.due_at, clock.stopped_at, clock.ended),
            clock.warning_at,
        )


# ------------------------------------------------------------------------------------------------
# Incident page
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IncidentAction:
    name: str  # the URL's action name
    permission: str  # dispatch.access action
    target: str | None  # status the service moves to (None: no status change)
    label: str
    form: type | None = None
    danger: bool = False
    stale_check: bool = True
    listed: bool = True  # False: not a form of its own in the Actions box (e.g. revoke, on each share)


def incident_actions() -> list[IncidentAction]:
    return [
        IncidentAction("verify", acl.INCIDENT_VERIFY, S.VERIFIED, _("Verify")),
        IncidentAction("resolve", acl.INCIDENT_RESOLVE, S.RESOLVED, _("Mark resolved"), OptionalNoteForm),
        IncidentAction("close", acl.INCIDENT_CLOSE, S.CLOSED, _("Close"), OptionalNoteForm),
        IncidentAction("reopen", acl.INCIDENT_REOPEN, S.VERIFIED, _("Reopen"), ReasonForm),
        IncidentAction(
            "false_alarm", acl.INCIDENT_FALSE_ALARM, S.FALSE_ALARM, _("False alarm"), OptionalNoteForm, True
        ),
        IncidentAction("cancel", acl.INCIDENT_CANCEL, S.CANCELLED, _("Cancel incident"), ReasonForm, True),
        IncidentAction("merge", acl.INCIDENT_MERGE, S.MERGED, _("Merge as duplicate"), MergeForm, True),
        IncidentAction("note", acl.INCIDENT_NOTE, None, _("Add note"), NoteForm, stale_check=False),
        IncidentAction("share", acl.INCIDENT_SHARE, None, _("Share"), ShareForm, stale_check=False),
        IncidentAction(
            "assist",
            acl.INCIDENT_SELF_DISPATCH,
            None,
            _("Join with our own assignment"),
            OptionalNoteForm,
            stale_check=False,
        ),
        IncidentAction(
            "revoke_share", acl.INCIDENT_SHARE, None, _("Revoke"), None, danger=True, stale_check=False, listed=False
        ),
    ]


def _available(action: IncidentAction, incident: Incident, allowed: set[str]) -> bool:
    if action.permission not in allowed or not action.listed:
        return False
    if action.name == "assist":
        return incident.status in (S.DISPATCHED, S.ON_SCENE)  # joining follows the command center's dispatch
    if action.target is None:
        return incident.status not in Incident.FINAL_STATUSES or action.name == "note"
    if action.name == "reopen" and incident.status not in (S.RESOLVED, S.CLOSED):
        return False
    if action.name == "verify" and incident.status != S.RECEIVED:
        return False  # dispatched → verified happens only when every agency declines
    return action.target in INCIDENT_TRANSITIONS.get(incident.status, ())


@login_required
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = incident_get_for_user(request.user, pk=pk)
    _screen(request, "queue")
    allowed = allowed_actions(request.user, incident)
    assignments = list(
        incident.assignments.select_related("agency", "unit", "volunteer", "dispatched_by").order_by(
            "requested_at", "pk"
        )
    )
    access = access_for(request.user)
    calls = []
    if acl.CALL_READ in allowed or access.is_superuser:
        calls = list(
            call_list_for_user(request.user).filter(incident=incident).select_related("operator").order_by("started_at")
        )
    actions = [action for action in incident_actions() if _available(action, incident, allowed)]
    shares = list(IncidentShare.objects.active().filter(incident=incident).select_related("agency", "incident"))
    can_share = acl.INCIDENT_SHARE in allowed
    context = {
        "incident": incident,
        "pii": personal_data_visible(request.user, incident),
        "clocks": [dispatch_clock(incident), response_clock(incident)],
        "assignments": [(a, acknowledge_clock(a), steps_for(request.user, a)) for a in assignments],
        "timeline": timeline_rows(timeline_for_incident(incident)),
        "shares": [(share, can_share and acl.share_manageable(request.user, share)) for share in shares],
        "calls": calls,
        "actions": [(action, action.form(auto_id=f"{action.name}-%s") if action.form else None) for action in actions],
        "can_dispatch": acl.INCIDENT_DISPATCH in allowed
        and incident.status in (S.RECEIVED, S.VERIFIED, S.DISPATCHED, S.ON_SCENE),
        "viewers": presence_touch(incident_id=incident.pk, user=request.user),
        "can_edit": _editable(incident, allowed),
    }
    return render(request, "incidents/detail.html", context)


# ------------------------------------------------------------------------------------------------
# Editing the details and the category
# ------------------------------------------------------------------------------------------------
def _editable(incident: Incident, allowed: set[str]) -> bool:
    return acl.INCIDENT_UPDATE in allowed and incident.status not in Incident.FINAL_STATUSES


def _stale_message(incident: Incident) -> str:
    return _(
        "Incident %(ref)s was changed by someone else while you were editing it; nothing was saved. "
        "Reload the incident to see the current details, then make your change again."
    ) % {"ref": incident.reference}


def _render_edit(request, incident, *, edit_form=None, category_form=None, stale=False, status=200) -> HttpResponse:
    pii = personal_data_visible(request.user, incident)
    context = {
        "incident": incident,
        "edit_form": edit_form or IncidentEditForm(incident=incident, personal_data=pii),
        "category_form": category_form or CategoryChangeForm(incident=incident),
        "stale": stale,
    }
    template = "incidents/_edit_forms.html" if request.htmx and request.method == "GET" else "incidents/edit.html"
    return render(request, template, context, status=status)


def _refused(request: HttpRequest, incident: Incident) -> HttpResponse | None:
    """The one check (``dispatch.access``) for editing; a refusal is shown on the incident page."""
    try:
        require(request.user, acl.INCIDENT_UPDATE, incident=incident)
    except ApplicationError as exc:
        _show_error(request, exc)
        return HttpResponseRedirect(reverse("incidents:detail", args=[incident.pk]))
    return None


@login_required
def incident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit the details (``incident_update``). The form carries the version it was filled in
    against: if someone else saved meanwhile, the service refuses and nothing is overwritten."""
    incident = incident_get_for_user(request.user, pk=pk)  # 404 before any permission answer
    _screen(request, "queue")
    refused = _refused(request, incident)
    if refused is not None:
        return refused
    if request.method != "POST":
        return _render_edit(request, incident)
    form = IncidentEditForm(
        request.POST, incident=incident, personal_data=personal_data_visible(request.user, incident)
    )
    if not form.is_valid():
        return _render_edit(request, incident, edit_form=form, status=400)
    try:
        before = incident.version
        incident = services.incident_update(
            incident=incident, actor=request.user, data=form.changes(), expected_version=form.cleaned_data["version"]
        )
    except Conflict as exc:
        if exc.code != "stale_version":
            _form_error(form, exc)
            return _render_edit(request, incident, edit_form=form, status=409)
        form.add_error(None, _stale_message(incident))
        return _render_edit(request, incident, edit_form=form, stale=True, status=409)
    except ApplicationError as exc:
        _form_error(form, exc)
        return _render_edit(request, incident, edit_form=form, status=400)
    if incident.version == before:
        messages.info(request, _("Nothing was changed."))
    else:
        messages.success(request, _("Details of %(ref)s saved.") % {"ref": incident.reference})
    return redirect("incidents:detail", pk=incident.pk)


@login_required
@require_POST
def incident_category(request: HttpRequest, pk: int) -> HttpResponse:
    """Re-categorise (``incident_change_category``): routing and SLA deadlines follow the new category."""
    incident = incident_get_for_user(request.user, pk=pk)
    _screen(request, "queue")
    refused = _refused(request, incident)
    if refused is not None:
        return refused
    form = CategoryChangeForm(request.POST, incident=incident)
    if not form.is_valid():
        return _render_edit(request, incident, category_form=form, status=400)
    data = form.cleaned_data
    try:
        incident = services.incident_change_category(
            incident=incident,
            category=data["category"],
            actor=request.user,
            note=data["note"],
            expected_version=data["version"],
        )
    except Conflict as exc:
        stale = exc.code == "stale_version"
        form.add_error(None, _stale_message(incident) if stale else exc.message)
        return _render_edit(request, incident, category_form=form, stale=stale, status=409)
    except ApplicationError as exc:
        _form_error(form, exc)
        return _render_edit(request, incident, category_form=form, status=400)
    messages.success(
        request,
        _("Category of %(ref)s changed to %(category)s.")
        % {"ref": incident.reference, "category": incident.category.display_name},
    )
    return redirect("incidents:detail", pk=incident.pk)


@login_required
@require_GET
def incident_presence(request: HttpRequest, pk: int) -> HttpResponse:
    """Polled by the incident page: refresh my presence and list the others (htmx partial)."""
    incident = incident_get_for_user(request.user, pk=pk)
    viewers = presence_touch(incident_id=incident.pk, user=request.user)
    return render(request, "incidents/_presence.html", {"viewers": viewers, "incident": incident})


@login_required
@require_POST
def incident_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Run one action on the incident; an illegal, forbidden or stale action shows its error."""
    incident = incident_get_for_user(request.user, pk=pk)
    spec = {a.name: a for a in incident_actions()}.get(action)
    if spec is None:
        raise Http404
    back = HttpResponseRedirect(reverse("incidents:detail", args=[incident.pk]))
    share = None
    if action == "revoke_share":  # a share of this incident, like the incident itself: 404 otherwise
        share_id = request.POST.get("share", "")
        if not share_id.isdigit():
            raise Http404
        share = IncidentShare.objects.select_related("agency", "incident").filter(incident=incident, pk=int(share_id))
        share = share.first()
        if share is None:
            raise Http404
    try:
        require(request.user, spec.permission, incident=incident)
    except ApplicationError as exc:
        _show_error(request, exc)
        return back
    version = request.POST.get("version", "")
    if spec.stale_check and version.isdigit() and int(version) != incident.version:
        messages.error(
            request,
            _("Incident %(ref)s was changed by someone else while you had it open; check it and try again.")
            % {"ref": incident.reference},
        )
        return back
    form = spec.form(request.POST) if spec.form else None
    if form is not None and not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
        return back
    data = form.cleaned_data if form is not None else {}
    user = request.user
    try:
        if action == "verify":
            services.incident_verify(incident=incident, actor=user)
        elif action == "resolve":
            services.incident_resolve(incident=incident, actor=user, note=data["note"])
        elif action == "close":
            services.incident_close(incident=incident, actor=user, note=data["note"])
        elif action == "reopen":
            services.incident_reopen(incident=incident, actor=user, note=data["reason"])
        elif action == "false_alarm":
            services.incident_mark_false_alarm(incident=incident, actor=user, reason=data["note"])
        elif action == "cancel":
            services.incident_cancel(incident=incident, actor=user, reason=data["reason"])
        elif action == "merge":
            into = incident_get_for_user(user, reference=data["into"].strip().upper())
            services.incident_merge(incident=incident, into=into, actor=user, note=data["note"])
        elif action == "note":
            services.incident_add_note(incident=incident, actor=user, note=data["note"])
        elif action == "share":
            acl.require_share(user, incident, data["agency"])
            dispatch_services.incident_share(
                incident=incident, agency=data["agency"], level=data["level"], actor=user, expires_at=data["expires_at"]
            )
        elif action == "revoke_share":
            acl.require_share_manageable(user, share)
            dispatch_services.incident_share_revoke(share=share, actor=user)
        elif action == "assist":
            agency = acl.assisting_agency(user, incident)
            dispatch_services.incident_assist_join(incident=incident, agency=agency, actor=user, note=data["note"])
    except Http404:
        messages.error(request, _("No open incident with that reference number."))
    except ApplicationError as exc:
        _show_error(request, exc)
    else:
        messages.success(request, _("%(action)s: done.") % {"action": spec.label})
    return back


# ------------------------------------------------------------------------------------------------
# Map
# ------------------------------------------------------------------------------------------------
def _map_points(user) -> list[dict]:
    rows = (
        incident_list_for_user(user)
        .filter(status__in=Incident.OPEN_STATUSES, latitude__isnull=False, longitude__isnull=False)
        .select_related("category", "district")
        .order_by("priority", "received_at")[:1000]
    )
    now = timezone.now()
    points = []
    for incident in rows:
        clock = current_clock(incident)
        points.append(
            {
                "id": incident.pk,
                "reference": incident.reference,
                "lat": float(incident.latitude),
                "lon": float(incident.longitude),
                "priority": incident.priority,
                "status": incident.get_status_display(),
                "category": incident.category.display_name,
                "district": incident.district.name if incident.district else "",
                "sla": clock.state(now),
                "sla_label": str(clock.state_label),
                "url": reverse("incidents:detail", args=[incident.pk]),
            }
        )
    return points


@login_required
@require_GET
def incident_map(request: HttpRequest) -> HttpResponse:
    _screen(request, "map")
    context = {
        "points": _map_points(request.user),
        "tile_url": settings.MAP_TILE_URL,
        "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
        "center": list(settings.MAP_CENTER),
    }
    return render(request, "incidents/map.html", context)


@login_required
@require_GET
def incident_map_data(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"points": _map_points(request.user)})


# ------------------------------------------------------------------------------------------------
# Notifications
# ------------------------------------------------------------------------------------------------
@login_required
@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    _screen(request, "notifications")
    from semarang112.console.notifications import notification_list, notifications_available

    return render(
        request,
        "incidents/notifications.html",
        {"items": notification_list(request.user), "available": notifications_available()},
    )


@login_required
@require_GET
def notifications_badge(request: HttpRequest) -> HttpResponse:
    return render(request, "incidents/_notifications_badge.html", {"wrap": True})


@login_required
@require_POST
def notifications_mark_read(request: HttpRequest) -> HttpResponse:
    from semarang112.console.notifications import notifications_mark_read as mark

    ids = [int(pk) for pk in request.POST.getlist("ids") if pk.isdigit()]
    count = mark(request.user, ids=ids or None)  # only the user's own notifications
    messages.success(request, _("%(count)s notifications marked as read.") % {"count": count})
    return redirect("incidents:notifications")
