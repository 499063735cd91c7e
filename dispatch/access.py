"""Who may do what: the one check for every action, for staff users and integration clients.

``access_for`` reads a principal's memberships once (one query, cached on the principal) and
returns an ``Access``; ``require`` / ``allowed_actions`` decide actions on one incident or
assignment from it. Which incidents a principal may *see* is decided in SQL by
``incidents.selectors.incident_list_for_user``, built on the same ``Access``.

A principal is a Django user, or an authenticated integration client: any object with
``is_authenticated`` and an ``api_client`` attribute carrying ``agency_id`` and ``scopes``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from semarang112.exceptions import ApplicationError, Forbidden

from .models import (
    COMMAND_CENTER_ROLES,
    Agency,
    Assignment,
    IncidentGroupObjectPermission,
    IncidentShare,
    Membership,
    Role,
)

# ------------------------------------------------------------------------------------------------
# Actions
# ------------------------------------------------------------------------------------------------
INCIDENT_CREATE = "incident.create"
INCIDENT_UPDATE = "incident.update"
INCIDENT_VERIFY = "incident.verify"
INCIDENT_DISPATCH = "incident.dispatch"
INCIDENT_MERGE = "incident.merge"
INCIDENT_RESOLVE = "incident.resolve"
INCIDENT_CLOSE = "incident.close"
INCIDENT_REOPEN = "incident.reopen"
INCIDENT_CANCEL = "incident.cancel"
INCIDENT_FALSE_ALARM = "incident.false_alarm"
INCIDENT_NOTE = "incident.note"
INCIDENT_SHARE = "incident.share"
INCIDENT_SELF_DISPATCH = "incident.self_dispatch"  # an assisting agency adds its own assignment
CALL_CREATE = "call.create"
CALL_READ = "call.read"
ASSIGNMENT_ACKNOWLEDGE = "assignment.acknowledge"
ASSIGNMENT_EN_ROUTE = "assignment.en_route"
ASSIGNMENT_ON_SCENE = "assignment.on_scene"
ASSIGNMENT_COMPLETE = "assignment.complete"
ASSIGNMENT_DECLINE = "assignment.decline"
ASSIGNMENT_CANCEL = "assignment.cancel"
ASSIGNMENT_ASSIGN_RESOURCE = "assignment.assign_resource"  # put a unit or volunteer on it
UNIT_UPDATE = "unit.update"
VOLUNTEER_UPDATE = "volunteer.update"
REPORT_READ = "report.read"

ASSIGNMENT_STEPS = frozenset(
    {ASSIGNMENT_ACKNOWLEDGE, ASSIGNMENT_EN_ROUTE, ASSIGNMENT_ON_SCENE, ASSIGNMENT_COMPLETE, ASSIGNMENT_DECLINE}
)
# Working an assignment: its steps, and (except for field officers) choosing who goes.
ASSIGNMENT_WORK = ASSIGNMENT_STEPS | {ASSIGNMENT_ASSIGN_RESOURCE}

_CALL_TAKER = frozenset(
    {
        INCIDENT_CREATE,
        INCIDENT_UPDATE,
        INCIDENT_VERIFY,
        INCIDENT_NOTE,
        INCIDENT_CANCEL,
        INCIDENT_FALSE_ALARM,
        CALL_CREATE,
        CALL_READ,
    }
)
_DISPATCHER = _CALL_TAKER | {INCIDENT_DISPATCH, INCIDENT_MERGE, INCIDENT_RESOLVE, INCIDENT_SHARE, ASSIGNMENT_CANCEL}
_SUPERVISOR = _DISPATCHER | {INCIDENT_CLOSE, INCIDENT_REOPEN, REPORT_READ} | ASSIGNMENT_WORK  # steps = override

# Actions on incidents of the principal's region, per command-center role.
COMMAND_CENTER_ACTIONS: dict[str, frozenset[str]] = {
    Role.CALL_TAKER: _CALL_TAKER,
    Role.DISPATCHER: _DISPATCHER,
    Role.SUPERVISOR: _SUPERVISOR,
}
# Actions on the agency's own assignments (and notes on incidents the agency works on).
AGENCY_ACTIONS: dict[str, frozenset[str]] = {
    Role.AGENCY_STAFF: ASSIGNMENT_WORK | {INCIDENT_NOTE},
    Role.AGENCY_SUPERVISOR: ASSIGNMENT_WORK | {INCIDENT_NOTE, UNIT_UPDATE, VOLUNTEER_UPDATE, REPORT_READ},
    Role.FIELD_OFFICER: ASSIGNMENT_STEPS,  # only on assignments of the officer's unit
    Role.VOLUNTEER_COORDINATOR: ASSIGNMENT_WORK | {INCIDENT_NOTE, VOLUNTEER_UPDATE},
}
AGENCY_ROLES = frozenset(AGENCY_ACTIONS)

# Integration client scopes.
SCOPE_INCIDENTS_CREATE = "incidents:create"
SCOPE_INCIDENTS_READ = "incidents:read"
SCOPE_INCIDENTS_WRITE = "incidents:write"
SCOPE_ASSIGNMENTS_WRITE = "assignments:write"
SCOPE_REPORTS_READ = "reports:read"
ALL_SCOPES = (
    SCOPE_INCIDENTS_CREATE,
    SCOPE_INCIDENTS_READ,
    SCOPE_INCIDENTS_WRITE,
    SCOPE_ASSIGNMENTS_WRITE,
    SCOPE_REPORTS_READ,
)
# A client without an agency works like the command center within its scopes; a client of an
# agency works like that agency's staff.
_CLIENT_CC_SCOPE_ACTIONS = {
    SCOPE_INCIDENTS_CREATE: frozenset({INCIDENT_CREATE, CALL_CREATE}),
    SCOPE_INCIDENTS_READ: frozenset({CALL_READ}),
    SCOPE_INCIDENTS_WRITE: _DISPATCHER - {INCIDENT_SHARE},
    SCOPE_ASSIGNMENTS_WRITE: ASSIGNMENT_WORK | {ASSIGNMENT_CANCEL},
    SCOPE_REPORTS_READ: frozenset({REPORT_READ}),
}
_CLIENT_AGENCY_SCOPE_ACTIONS = {
    SCOPE_INCIDENTS_CREATE: frozenset({INCIDENT_CREATE, CALL_CREATE}),
    SCOPE_INCIDENTS_READ: frozenset(),
    SCOPE_INCIDENTS_WRITE: frozenset({INCIDENT_NOTE}),
    SCOPE_ASSIGNMENTS_WRITE: ASSIGNMENT_WORK,
    SCOPE_REPORTS_READ: frozenset({REPORT_READ}),
}


@dataclass(frozen=True)
class Access:
    """What one principal is, in terms the checks need. Built once per request."""

    authenticated: bool = False
    is_superuser: bool = False
    # Command center: roles held, and the regions they cover (all_regions for a national center).
    cc_roles: frozenset[str] = frozenset()
    cc_region_ids: frozenset[int] = frozenset()
    cc_all_regions: bool = False
    # Agencies (OPD, police, partners, communities) and the roles held in each.
    agency_roles: dict[int, frozenset[str]] = field(default_factory=dict)
    # Field officers: the units they ride with.
    unit_ids: frozenset[int] = frozenset()
    reads_everything: bool = False  # auditors and administrators
    is_auditor: bool = False
    is_administrator: bool = False
    # Integration clients only.
    is_api_client: bool = False
    scopes: frozenset[str] | None = None
    client_agency_id: int | None = None

    @property
    def agency_ids(self) -> frozenset[int]:
        """Agencies whose assigned and shared incidents this principal sees."""
        return frozenset(pk for pk, roles in self.agency_roles.items() if roles - {Role.FIELD_OFFICER})

    @property
    def field_agency_ids(self) -> frozenset[int]:
        return frozenset(pk for pk, roles in self.agency_roles.items() if Role.FIELD_OFFICER in roles)

    @property
    def is_command_center(self) -> bool:
        return bool(self.cc_roles) and (self.cc_all_regions or bool(self.cc_region_ids))

    @property
    def sees_everything(self) -> bool:
        return self.is_superuser or self.reads_everything or (self.is_command_center and self.cc_all_regions)

    @property
    def can_see_personal_data(self) -> bool:
        """Principal-level ceiling; per incident, agency roles also need an assignment there."""
        if self.is_superuser or self.is_command_center:
            return True
        if self.is_auditor:
            return settings.AUDITOR_SEES_PERSONAL_DATA
        if self.is_api_client:
            return self.scopes is not None and SCOPE_INCIDENTS_READ in self.scopes
        return bool(self.agency_roles)

    def cc_actions(self) -> frozenset[str]:
        actions: set[str] = set()
        for role in self.cc_roles:
            actions |= COMMAND_CENTER_ACTIONS.get(role, frozenset())
        return frozenset(actions)

    def covers_region(self, region_id: int) -> bool:
        return self.cc_all_regions or region_id in self.cc_region_ids


ANONYMOUS = Access()


def access_for(principal) -> Access:
    """The principal's Access, computed once and cached on the principal object."""
    if principal is None or not getattr(principal, "is_authenticated", False):
        return ANONYMOUS
    cached = getattr(principal, "_semarang112_access", None)
    if cached is not None:
        return cached
    client = getattr(principal, "api_client", None)
    access = _client_access(client) if client is not None else _user_access(principal)
    try:
        principal._semarang112_access = access
    except AttributeError:  # pragma: no cover - immutable principal objects
        pass
    return access


def _user_access(user) -> Access:
    if not user.is_active:
        return ANONYMOUS
    cc_roles: set[str] = set()
    cc_regions: set[int] = set()
    cc_all = False
    agency_roles: dict[int, set[str]] = {}
    unit_ids: set[int] = set()
    reads_everything = is_auditor = is_administrator = False
    rows = Membership.objects.filter(user=user, is_active=True, agency__is_active=True).values_list(
        "role", "agency_id", "agency__kind", "agency__region_id", "unit_id", "unit__agency_id"
    )
    for role, agency_id, kind, region_id, unit_id, unit_agency_id in rows:
        if role in (Role.AUDITOR, Role.ADMINISTRATOR):
            reads_everything = True
            is_auditor = is_auditor or role == Role.AUDITOR
            is_administrator = is_administrator or role == Role.ADMINISTRATOR
        elif role in COMMAND_CENTER_ROLES and kind == Agency.Kind.COMMAND_CENTER:
            cc_roles.add(role)
            if region_id is None:
                cc_all = True
            else:
                cc_regions.add(region_id)
        elif role in AGENCY_ROLES:
            agency_roles.setdefault(agency_id, set()).add(role)
            # Only a unit of the membership's own agency counts: a membership pointing at another
            # agency's unit must not open that agency's assignments.
            if role == Role.FIELD_OFFICER and unit_id is not None and unit_agency_id == agency_id:
                unit_ids.add(unit_id)
    return Access(
        authenticated=True,
        is_superuser=user.is_superuser,
        cc_roles=frozenset(cc_roles),
        cc_region_ids=frozenset(cc_regions),
        cc_all_regions=cc_all,
        agency_roles={pk: frozenset(roles) for pk, roles in agency_roles.items()},
        unit_ids=frozenset(unit_ids),
        reads_everything=reads_everything,
        is_auditor=is_auditor,
        is_administrator=is_administrator,
    )


def _client_access(client) -> Access:
    if not getattr(client, "is_active", True):
        return ANONYMOUS
    scopes = frozenset(client.scopes or ())
    reads = SCOPE_INCIDENTS_READ in scopes
    if client.agency_id is None:
        return Access(
            authenticated=True,
            is_api_client=True,
            scopes=scopes,
            reads_everything=reads,
        )
    return Access(
        authenticated=True,
        is_api_client=True,
        scopes=scopes,
        client_agency_id=client.agency_id,
        agency_roles={client.agency_id: frozenset({Role.AGENCY_STAFF})} if reads else {},
    )


# ------------------------------------------------------------------------------------------------
# Action checks
# ------------------------------------------------------------------------------------------------
def _client_actions(access: Access) -> frozenset[str]:
    table = _CLIENT_CC_SCOPE_ACTIONS if access.client_agency_id is None else _CLIENT_AGENCY_SCOPE_ACTIONS
    actions: set[str] = set()
    for scope in access.scopes or ():
        actions |= table.get(scope, frozenset())
    return frozenset(actions)


def _agency_actions_on(access: Access, assignment: Assignment) -> frozenset[str]:
    """Actions the principal's agency roles allow on one assignment."""
    roles = access.agency_roles.get(assignment.agency_id, frozenset())
    actions: set[str] = set()
    for role in roles:
        if role == Role.FIELD_OFFICER and assignment.unit_id not in access.unit_ids:
            continue
        actions |= AGENCY_ACTIONS[role]
    return frozenset(actions)


def allowed_actions(principal, incident=None, assignment=None) -> set[str]:
    """Every action the principal may take on this incident / assignment (or globally, with neither).

    Assumes the incident is visible to the principal (callers fetch it through the selector).
    On an incident (without an assignment) this costs at most two small queries for agency
    principals (their assignments and live share grants there); otherwise none.
    """
    access = access_for(principal)
    if not access.authenticated:
        return set()
    if access.is_api_client:
        return _client_actions_on(access, incident, assignment)
    if access.is_superuser:
        return set(COMMAND_CENTER_ACTIONS[Role.SUPERVISOR]) | {UNIT_UPDATE, VOLUNTEER_UPDATE}
    actions: set[str] = set()
    if access.reads_everything:
        actions |= {REPORT_READ, CALL_READ}
    if access.is_command_center:
        if incident is None or access.covers_region(incident.region_id):
            actions |= access.cc_actions()
    if assignment is not None:
        actions |= _agency_actions_on(access, assignment)
    elif incident is None:
        for roles in access.agency_roles.values():
            for role in roles:
                actions |= AGENCY_ACTIONS[role] - ASSIGNMENT_WORK
    else:
        actions |= _agency_incident_actions(access, incident)
    if incident is not None and assignment is None:
        actions -= ASSIGNMENT_WORK  # steps are always checked against a concrete assignment
    return actions


def _agency_incident_actions(access: Access, incident) -> set[str]:
    """What the principal's agencies may do on an incident: notes where they work on it or assist,
    joining with their own assignment on an assist share, sharing onwards for agency supervisors
    of an agency the command center dispatched (never for one that has it only through a share)."""
    if not access.agency_ids:
        return set()
    assigned = _assigned_agencies(access, incident)
    assisting = {pk for pk, level in share_levels(access.agency_ids, incident).items() if level == "assist"}
    actions: set[str] = set()
    if assigned or assisting:
        actions.add(INCIDENT_NOTE)
    if assisting:
        actions.add(INCIDENT_SELF_DISPATCH)
    dispatched = {pk for pk, by_command_center in assigned.items() if by_command_center}
    if any(Role.AGENCY_SUPERVISOR in access.agency_roles.get(pk, ()) for pk in dispatched):
        actions.add(INCIDENT_SHARE)
    return actions


def _client_actions_on(access: Access, incident, assignment) -> set[str]:
    """An integration client: its scopes, and for a client of an agency, that agency's part only."""
    actions = set(_client_actions(access))
    if access.client_agency_id is None:
        return actions
    if assignment is not None:
        if assignment.agency_id != access.client_agency_id:
            actions -= ASSIGNMENT_WORK
        return actions
    if incident is not None:
        # Like its agency's staff: notes only where the agency works on or assists with the
        # incident (never on a view share), and joining only on an assist share.
        actions -= ASSIGNMENT_WORK | {INCIDENT_NOTE}
        scopes = access.scopes or frozenset()
        agency = frozenset({access.client_agency_id})
        assigned = bool(_assigned_agencies(access, incident, agency_ids=agency))
        assisting = share_levels(agency, incident).get(access.client_agency_id) == "assist"
        if (assigned or assisting) and SCOPE_INCIDENTS_WRITE in scopes:
            actions.add(INCIDENT_NOTE)
        if assisting and SCOPE_ASSIGNMENTS_WRITE in scopes:
            actions.add(INCIDENT_SELF_DISPATCH)
    return actions


def require(principal, action: str, *, incident=None, assignment=None) -> None:
    """Raise Forbidden (HTTP 403, code "forbidden") unless the action is allowed.

    Call only after the incident was fetched through the visibility selector: an invisible
    incident must already have produced a 404.
    """
    if incident is None and assignment is not None:
        incident = assignment.incident
    if action not in allowed_actions(principal, incident, assignment):
        raise Forbidden(
            _("You are not allowed to do this (%(action)s).") % {"action": action},
            extra={"action": action},
        )


def require_scope(principal, scope: str) -> None:
    """Integration clients must hold ``scope`` (403 ``insufficient_scope``); staff pass through."""
    access = access_for(principal)
    if access.is_api_client and scope not in (access.scopes or ()):
        raise Forbidden(
            _("This client lacks the scope %(scope)s.") % {"scope": scope},
            code="insufficient_scope",
            extra={"scope": scope},
        )


def require_any_agency(principal, agency_ids: Iterable[int], action: str) -> None:
    """For agency-level resources (units, volunteers): the principal must hold ``action`` there."""
    access = access_for(principal)
    if access.is_superuser:
        return
    wanted = set(agency_ids)
    for agency_id, roles in access.agency_roles.items():
        if agency_id in wanted and any(action in AGENCY_ACTIONS[role] for role in roles):
            return
    if access.is_api_client and access.client_agency_id in wanted and SCOPE_ASSIGNMENTS_WRITE in (access.scopes or ()):
        return
    raise Forbidden(_("You are not allowed to do this (%(action)s).") % {"action": action}, extra={"action": action})


# ------------------------------------------------------------------------------------------------
# Shares: django-guardian group grants on the incident, one per agency and level
# ------------------------------------------------------------------------------------------------
SHARE_CODENAMES = {
    IncidentShare.Level.VIEW: ("view_incident",),
    IncidentShare.Level.ASSIST: ("view_incident", "assist_incident"),
}


def live_share_grants(agency_ids: Iterable[int], *, at=None) -> QuerySet[IncidentGroupObjectPermission]:
    """The guardian grants (direct-FK ``IncidentGroupObjectPermission`` rows) that shares gave to
    these agencies' groups, minus those whose share is past its expiry.

    A share's grant is removed when it is revoked, and by ``shares_expire`` (every minute) once it
    expires; until that task runs, the share's ``expires_at`` hides the grant here already. Group
    rows, not user rows: a new member of the agency sees its shared incidents at once, and a
    membership change writes no per-incident row. Who is in the agency comes from the
    memberships (roles included), not from ``auth_user_groups``.
    """
    at = at or timezone.now()
    expired = IncidentShare.objects.filter(
        incident_id=OuterRef("content_object_id"),
        agency__group=OuterRef("group_id"),
        revoked_at__isnull=True,
        expires_at__lte=at,
    )
    return IncidentGroupObjectPermission.objects.filter(
        group_id__in=Agency.objects.filter(pk__in=list(agency_ids), group__isnull=False).values("group_id"),
        permission__content_type__app_label="incidents",
        permission__content_type__model="incident",
        permission__codename__in=("view_incident", "assist_incident"),
    ).filter(~Exists(expired))


def share_levels(agency_ids: Iterable[int], incident) -> dict[int, str]:
    """{agency id: "view" | "assist"} for these agencies' live shares of the incident (one query)."""
    agency_ids = list(agency_ids)
    if not agency_ids:
        return {}
    levels: dict[int, str] = {}
    rows = (
        live_share_grants(agency_ids)
        .filter(content_object_id=incident.pk)
        .values_list("group__agency__id", "permission__codename")
    )
    for agency_id, codename in rows:
        if codename == "assist_incident":
            levels[agency_id] = IncidentShare.Level.ASSIST
        else:
            levels.setdefault(agency_id, IncidentShare.Level.VIEW)
    return levels


def assisting_agency(principal, incident, agency: Agency | None = None) -> Agency:
    """The principal's agency that joins the incident through its assist share.

    ``agency`` names it (needed only when several of the principal's agencies assist); naming an
    agency the principal does not act for is 403, one without a live assist share 400.
    """
    access = access_for(principal)
    own = {access.client_agency_id} if access.is_api_client else set(access.agency_ids)
    own.discard(None)
    assisting = sorted(pk for pk, level in share_levels(own, incident).items() if level == IncidentShare.Level.ASSIST)
    if agency is not None:
        if agency.pk not in own:
            raise Forbidden(
                _("You do not act for %(agency)s (%(action)s).")
                % {"agency": agency.name, "action": INCIDENT_SELF_DISPATCH},
                extra={"action": INCIDENT_SELF_DISPATCH, "field": "agency"},
            )
        if agency.pk not in assisting:
            raise ApplicationError(
                _("%(agency)s has no live assist share of this incident.") % {"agency": agency.name},
                code="no_assist_share",
                extra={"field": "agency"},
            )
        return agency
    if len(assisting) != 1:
        raise ApplicationError(
            _("Several of your agencies assist on this incident: name the one that joins."),
            code="agency_required",
            extra={"field": "agency"},
        )
    return Agency.objects.get(pk=assisting[0])


def share_manageable(principal, share: IncidentShare) -> bool:
    """May the principal revoke (or replace) this share? The command center of the incident's
    region may revoke any; an agency supervisor only the shares granted by members of the
    agencies they supervise."""
    access = access_for(principal)
    if access.is_superuser:
        return True
    if access.is_api_client:
        return False
    if INCIDENT_SHARE in access.cc_actions() and access.covers_region(share.incident.region_id):
        return True
    supervised = [pk for pk, roles in access.agency_roles.items() if Role.AGENCY_SUPERVISOR in roles]
    if not supervised or share.granted_by_id is None:
        return False
    return Membership.objects.filter(user_id=share.granted_by_id, agency_id__in=supervised, is_active=True).exists()


def require_share_manageable(principal, share: IncidentShare) -> None:
    """Revoking: ``incident.share`` on the incident, and this share must be the principal's to manage."""
    require(principal, INCIDENT_SHARE, incident=share.incident)
    if not share_manageable(principal, share):
        raise Forbidden(
            _("Only the command center or the agency that granted this share may change it (%(action)s).")
            % {"action": INCIDENT_SHARE},
            extra={"action": INCIDENT_SHARE},
        )


def require_share(principal, incident, agency: Agency) -> None:
    """Granting: ``incident.share`` on the incident; replacing a live share of that agency also
    needs the right to manage it (an agency supervisor cannot downgrade the command center's)."""
    require(principal, INCIDENT_SHARE, incident=incident)
    live = IncidentShare.objects.active().filter(incident=incident, agency=agency).select_related("incident").first()
    if live is not None:
        require_share_manageable(principal, live)


def _has_assignment(access: Access, incident) -> bool:
    """Has the principal's agency (or, for a field officer, unit) been assigned to the incident?"""
    if not access.agency_ids and not access.unit_ids:
        return False
    return Assignment.objects.filter(
        Q(agency_id__in=access.agency_ids) | Q(unit_id__in=access.unit_ids), incident=incident
    ).exists()


def _assigned_agencies(access: Access, incident, *, agency_ids: frozenset[int] | None = None) -> dict[int, bool]:
    """{agency id: dispatched by the command center} for the agencies with (past or present)
    assignments on the incident; False when every one of them joined through a share."""
    agency_ids = access.agency_ids if agency_ids is None else agency_ids
    if not agency_ids:
        return {}
    result: dict[int, bool] = {}
    rows = Assignment.objects.filter(incident=incident, agency_id__in=agency_ids).values_list(
        "agency_id", "via_share_id"
    )
    for agency_id, via_share_id in rows:
        result[agency_id] = result.get(agency_id, False) or via_share_id is None
    return result


def personal_data_visible(principal, incident) -> bool:
    """May this principal see the caller's name and number (and medical notes) of this incident?

    Command center and superusers always; auditors when AUDITOR_SEES_PERSONAL_DATA; agency
    principals only where their agency has (or had) an assignment — a view share never shows
    personal data. Uses the ``pii_visible`` annotation of the selector when present (no query).
    """
    annotated = getattr(incident, "pii_visible", None)
    if annotated is not None:
        return bool(annotated)
    access = access_for(principal)
    if access.is_superuser or (access.is_command_center and access.covers_region(incident.region_id)):
        return True
    if access.is_auditor or (access.reads_everything and not access.is_api_client):
        return settings.AUDITOR_SEES_PERSONAL_DATA
    if access.is_api_client and access.client_agency_id is None:
        return access.reads_everything
    return _has_assignment(access, incident)
