"""The admin's authorization matrix (issue #4) for staff who are not superusers.

Everyone here is ``is_staff``. The command center, agency and auditor roles also hold the view
permissions an administrator would give a "console staff" group (incidents, timeline, calls,
assignments, shares); the administrator role holds no model permission at all — the role is
what lets it manage agencies, memberships, categories and routing. On top of Django's model
permissions the admin applies the platform's rules: the rows of incidents the user may see (the
one selector), calls of the user's region, the agency's own units, members and volunteers for
agency supervisors, and the access log for administrators and auditors only.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from dispatch.models import AccessEvent, Agency, Assignment, FieldUnit, IncidentShare, Membership, Role
from incidents.models import Call, TimelineEvent
from tests.factories import UserFactory

from .conftest import RELATIONS, in_savepoint

pytestmark = pytest.mark.django_db

ROLES = [
    "dispatcher",
    "other_region_dispatcher",
    "agency_staff",
    "agency_supervisor",
    "volunteer_coordinator",
    "auditor",
    "administrator",
]
VIEW_PERMISSIONS = [
    ("incidents", "view_incident"),
    ("incidents", "view_timelineevent"),
    ("incidents", "view_call"),
    ("dispatch", "view_assignment"),
    ("dispatch", "view_incidentshare"),
]


@pytest.fixture(scope="module")
def staff(world):
    """The world's people as admin users (inside the module's transaction, rolled back with it)."""
    group = Group.objects.create(name="console staff (view)")
    group.permissions.set(
        Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in VIEW_PERMISSIONS
    )
    for role in ROLES:
        user = world.users[role]
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        if role != "administrator":
            user.groups.add(group)
    return world


CHANGELISTS = [
    "incidents_incident",
    "incidents_timelineevent",
    "incidents_call",
    "dispatch_assignment",
    "dispatch_incidentshare",
    "dispatch_accessevent",
    "dispatch_membership",
    "dispatch_fieldunit",
    "dispatch_volunteer",
    "dispatch_agency",
    "dispatch_routingrule",
    "incidents_category",
]
# What a changelist row is about: its incident (or, for calls, the incident it is attached to).
INCIDENT_OF = {
    "incidents_incident": lambda row: row.pk,
    "incidents_timelineevent": lambda row: row.incident_id,
    "incidents_call": lambda row: row.incident_id,
    "dispatch_assignment": lambda row: row.incident_id,
    "dispatch_incidentshare": lambda row: row.incident_id,
}

# "all": the role's changelist holds every row of the world; "scoped": exactly the rows of the
# incidents the role may see (as in the API matrix); "none": opens, empty; "own": the agency's own
# (memberships, units, volunteers); 403: no access.
# fmt: off
MATRIX = {
    #                          incident  timeline  call    assignment share     access  membership unit    volunteer agency routing category
    "dispatcher":              ("all",   "all",    "all",  "all",     "all",    403,    403,       403,    403,      403,   403,    403),
    "other_region_dispatcher": ("none",  "none",   "none", "none",    "none",   403,    403,       403,    403,      403,   403,    403),
    "agency_staff":            ("scoped", "scoped", "none", "scoped", "scoped", 403,    403,       403,    403,      403,   403,    403),
    "agency_supervisor":       ("scoped", "scoped", "none", "scoped", "scoped", 403,    "own",     "own",  "own",    403,   403,    403),
    "volunteer_coordinator":   ("scoped", "scoped", "none", "scoped", "scoped", 403,    403,       403,    "own",    403,   403,    403),
    "auditor":                 ("all",   "all",    "all",  "all",     "all",    "all",  403,       403,    403,      403,   403,    403),
    "administrator":           (403,     403,      403,    403,       403,      "all",  "all",     "all",  "all",    "all", "all",   "all"),
}
# fmt: on

# The relationships each agency role sees (the API matrix's visible cells).
SCOPED = {
    "agency_staff": {"own", "view", "assist"},
    "agency_supervisor": {"own", "view", "assist"},
    "volunteer_coordinator": {"own", "view", "assist"},
}


def _world_incident_ids(world) -> dict[int, str]:
    """incident id → relationship, for the damkar subject (pmi's cases map to the same names)."""
    return {case.incident_id: relation for (subject, relation), case in world.cases.items() if relation != "missing"}


@pytest.mark.parametrize("role", ROLES)
def test_admin_changelists(staff, role):
    world = staff
    client = world.web(role)
    subject = "pmi" if role == "volunteer_coordinator" else "damkar"
    relation_of = {
        case.incident_id: relation
        for (s, relation), case in world.cases.items()
        if s == subject and relation != "missing"
    }
    all_world = set(relation_of.values())
    actual, wanted = {}, {}
    for name, expected in zip(CHANGELISTS, MATRIX[role], strict=True):
        response = client.get(reverse(f"admin:{name}_changelist"), {"all": ""})
        wanted[name] = expected
        if response.status_code != 200:
            actual[name] = response.status_code
            continue
        rows = list(response.context["cl"].queryset)
        if name in INCIDENT_OF:
            seen = {relation_of[INCIDENT_OF[name](row)] for row in rows if INCIDENT_OF[name](row) in relation_of}
            if expected == "scoped":
                actual[name] = (
                    "scoped" if seen == SCOPED[role] and len(rows) == _count_scoped(world, name, role) else seen
                )
            elif expected == "all":
                actual[name] = "all" if seen == all_world or (name == "incidents_call" and rows) else seen
            else:
                actual[name] = "none" if not seen else seen
        else:
            actual[name] = _classify_agency_rows(world, name, role, rows)
    assert actual == wanted


def _count_scoped(world, name: str, role: str) -> int:
    """How many rows the changelist must hold: every row of the visible incidents, no more."""
    from incidents.selectors import incident_list_for_user

    visible = incident_list_for_user(world.users[role]).values("pk")
    model = {
        "incidents_incident": None,
        "incidents_timelineevent": TimelineEvent,
        "dispatch_assignment": Assignment,
        "dispatch_incidentshare": IncidentShare,
    }[name]
    if model is None:
        return visible.count()
    return model.objects.filter(incident__in=visible).count()


def _classify_agency_rows(world, name: str, role: str, rows) -> str | set:
    if name == "dispatch_accessevent":
        return "all" if len(rows) == AccessEvent.objects.count() else "partial"
    model = {
        "dispatch_membership": (Membership, "agency_id"),
        "dispatch_fieldunit": (FieldUnit, "agency_id"),
        "dispatch_volunteer": (None, "community_id"),
        "dispatch_agency": (None, None),
        "dispatch_routingrule": (None, None),
        "incidents_category": (None, None),
    }[name]
    if role == "administrator":
        return "all"
    agency = world.agencies["pmi" if role == "volunteer_coordinator" else "damkar"]
    agencies = {getattr(row, model[1]) for row in rows}
    if model[0] is not None and not rows:
        return "empty"
    return "own" if agencies <= {agency.pk} else agencies


@pytest.mark.parametrize("relation", RELATIONS)
@pytest.mark.parametrize("role", ["dispatcher", "other_region_dispatcher", "agency_supervisor", "auditor"])
def test_admin_incident_change_page(staff, role, relation):
    """Visible → 200; otherwise the admin's "does not exist" redirect, the same for a missing id."""
    world = staff
    case = world.case(role, relation)
    response = world.web(role).get(reverse("admin:incidents_incident_change", args=[case.incident_id]))
    visible = {
        "dispatcher": relation != "missing",
        "auditor": relation != "missing",
        "other_region_dispatcher": False,
        "agency_supervisor": relation in SCOPED["agency_supervisor"],
    }[role]
    if visible:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 302
        assert response["Location"] == reverse("admin:index")


def test_admin_masks_caller_data_where_the_role_may_not_see_it(staff, settings):
    world = staff
    settings.AUDITOR_SEES_PERSONAL_DATA = False
    view_case, own_case = world.case("agency_supervisor", "view"), world.case("agency_supervisor", "own")

    def page(role, case):
        url = reverse("admin:incidents_incident_change", args=[case.incident_id])
        return world.web(role).get(url).content.decode()

    number = "+6281234567890"
    assert number in page("agency_supervisor", own_case)  # its own assignment: it may
    assert number not in page("agency_supervisor", view_case)  # a view share: never
    assert number not in page("auditor", own_case)
    assert "Budi Santoso" not in page("auditor", own_case)
    calls = world.web("auditor").get(reverse("admin:incidents_call_changelist")).content.decode()
    assert "+6285611112222" not in calls and "+628****222" in calls
    call_page = world.web("auditor").get(reverse("admin:incidents_call_change", args=[world.call_id]))
    assert "+6285611112222" not in call_page.content.decode()
    settings.AUDITOR_SEES_PERSONAL_DATA = True
    assert number in page("auditor", own_case)


def test_agency_supervisor_gives_only_agency_roles_in_its_own_agency(staff):
    world = staff
    client = world.web("agency_supervisor")
    newcomer = UserFactory(username="perm-newcomer")
    bpbd_unit = FieldUnit.objects.create(agency=world.agencies["bpbd"], code="BPBD-1", name="Tim BPBD")
    url = reverse("admin:dispatch_membership_add")

    def add(**data):
        body = {
            "user": newcomer.pk,
            "agency": world.agencies["damkar"].pk,
            "role": Role.AGENCY_STAFF,
            "is_active": "on",
        }
        body.update(data)
        return in_savepoint(lambda: client.post(url, body))

    for role in (Role.ADMINISTRATOR, Role.AUDITOR, Role.DISPATCHER, Role.SUPERVISOR):
        response = add(role=role)
        assert response.status_code == 200 and "role" in response.context["adminform"].form.errors, role
    response = add(agency=world.agencies["satpol-pp"].pk)
    assert response.status_code == 200 and "agency" in response.context["adminform"].form.errors
    response = add(role=Role.FIELD_OFFICER, unit=bpbd_unit.pk)
    assert response.status_code == 200 and "unit" in response.context["adminform"].form.errors

    other_members = Membership.objects.exclude(agency=world.agencies["damkar"])
    change = client.get(reverse("admin:dispatch_membership_change", args=[other_members.first().pk]))
    assert change.status_code == 302  # another agency's member: "does not exist"
    other_unit = client.get(reverse("admin:dispatch_fieldunit_change", args=[bpbd_unit.pk]))
    assert other_unit.status_code == 302


def test_a_membership_added_in_the_admin_is_recorded_and_takes_effect(staff):
    world = staff
    newcomer = UserFactory(username="perm-newcomer")
    before = AccessEvent.objects.count()

    response = world.web("agency_supervisor").post(
        reverse("admin:dispatch_membership_add"),
        {"user": newcomer.pk, "agency": world.agencies["damkar"].pk, "role": Role.AGENCY_STAFF, "is_active": "on"},
    )

    assert response.status_code == 302, response.content
    event = AccessEvent.objects.order_by("-pk").first()
    assert AccessEvent.objects.count() == before + 1
    assert (event.kind, event.actor, event.user, event.agency) == (
        AccessEvent.Kind.MEMBERSHIP_ADDED,
        world.users["agency_supervisor"],
        newcomer,
        world.agencies["damkar"],
    )
    assert Agency.objects.get(code="damkar").group in newcomer.groups.all()
    # visible to the administrator in the access log
    log = world.web("administrator").get(reverse("admin:dispatch_accessevent_changelist"))
    assert event in log.context["cl"].result_list


def test_admin_actions_follow_the_action_check(staff):
    """An agency's staff with change rights still cannot withdraw assignments from the admin."""
    world = staff
    user = world.users["agency_staff"]
    user.user_permissions.add(Permission.objects.get(content_type__app_label="dispatch", codename="change_assignment"))
    own = world.case("agency_staff", "own")

    response = world.web("agency_staff").post(
        reverse("admin:dispatch_assignment_changelist"),
        {"action": "cancel_assignments", "_selected_action": [own.assignment_id]},
    )

    assert response.status_code == 302
    assert Assignment.objects.get(pk=own.assignment_id).status == Assignment.Status.REQUESTED
    errors = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    assert errors and "assignment.cancel" in errors[0]


def test_calls_are_scoped_to_the_command_centers_region(staff):
    world = staff
    rows = world.web("other_region_dispatcher").get(reverse("admin:incidents_call_changelist")).context["cl"].queryset
    assert list(rows) == []
    assert Call.objects.filter(pk=world.call_id).exists()
