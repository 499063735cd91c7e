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
from django.db.models import Q
from django.utils.translation import gettext as _

from semarang112.exceptions import Forbidden

from .models import COMMAND_CENTER_ROLES, Agency, Assignment, Membership, Role

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
    reads_everything = is_auditor = False
    rows = Membership.objects.filter(user=user, is_active=True, agency__is_active=True).values_list(
        "role", "agency_id", "agency__kind", "agency__region_id", "unit_id"
    )
    for role, agency_id, kind, region_id, unit_id in rows:
        if role in (Role.AUDITOR, Role.ADMINISTRATOR):
            reads_everything = True
            is_auditor = is_auditor or role == Role.AUDITOR
        elif role in COMMAND_CENTER_ROLES and kind == Agency.Kind.COMMAND_CENTER:
            cc_roles.add(role)
            if region_id is None:
                cc_all = True
            else:
                cc_regions.add(region_id)
        elif role in AGENCY_ROLES:
            agency_roles.setdefault(agency_id, set()).add(role)
            if role == Role.FIELD_OFFICER and unit_id is not None:
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
    """
    access = access_for(principal)
    if not access.authenticated:
        return set()
    if access.is_api_client:
        actions = set(_client_actions(access))
        if access.client_agency_id is not None:
            if assignment is not None and assignment.agency_id != access.client_agency_id:
                actions -= ASSIGNMENT_WORK
        return actions
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
        shared_level = _share_level(access, incident)
        assigned_agencies = _assigned_agencies(access, incident)
        if assigned_agencies or shared_level == "assist":
            actions.add(INCIDENT_NOTE)
        if shared_level == "assist":
            actions.add(INCIDENT_SELF_DISPATCH)
        # An agency supervisor whose agency works the incident may share it onwards; an agency
        # that sees it only through a share may not.
        if any(Role.AGENCY_SUPERVISOR in access.agency_roles.get(pk, ()) for pk in assigned_agencies):
            actions.add(INCIDENT_SHARE)
    if incident is not None and assignment is None:
        actions -= ASSIGNMENT_WORK  # steps are always checked against a concrete assignment
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


def _has_assignment(access: Access, incident) -> bool:
    """Has the principal's agency (or, for a field officer, unit) been assigned to the incident?"""
    if not access.agency_ids and not access.unit_ids:
        return False
    return Assignment.objects.filter(
        Q(agency_id__in=access.agency_ids) | Q(unit_id__in=access.unit_ids), incident=incident
    ).exists()


def _assigned_agencies(access: Access, incident) -> set[int]:
    if not access.agency_ids:
        return set()
    return set(
        Assignment.objects.filter(incident=incident, agency_id__in=access.agency_ids).values_list(
            "agency_id", flat=True
        )
    )


def _share_level(access: Access, incident) -> str | None:
    from .models import IncidentShare

    if not access.agency_ids:
        return None
    shares = IncidentShare.objects.active().filter(incident=incident, agency_id__in=access.agency_ids)
    levels = set(shares.values_list("level", flat=True))
    if IncidentShare.Level.ASSIST in levels:
        return "assist"
    return "view" if levels else None


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
