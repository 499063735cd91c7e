"""One world for the authorization matrices, built once per test module through the services.

``world`` holds every principal of the issue and, for each *subject* agency (the agency a
principal acts for: the fire service ``damkar`` for agency roles and clients, the volunteer
community ``pmi`` for its coordinator), one incident per relationship to that agency:

    own       dispatched to the subject agency (damkar's assignment carries unit A, the
              field officer's unit)
    guessed   the incident whose reference number follows ``own``'s (what someone reading
              ``own``'s reference would try next) — dispatched to Satpol PP only
    view      dispatched to Satpol PP, shared with the subject agency at ``view`` level
    assist    dispatched to Satpol PP, shared with the subject agency at ``assist`` level
    revoked   as ``assist``, then the share was revoked
    expired   as ``assist`` with an expiry that has passed (``shares_expire`` not run yet, so
              the guardian grant is still there: the expiry alone must hide it)
    other     dispatched to BPBD only (another agency's incident)
    missing   an id / reference that does not exist

Every incident is in Kota Semarang; a second region with its own command center sees none of
them. Each incident also has a view share to Dinas Sosial granted by the dispatcher (something
to list and to try to revoke), and each relationship names the assignment that endpoints on
assignments use: the subject agency's own on ``own``, Satpol PP's / BPBD's elsewhere.

The world lives inside one transaction opened for the module and rolled back at its end; each
test adds a savepoint (pytest-django's ``db``) and matrix requests run in savepoints of their own,
so no request sees another's writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch import services as dispatch_services
from dispatch.access import ALL_SCOPES, SCOPE_INCIDENTS_READ
from dispatch.models import Agency, Assignment, FieldUnit, IncidentShare, Role
from incidents import services
from incidents.models import Category, District, Incident, Region, Village
from semarang112.api import services as api_services
from semarang112.api.models import ApiClient
from tests.conftest import _seed_snapshot
from tests.factories import AgencyFactory, MembershipFactory, RegionFactory, UserFactory

MISSING_ID = 987_654_321

RELATIONS = ["own", "guessed", "view", "assist", "revoked", "expired", "other", "missing"]

#: Principal → the agency its relationships are about.
SUBJECT = {"volunteer_coordinator": "pmi"}  # everyone else: damkar

STAFF_ROLES = [
    "call_taker",
    "dispatcher",
    "supervisor",
    "other_region_dispatcher",
    "agency_staff",
    "agency_supervisor",
    "field_officer",
    "field_officer_other_unit",
    "volunteer_coordinator",
    "auditor",
    "administrator",
]
CLIENT_ROLES = ["client_agency", "client_no_agency", "client_no_read"]
ROLES = [*STAFF_ROLES, "anonymous", *CLIENT_ROLES]


@dataclass
class Case:
    """One incident in a relationship to a subject agency, with the ids the endpoints take."""

    incident_id: int
    reference: str
    assignment_id: int
    share_id: int  # a share of this incident (to revoke)


@dataclass
class World:
    users: dict[str, object]
    tokens: dict[str, str] = field(default_factory=dict)  # role → "Token …" / "Api-Key …"
    cases: dict[tuple[str, str], Case] = field(default_factory=dict)  # (subject code, relation) → Case
    agencies: dict[str, Agency] = field(default_factory=dict)
    units: dict[str, FieldUnit] = field(default_factory=dict)
    other_region: Region | None = None
    call_id: int | None = None  # a call of Kota Semarang, attached to damkar's "own" incident

    def case(self, role: str, relation: str) -> Case:
        return self.cases[(SUBJECT.get(role, "damkar"), relation)]

    def api(self, role: str) -> APIClient:
        client = APIClient()
        if role in self.tokens:
            client.credentials(HTTP_AUTHORIZATION=self.tokens[role])
        return client

    def web(self, role: str) -> Client:
        client = Client()
        if role in self.users:
            client.force_login(self.users[role])
        return client


def _next_reference(reference: str) -> str:
    """SMG-250326-0042 → SMG-250326-0043: the guess of someone who has read one reference number."""
    prefix, _, sequence = reference.rpartition("-")
    return f"{prefix}-{int(sequence) + 1:0{len(sequence)}d}"


def build_world() -> World:
    _seed_snapshot.load()
    agency = {a.code: a for a in Agency.objects.all()}
    other_region = RegionFactory(code="3324", name="Kabupaten Kendal", reference_prefix="KDL")
    other_cc = AgencyFactory(code="cc112-kendal", kind=Agency.Kind.COMMAND_CENTER, region=other_region)
    unit_a = FieldUnit.objects.create(agency=agency["damkar"], code="DMK-A", name="Pemadam A")
    unit_b = FieldUnit.objects.create(agency=agency["damkar"], code="DMK-B", name="Pemadam B")

    def member(username: str, agency_code: str | Agency, role: str, **kwargs):
        target = agency_code if isinstance(agency_code, Agency) else agency[agency_code]
        user = UserFactory(username=username)
        MembershipFactory(user=user, agency=target, role=role, **kwargs)
        return user

    users = {
        "call_taker": member("perm-operator", "cc112", Role.CALL_TAKER),
        "dispatcher": member("perm-dispatcher", "cc112", Role.DISPATCHER),
        "supervisor": member("perm-supervisor", "cc112", Role.SUPERVISOR),
        "other_region_dispatcher": member("perm-kendal-dispatcher", other_cc, Role.DISPATCHER),
        "agency_staff": member("perm-damkar-staff", "damkar", Role.AGENCY_STAFF),
        "agency_supervisor": member("perm-damkar-spv", "damkar", Role.AGENCY_SUPERVISOR),
        "field_officer": member("perm-damkar-field-a", "damkar", Role.FIELD_OFFICER, unit=unit_a),
        "field_officer_other_unit": member("perm-damkar-field-b", "damkar", Role.FIELD_OFFICER, unit=unit_b),
        "volunteer_coordinator": member("perm-pmi-coordinator", "pmi", Role.VOLUNTEER_COORDINATOR),
        "auditor": member("perm-auditor", "cc112", Role.AUDITOR),
        "administrator": member("perm-admin", "cc112", Role.ADMINISTRATOR),
    }
    world = World(users=users, agencies=agency, units={"a": unit_a, "b": unit_b}, other_region=other_region)
    for role, user in users.items():
        _token, raw = api_services.staff_token_create(user=user, name="matrix")
        world.tokens[role] = f"Token {raw}"
    clients = {
        "client_agency": (agency["damkar"], ALL_SCOPES),
        "client_no_agency": (None, ALL_SCOPES),
        "client_no_read": (None, [scope for scope in ALL_SCOPES if scope != SCOPE_INCIDENTS_READ]),
    }
    for role, (owner, scopes) in clients.items():
        api_client = ApiClient.objects.create(name=f"matrix-{role}", agency=owner, scopes=list(scopes))
        _key, raw = api_services.api_key_create(client=api_client)
        world.tokens[role] = f"Api-Key {raw}"

    dispatcher, operator = users["dispatcher"], users["call_taker"]
    region = services.default_region()
    fire = Category.objects.get(code="fire")
    candisari = District.objects.get(region=region, name="Candisari")
    jatingaleh = Village.objects.get(district=candisari, name="Jatingaleh")

    def report() -> Incident:
        return services.incident_create(
            actor=operator,
            region=region,
            category=fire,
            description="Kebakaran gudang.",
            district=candisari,
            village=jatingaleh,
            latitude=Decimal("-7.0245"),
            longitude=Decimal("110.4203"),
            caller_name="Budi Santoso",
            caller_number="0812-3456-7890",
        )

    def dispatched(*codes: str) -> tuple[Incident, list[Assignment]]:
        incident = report()
        assignments = dispatch_services.incident_dispatch(
            incident=incident, agencies=[agency[c] for c in codes], actor=dispatcher
        )
        return incident, assignments

    def share(incident: Incident, code: str, level: str, **kwargs) -> IncidentShare:
        return dispatch_services.incident_share(
            incident=incident, agency=agency[code], level=level, actor=dispatcher, **kwargs
        )

    def bystander_share(incident: Incident) -> int:
        return share(incident, "dinsos", IncidentShare.Level.VIEW).pk

    for subject in ("damkar", "pmi"):
        own, (own_assignment,) = dispatched(subject)
        guessed, (guessed_assignment,) = dispatched("satpol-pp")
        assert guessed.reference == _next_reference(own.reference), (own.reference, guessed.reference)
        if subject == "damkar":
            dispatch_services.assignment_assign_resource(assignment=own_assignment, actor=dispatcher, unit=unit_a)
        world.cases[(subject, "own")] = Case(own.pk, own.reference, own_assignment.pk, bystander_share(own))
        world.cases[(subject, "guessed")] = Case(
            guessed.pk, guessed.reference, guessed_assignment.pk, bystander_share(guessed)
        )
        for relation, level in (("view", "view"), ("assist", "assist"), ("revoked", "assist")):
            incident, (assignment,) = dispatched("satpol-pp")
            granted = share(incident, subject, level)
            if relation == "revoked":
                dispatch_services.incident_share_revoke(share=granted, actor=dispatcher)
            world.cases[(subject, relation)] = Case(incident.pk, incident.reference, assignment.pk, granted.pk)
        with time_machine.travel(timezone.now() - timedelta(hours=2), tick=False):
            incident, (assignment,) = dispatched("satpol-pp")
            granted = share(incident, subject, "assist", expires_at=timezone.now() + timedelta(minutes=30))
        world.cases[(subject, "expired")] = Case(incident.pk, incident.reference, assignment.pk, granted.pk)

    call = services.call_create(actor=operator, region=region, caller_number="0856-1111-2222")
    services.call_attach_to_incident(
        call=call, incident=Incident.objects.get(pk=world.cases[("damkar", "own")].incident_id), actor=operator
    )
    world.call_id = call.pk

    other, (other_assignment,) = dispatched("bpbd")
    other_case = Case(other.pk, other.reference, other_assignment.pk, bystander_share(other))
    missing = Case(MISSING_ID, "SMG-991231-9999", MISSING_ID, MISSING_ID)
    for subject in ("damkar", "pmi"):
        world.cases[(subject, "other")] = other_case
        world.cases[(subject, "missing")] = missing
    return world


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The matrix world, in a transaction kept open for the module and rolled back after it.

    Its reference numbers are taken in that transaction, like every test's (tests/conftest.py),
    and not from the sequence: a module fixture is set up before the function-scoped settings
    fixture, and the tests' own incidents would count again from a base the world never used.
    """
    with django_db_blocker.unblock(), override_settings(REFERENCE_COUNTER_DATABASE=None):
        with transaction.atomic():
            yield build_world()
            transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()  # throttle counters and presence
    yield
    cache.clear()


def in_savepoint(call):
    """Run ``call()`` and undo whatever it wrote, so one matrix cell never changes the next."""
    with transaction.atomic():
        result = call()
        transaction.set_rollback(True)
    return result


@pytest.fixture
def api_as(db):
    """``api_as(user)`` → an APIClient with a real staff token; ``api_as(api_client=...)`` with an API key."""

    def make(user=None, *, api_client: ApiClient | None = None) -> APIClient:
        client = APIClient()
        if api_client is not None:
            _key, raw = api_services.api_key_create(client=api_client)
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        else:
            _token, raw = api_services.staff_token_create(user=user, name="test")
            client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
        return client

    return make


@pytest.fixture
def login():
    """``login(user)`` → a console test client with a session for ``user``."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
