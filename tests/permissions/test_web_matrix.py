"""The staff console's authorization matrix (issue #4): the smaller form of tests/permissions/
test_api_matrix.py, with the same world and the same rule — not visible → 404, visible but not
allowed → refused — for the incident page, its actions, its edit and category forms and the
assignment steps, then the screens.

The console answers a refused action the way it answers any refused action: it redirects back to
the incident and shows the reason ("You are not allowed to do this (incident.share)."), so a
refusal is recognised by that message; a page the role does not have is 403; without a session
every URL goes to the login page. The edit form refuses even its GET that way (it is reached
from the incident page, never from the menu). A POST that the matrix expects to be done must have
changed the incident, and any other answer must have left it as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from incidents.models import Category, Incident
from incidents.services import EDITABLE_FIELDS

from .conftest import RELATIONS, in_savepoint

pytestmark = pytest.mark.django_db

ROLES = [
    "call_taker",
    "dispatcher",
    "supervisor",
    "other_region_dispatcher",
    "agency_staff",
    "agency_supervisor",
    "field_officer",
    "volunteer_coordinator",
    "auditor",
    "anonymous",
]


@dataclass(frozen=True)
class Page:
    key: str
    method: str
    url: str  # a URL name; arguments from the case
    args: tuple[str, ...]  # "incident", "assignment" or a literal
    data: dict | None = None
    refusal: str | None = None  # how a visible but refused request is answered, when not by its method
    probe: str | None = None  # an Incident field that a done POST changes and any other answer keeps


PAGES = [
    Page("detail", "get", "incidents:detail", ("incident",)),
    Page("presence", "get", "incidents:presence", ("incident",)),
    Page("dispatch_board", "get", "dispatch:incident", ("incident",)),
    Page("note", "post", "incidents:action", ("incident", "note"), {"note": "Unit kedua diminta."}),
    Page("verify", "post", "incidents:action", ("incident", "verify"), {}),
    Page("share", "post", "incidents:action", ("incident", "share"), {"agency": "<basarnas>", "level": "view"}),
    Page("revoke_share", "post", "incidents:action", ("incident", "revoke_share"), {"share": "<share>"}),
    Page("assist", "post", "incidents:action", ("incident", "assist"), {"note": ""}),
    Page("acknowledge", "post", "dispatch:step", ("assignment", "acknowledge"), {}),
    Page("decline", "post", "dispatch:step", ("assignment", "decline"), {"reason": "Tidak ada unit."}),
    Page("edit_form", "get", "incidents:edit", ("incident",), refusal="refused"),
    Page("edit", "post", "incidents:edit", ("incident",), {"address": "Jl. Pandanaran 1"}, probe="address"),
    Page("category", "post", "incidents:category", ("incident",), {"category": "<flood>"}, probe="category_id"),
]

READ = frozenset({"detail", "presence"})
CALL_TAKER = READ | {"note", "verify", "edit_form", "edit", "category"}  # both forms: incident.update
DISPATCHER = CALL_TAKER | {"dispatch_board", "share", "revoke_share"}
SUPERVISOR = DISPATCHER | {"acknowledge", "decline"}
AGENCY = READ | {"note", "acknowledge", "decline"}
AGENCY_SUPERVISOR = AGENCY | {"share"}
FIELD_OFFICER = READ | {"acknowledge", "decline"}
ASSISTING = READ | {"note", "assist"}
_ = None  # 404 on every page
EVERYWHERE = object()

# fmt: off
MATRIX = {
    #                           own                guessed  view  assist     revoked  expired  other  missing
    "call_taker":              (EVERYWHERE, CALL_TAKER),
    "dispatcher":              (EVERYWHERE, DISPATCHER),
    "supervisor":              (EVERYWHERE, SUPERVISOR),
    "other_region_dispatcher": (_,                 _,       _,    _,         _,       _,       _,     _),
    "agency_staff":            (AGENCY,            _,       READ, ASSISTING, _,       _,       _,     _),
    "agency_supervisor":       (AGENCY_SUPERVISOR, _,       READ, ASSISTING, _,       _,       _,     _),
    "field_officer":           (FIELD_OFFICER,     _,       _,    _,         _,       _,       _,     _),
    "volunteer_coordinator":   (AGENCY,            _,       READ, ASSISTING, _,       _,       _,     _),
    "auditor":                 (EVERYWHERE, READ),
    "anonymous":               ("login",) * 8,
}
# fmt: on


def expected(role: str, relation: str, page: Page) -> str:
    row = MATRIX[role]
    if row[0] == "login":
        return "login"
    cell = (None if relation == "missing" else row[1]) if row[0] is EVERYWHERE else row[RELATIONS.index(relation)]
    if cell is None:
        return "404"
    if page.key in cell:
        return "200" if page.method == "get" else "done"
    return page.refusal or ("403" if page.method == "get" else "refused")


REFUSAL = re.compile(r"\((incident|assignment)\.[a-z_]+\)")


def outcome(response) -> str:
    if response.status_code == 302 and response["Location"].startswith(reverse("login")):
        return "login"
    if response.status_code != 302:
        return str(response.status_code)
    errors = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    return "refused" if any(REFUSAL.search(text) for text in errors) else "done"


#: What the edit form posts besides its version (incidents.forms.IncidentEditForm).
EDIT_FIELDS = EDITABLE_FIELDS  # the service's list: the form has the same fields


def _form(incident_id: int) -> dict:
    """The edit form as the incident page fills it in, with the version it shows (a missing
    incident gets a form filled in for nothing)."""
    row = Incident.objects.filter(pk=incident_id).values(*EDIT_FIELDS, "version").first()
    if row is None:
        return {"version": 0, "priority": 3, "description": "Kebakaran gudang."}
    return {key: "" if value is None else value for key, value in row.items()}


def _request(client, world, role: str, relation: str, page: Page) -> str:
    """The outcome of one request; for a page with a probe, suffixed when the incident did not
    change on a done POST (" unchanged") or changed on any other answer (" changed")."""
    client.cookies.pop("messages", None)  # only this request's messages count
    case = world.case(role, relation)
    values = {"incident": case.incident_id, "assignment": case.assignment_id}
    url = reverse(page.url, args=[values.get(arg, arg) for arg in page.args])
    if page.method == "get":
        return outcome(client.get(url))
    replacements = {"<basarnas>": world.agencies["basarnas"].pk, "<share>": case.share_id}
    if page.probe is not None:
        replacements["<flood>"] = Category.objects.values_list("pk", flat=True).get(code="flood")
    data = {key: replacements.get(value, value) for key, value in (page.data or {}).items()}
    if page.probe is None:
        return outcome(client.post(url, data))
    probe = Incident.objects.filter(pk=case.incident_id).values_list(page.probe, flat=True)
    before = probe.first()
    answer = outcome(client.post(url, {**_form(case.incident_id), **data}))
    changed = probe.first() != before
    if answer == "done":
        return answer if changed else f"{answer} unchanged"
    return f"{answer} changed" if changed else answer


@pytest.mark.parametrize("relation", RELATIONS)
@pytest.mark.parametrize("role", ROLES)
def test_console_authorization_matrix(world, role, relation):
    client = world.web(role)
    actual = {page.key: in_savepoint(lambda page=page: _request(client, world, role, relation, page)) for page in PAGES}
    assert actual == {page.key: expected(role, relation, page) for page in PAGES}


# ------------------------------------------------------------------------------------------------
# Screens: who has them, and that their rows are the visible incidents only
# ------------------------------------------------------------------------------------------------
SCREENS = ["incidents:queue", "dispatch:inbox", "dispatch:board", "incidents:map", "reporting:overview"]

# fmt: off
SCREEN_STATUS = {
    #                           queue    inbox    board    map      reports
    "call_taker":              ("200",   "403",   "403",   "200",   "403"),
    "dispatcher":              ("200",   "403",   "200",   "200",   "403"),
    "supervisor":              ("200",   "403",   "200",   "200",   "200"),
    "other_region_dispatcher": ("200",   "403",   "200",   "200",   "403"),
    "agency_staff":            ("403",   "200",   "403",   "200",   "403"),
    "agency_supervisor":       ("403",   "200",   "403",   "200",   "200"),
    "field_officer":           ("403",   "200",   "403",   "200",   "403"),
    "volunteer_coordinator":   ("403",   "200",   "403",   "200",   "403"),
    "auditor":                 ("200",   "403",   "403",   "200",   "200"),
    "anonymous":               ("login", "login", "login", "login", "login"),
}
# fmt: on


def _visible(role: str) -> set[str]:
    return {relation for relation in RELATIONS if relation != "missing" and expected(role, relation, PAGES[0]) == "200"}


@pytest.mark.parametrize("role", ROLES)
def test_screens(world, role):
    client = world.web(role)
    responses = [client.get(reverse(name)) for name in SCREENS]

    assert tuple(outcome(response) for response in responses) == SCREEN_STATUS[role]
    visible = _visible(role)
    references = {relation: world.case(role, relation).reference for relation in RELATIONS}
    queue, inbox = responses[0], responses[1]
    if queue.status_code == 200:
        html = queue.content.decode()
        assert {relation for relation, ref in references.items() if ref in html} == visible
    if inbox.status_code == 200:
        html = inbox.content.decode()
        # the inbox holds the agency's (or unit's) own assignments, not what it only sees by a share
        assert {relation for relation, ref in references.items() if ref in html} == visible & {"own"}
    points = client.get(reverse("incidents:map_data"))
    if role == "anonymous":
        assert outcome(points) == "login"
    else:
        ids = {point["id"] for point in points.json()["points"]}
        open_ids = set(Incident.objects.filter(status__in=Incident.OPEN_STATUSES).values_list("pk", flat=True))
        shown = {relation for relation in RELATIONS if world.case(role, relation).incident_id in ids}
        assert shown == {relation for relation in visible if world.case(role, relation).incident_id in open_ids}


def test_merging_into_a_guessed_reference_reads_like_a_missing_one(world):
    """The console takes reference numbers where people type them (merge): a reference of another
    region's incident gets exactly the answer of one that does not exist."""
    client = world.web("other_region_dispatcher")
    from incidents import services

    own = services.incident_create(
        actor=world.users["other_region_dispatcher"],
        region=world.other_region,
        category=world.agencies["damkar"].routing_rules.first().category,
        description="Kebakaran di Kendal.",
    )
    answers = []
    for reference in (world.case("dispatcher", "own").reference, world.case("dispatcher", "missing").reference):
        response = in_savepoint(
            lambda reference=reference: client.post(
                reverse("incidents:action", args=[own.pk, "merge"]), {"into": reference, "version": own.version}
            )
        )
        answers.append([str(m) for m in get_messages(response.wsgi_request)])
        client.cookies.pop("messages", None)
    assert answers[0] == answers[1] and answers[0]
