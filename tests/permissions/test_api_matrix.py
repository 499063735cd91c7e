"""The API's authorization matrix (issue #4): every endpoint on one incident and its assignments,
for every role, against incidents in every relationship to the role's agency.

Read the table ``MATRIX`` row by row: for each role and relationship (see tests/permissions/
conftest.py for the world), the set of endpoints the role may use; every other endpoint answers
403 (visible, not allowed), and ``NOT_FOUND`` means every endpoint answers 404 — the same answer
as for an id that does not exist (``missing``), so an agency cannot tell another agency's
incident exists, not even by trying the id of the reference number after its own (``guessed``).

"Allowed" means the request got past authorization: 2xx, or a 400/409 from the service itself
(e.g. closing an incident that is not resolved is 409 ``invalid_transition`` — not a permission
answer). Every request runs in a savepoint that is rolled back, so the cells are independent.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .conftest import RELATIONS, ROLES, in_savepoint

pytestmark = pytest.mark.django_db

API = "/api/v1/"


@dataclass(frozen=True)
class Endpoint:
    key: str
    method: str
    path: str  # {incident}, {assignment}, {share} are filled in from the relationship's case
    body: dict | None = None


OTHER_INCIDENT = "<other>"  # replaced by the id of the "other" incident (a merge target)
UNIT_A = "<unit-a>"

ENDPOINTS = [
    Endpoint("get", "get", "incidents/{incident}/"),
    Endpoint("patch", "patch", "incidents/{incident}/", {"priority": 2}),
    Endpoint("timeline", "get", "incidents/{incident}/timeline/"),
    Endpoint("assignments", "get", "incidents/{incident}/assignments/"),
    Endpoint("verify", "post", "incidents/{incident}/verify/", {}),
    Endpoint("dispatch", "post", "incidents/{incident}/dispatch/", {"agencies": ["dlh"]}),
    Endpoint("resolve", "post", "incidents/{incident}/resolve/", {}),
    Endpoint("close", "post", "incidents/{incident}/close/", {}),
    Endpoint("reopen", "post", "incidents/{incident}/reopen/", {"note": "Api menyala lagi."}),
    Endpoint("cancel", "post", "incidents/{incident}/cancel/", {"reason": "Penelepon membatalkan."}),
    Endpoint("false_alarm", "post", "incidents/{incident}/mark-false-alarm/", {}),
    Endpoint("merge", "post", "incidents/{incident}/merge/", {"into": OTHER_INCIDENT}),
    Endpoint("change_category", "post", "incidents/{incident}/change-category/", {"category": "flood"}),
    Endpoint("notes", "post", "incidents/{incident}/notes/", {"note": "Unit kedua diminta."}),
    Endpoint("shares", "get", "incidents/{incident}/shares/"),
    Endpoint("share", "post", "incidents/{incident}/shares/", {"agency": "basarnas", "level": "view"}),
    Endpoint("revoke", "post", "incidents/{incident}/shares/{share}/revoke/", {}),
    Endpoint("assist", "post", "incidents/{incident}/assist/", {"note": "Dua ambulans PMI."}),
    Endpoint("assignment", "get", "assignments/{assignment}/"),
    Endpoint("acknowledge", "post", "assignments/{assignment}/acknowledge/", {}),
    Endpoint("en_route", "post", "assignments/{assignment}/en-route/", {}),
    Endpoint("on_scene", "post", "assignments/{assignment}/on-scene/", {}),
    Endpoint("complete", "post", "assignments/{assignment}/complete/", {}),
    Endpoint("decline", "post", "assignments/{assignment}/decline/", {"reason": "Tidak ada unit."}),
    Endpoint("assign", "post", "assignments/{assignment}/assign-resource/", {"unit": UNIT_A}),
    Endpoint("withdraw", "post", "assignments/{assignment}/cancel/", {"reason": "Dialihkan ke BPBD."}),
]

# ------------------------------------------------------------------------------------------------
# What each role may do on a visible incident
# ------------------------------------------------------------------------------------------------
READ = frozenset({"get", "timeline", "assignments", "shares", "assignment"})
STEPS = frozenset({"acknowledge", "en_route", "on_scene", "complete", "decline"})
WORK = STEPS | {"assign"}  # an agency works its own assignment
CALL_TAKER = READ | {"patch", "verify", "cancel", "false_alarm", "change_category", "notes"}
DISPATCHER = CALL_TAKER | {"dispatch", "resolve", "merge", "share", "revoke", "withdraw"}
SUPERVISOR = DISPATCHER | {"close", "reopen"} | WORK  # steps = override
AGENCY = READ | {"notes"} | WORK  # on its own assignment
AGENCY_SUPERVISOR = AGENCY | {"share"}  # dispatched by the command center: may share on (not revoke the CC's share)
FIELD_OFFICER = READ | STEPS  # on the assignment of their own unit
VIEWING = READ  # a view share: read, no caller data, nothing else
ASSISTING = READ | {"notes", "assist"}  # an assist share: notes and joining; never re-sharing
CC_CLIENT = (DISPATCHER - {"share", "revoke"}) | WORK  # incidents:write + assignments:write, no agency
NOT_FOUND = None  # every endpoint 404
UNAUTHENTICATED = "401"  # every endpoint 401

_ = NOT_FOUND
EVERYWHERE = object()  # the role sees every relationship but "missing" (region-wide or global)

# fmt: off
MATRIX: dict[str, tuple] = {
    #                             own                guessed  view     assist     revoked  expired  other    missing
    "call_taker":               (EVERYWHERE, CALL_TAKER),
    "dispatcher":               (EVERYWHERE, DISPATCHER),
    "supervisor":               (EVERYWHERE, SUPERVISOR),
    "other_region_dispatcher":  (_,                 _,       _,       _,         _,       _,       _,       _),
    "agency_staff":             (AGENCY,            _,       VIEWING, ASSISTING, _,       _,       _,       _),
    "agency_supervisor":        (AGENCY_SUPERVISOR, _,       VIEWING, ASSISTING, _,       _,       _,       _),
    "field_officer":            (FIELD_OFFICER,     _,       _,       _,         _,       _,       _,       _),
    "field_officer_other_unit": (_,                 _,       _,       _,         _,       _,       _,       _),
    "volunteer_coordinator":    (AGENCY,            _,       VIEWING, ASSISTING, _,       _,       _,       _),
    "auditor":                  (EVERYWHERE, READ),
    "administrator":            (EVERYWHERE, READ),
    "anonymous":                (UNAUTHENTICATED,) * 8,
    "client_agency":            (AGENCY,            _,       VIEWING, ASSISTING, _,       _,       _,       _),
    "client_no_agency":         (EVERYWHERE, CC_CLIENT),
    "client_no_read":           (_,                 _,       _,       _,         _,       _,       _,       _),
}
# fmt: on


def allowed_endpoints(role: str, relation: str):
    """The set of allowed endpoint keys, NOT_FOUND, or UNAUTHENTICATED for this cell."""
    row = MATRIX[role]
    if row[0] is EVERYWHERE:
        return NOT_FOUND if relation == "missing" else row[1]
    return row[RELATIONS.index(relation)]


def expected_status(role: str, relation: str, endpoint: str) -> str:
    cell = allowed_endpoints(role, relation)
    if cell == UNAUTHENTICATED:
        return "401"
    if cell is NOT_FOUND:
        return "404"
    return "allowed" if endpoint in cell else "403"


def outcome(response) -> str:
    """'401' / '403' / '404' as such; anything past authorization below 500 is 'allowed'."""
    if response.status_code in (401, 403, 404):
        return str(response.status_code)
    if response.status_code >= 500:
        return f"{response.status_code}!"
    return "allowed"


def test_the_matrix_names_every_role_and_relationship():
    assert set(MATRIX) == set(ROLES)
    for role, row in MATRIX.items():
        assert row[0] is EVERYWHERE and len(row) == 2 or len(row) == len(RELATIONS), role
    keys = [endpoint.key for endpoint in ENDPOINTS]
    assert len(keys) == len(set(keys))
    every = set(keys)
    for group in (READ, STEPS, WORK, CALL_TAKER, DISPATCHER, SUPERVISOR, AGENCY, FIELD_OFFICER, ASSISTING, CC_CLIENT):
        assert group <= every


def _request(client, world, role: str, relation: str, endpoint: Endpoint):
    case = world.case(role, relation)
    url = API + endpoint.path.format(incident=case.incident_id, assignment=case.assignment_id, share=case.share_id)
    body = None
    if endpoint.body is not None:
        replacements = {OTHER_INCIDENT: world.case(role, "other").incident_id, UNIT_A: world.units["a"].pk}
        body = {
            key: replacements[value] if isinstance(value, str) and value in replacements else value
            for key, value in endpoint.body.items()
        }
    return getattr(client, endpoint.method)(url, body, format="json")


@pytest.mark.parametrize("relation", RELATIONS)
@pytest.mark.parametrize("role", ROLES)
def test_api_authorization_matrix(world, role, relation):
    """One row of the matrix: every endpoint, this role, an incident in this relationship."""
    client = world.api(role)
    expected, actual, problems = {}, {}, []
    for endpoint in ENDPOINTS:
        response = in_savepoint(lambda endpoint=endpoint: _request(client, world, role, relation, endpoint))
        expected[endpoint.key] = expected_status(role, relation, endpoint.key)
        actual[endpoint.key] = outcome(response)
        if response.status_code in (403, 404):
            body = response.json()
            wanted = {"forbidden", "insufficient_scope"} if response.status_code == 403 else {"not_found"}
            if body.get("code") not in wanted:
                problems.append((endpoint.key, response.status_code, body))
    assert actual == expected
    assert problems == []


def test_a_404_for_another_agencys_incident_is_the_same_as_for_a_missing_one(world):
    """Same status, same body: nothing tells "exists but not yours" from "does not exist"."""
    client = world.api("agency_staff")
    for endpoint in ENDPOINTS:
        bodies = [
            in_savepoint(
                lambda relation=relation, endpoint=endpoint: _request(client, world, "agency_staff", relation, endpoint)
            ).json()
            for relation in ("guessed", "missing")
        ]
        assert bodies[0] == bodies[1], endpoint.key


# ------------------------------------------------------------------------------------------------
# Collections: lists hold exactly the visible incidents; who may report
# ------------------------------------------------------------------------------------------------
# fmt: off
COLLECTIONS = {
    #                            GET /incidents/   POST /incidents/   GET /calls/
    "call_taker":               ("200",            "201",             "200"),
    "dispatcher":               ("200",            "201",             "200"),
    "supervisor":               ("200",            "201",             "200"),
    "other_region_dispatcher":  ("200",            "201",             "200"),
    "agency_staff":             ("200",            "403",             "200"),
    "agency_supervisor":        ("200",            "403",             "200"),
    "field_officer":            ("200",            "403",             "200"),
    "field_officer_other_unit": ("200",            "403",             "200"),
    "volunteer_coordinator":    ("200",            "403",             "200"),
    "auditor":                  ("200",            "403",             "200"),
    "administrator":            ("200",            "403",             "200"),
    "anonymous":                ("401",            "401",             "401"),
    "client_agency":            ("200",            "201",             "200"),
    "client_no_agency":         ("200",            "201",             "200"),
    "client_no_read":           ("403",            "201",             "403"),  # insufficient_scope
}
# fmt: on


def _visible_relations(role: str) -> set[str]:
    return {
        relation
        for relation in RELATIONS
        if allowed_endpoints(role, relation) not in (NOT_FOUND, UNAUTHENTICATED) and relation != "missing"
    }


@pytest.mark.parametrize("role", ROLES)
def test_collections(world, role):
    client = world.api(role)
    report = {"category": "fire", "description": "Asap dari gudang."}

    listed = in_savepoint(lambda: client.get(API + "incidents/", {"page_size": 100}))
    created = in_savepoint(lambda: client.post(API + "incidents/", report, format="json", HTTP_IDEMPOTENCY_KEY=role))
    calls = in_savepoint(lambda: client.get(API + "calls/"))

    assert (str(listed.status_code), str(created.status_code), str(calls.status_code)) == COLLECTIONS[role]
    if listed.status_code == 200:
        ids = {row["id"] for row in listed.json()["results"]}
        shown = {relation for relation in RELATIONS if world.case(role, relation).incident_id in ids}
        assert shown == _visible_relations(role)


@pytest.mark.parametrize("role", ["agency_staff", "agency_supervisor", "volunteer_coordinator", "client_agency"])
def test_searching_for_a_guessed_reference_finds_nothing(world, role):
    guessed = world.case(role, "guessed").reference
    own = world.case(role, "own").reference
    client = world.api(role)

    assert client.get(API + "incidents/", {"q": guessed}).json()["results"] == []
    assert [row["reference"] for row in client.get(API + "incidents/", {"q": own}).json()["results"]] == [own]


@pytest.mark.parametrize("role", ROLES)
def test_assignment_list_holds_the_assignments_of_visible_incidents_only(world, role):
    response = world.api(role).get(API + "assignments/", {"page_size": 100})
    if response.status_code != 200:
        assert role == "anonymous" and response.status_code == 401
        return
    ids = {row["id"] for row in response.json()["results"]}
    shown = {relation for relation in RELATIONS if world.case(role, relation).assignment_id in ids}
    assert shown == _visible_relations(role)
