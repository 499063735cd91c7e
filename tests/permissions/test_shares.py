"""Shares: grant, revoke and expiry as django-guardian group grants; records; assisting; re-sharing.

Built through the services and the API with the shared fixtures (tests/conftest.py): ``incident``
is a fire dispatched here to the fire service (damkar); Satpol PP (``other_agency_user``'s agency)
is the agency it gets shared with.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from guardian.models import UserObjectPermission

from dispatch import services as dispatch_services
from dispatch.models import AccessEvent, Agency, Assignment, IncidentGroupObjectPermission, IncidentShare, Role
from dispatch.tasks import shares_expire_task
from incidents.models import Incident, TimelineEvent
from semarang112.exceptions import ApplicationError
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/incidents/"


@pytest.fixture
def damkar(seeded) -> Agency:
    return seeded.agency("damkar")


@pytest.fixture
def satpol(seeded) -> Agency:
    return seeded.agency("satpol-pp")


@pytest.fixture
def dispatched(incident, damkar, dispatcher) -> Incident:
    """The fire, dispatched to damkar by the command center."""
    dispatch_services.incident_dispatch(incident=incident, agencies=[damkar], actor=dispatcher)
    return Incident.objects.get(pk=incident.pk)


def grants(incident: Incident, agency: Agency) -> set[str]:
    """The guardian permissions the agency's group holds on the incident (direct-FK table)."""
    agency.refresh_from_db()
    if agency.group_id is None:
        return set()
    return set(
        IncidentGroupObjectPermission.objects.filter(content_object=incident, group=agency.group).values_list(
            "permission__codename", flat=True
        )
    )


def share_via_api(api_as, user, incident, agency_code, level, **extra):
    body = {"agency": agency_code, "level": level, **extra}
    return api_as(user).post(f"{API}{incident.pk}/shares/", body, format="json")


# ------------------------------------------------------------------------------------------------
# Grant
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("level", "codenames"), [("view", {"view_incident"}), ("assist", {"view_incident", "assist_incident"})]
)
def test_a_share_is_a_guardian_grant_to_the_agency_group_with_its_records(
    api_as, dispatcher, dispatched, satpol, level, codenames
):
    response = share_via_api(api_as, dispatcher, dispatched, "satpol-pp", level, note="Bantu pengamanan.")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["agency"]["code"], body["level"], body["is_active"], body["granted_by"]) == (
        "satpol-pp",
        level,
        True,
        dispatcher.username,
    )
    assert grants(dispatched, satpol) == codenames
    assert satpol.group.name == "agency:satpol-pp"
    assert not UserObjectPermission.objects.exists()  # no per-user rows
    event = dispatched.timeline.get(kind=TimelineEvent.Kind.SHARED)
    assert (event.actor, event.payload["agency"], event.payload["level"], event.note) == (
        dispatcher,
        "satpol-pp",
        level,
        "Bantu pengamanan.",
    )
    record = AccessEvent.objects.get(kind=AccessEvent.Kind.SHARE_GRANTED)
    assert (record.actor, record.agency, record.incident, record.detail["level"]) == (
        dispatcher,
        satpol,
        dispatched,
        level,
    )


def test_a_new_share_of_the_same_agency_replaces_the_live_one(api_as, dispatcher, dispatched, satpol):
    first = share_via_api(api_as, dispatcher, dispatched, "satpol-pp", "assist").json()
    second = share_via_api(api_as, dispatcher, dispatched, "satpol-pp", "view").json()

    assert grants(dispatched, satpol) == {"view_incident"}
    assert IncidentShare.objects.get(pk=first["id"]).revoked_at is not None
    assert IncidentShare.objects.active().get(incident=dispatched, agency=satpol).pk == second["id"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"agency": "cc112", "level": "view"}, 400, "share_to_command_center"),
        ({"agency": "satpol-pp", "level": "edit"}, 400, "invalid"),
        ({"agency": "no-such-agency", "level": "view"}, 400, "invalid"),
        ({"agency": "satpol-pp", "level": "view", "expires_at": "2001-01-01T00:00:00+07:00"}, 400, "share_expiry_past"),
        (
            {"agency": "satpol-pp", "level": "view", "expires_at": "2099-01-01T00:00:00+07:00"},
            400,
            "share_expiry_too_late",
        ),
        ({"agency": "satpol-pp", "level": "view", "status": "x"}, 400, "invalid"),
    ],
)
def test_share_input_errors(api_as, dispatcher, dispatched, body, status, code):
    response = api_as(dispatcher).post(f"{API}{dispatched.pk}/shares/", body, format="json")

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not IncidentShare.objects.exists()


# ------------------------------------------------------------------------------------------------
# Every share expires: INCIDENT_SHARE_MAX_DAYS
# ------------------------------------------------------------------------------------------------
def test_a_share_without_an_expiry_lasts_the_maximum(dispatcher, dispatched, satpol, settings):
    settings.INCIDENT_SHARE_MAX_DAYS = 30
    with time_machine.travel(timezone.now(), tick=False):
        share = dispatch_services.incident_share(incident=dispatched, agency=satpol, level="view", actor=dispatcher)
        latest = timezone.now() + timedelta(days=30)

    assert share.expires_at == latest
    event = dispatched.timeline.get(kind=TimelineEvent.Kind.SHARED)
    assert event.payload["expires_at"] == latest.isoformat()


def test_a_share_may_last_exactly_the_maximum(dispatcher, dispatched, satpol, settings):
    settings.INCIDENT_SHARE_MAX_DAYS = 2
    with time_machine.travel(timezone.now(), tick=False):
        latest = timezone.now() + timedelta(days=2)
        share = dispatch_services.incident_share(
            incident=dispatched, agency=satpol, level="view", actor=dispatcher, expires_at=latest
        )

    assert share.expires_at == latest


def test_a_share_longer_than_the_maximum_is_refused(dispatcher, dispatched, satpol, settings):
    # given a city that allows shares of at most 2 days
    settings.INCIDENT_SHARE_MAX_DAYS = 2

    # when a dispatcher asks for 2 days and a minute
    with pytest.raises(ApplicationError) as excinfo:
        dispatch_services.incident_share(
            incident=dispatched,
            agency=satpol,
            level="assist",
            actor=dispatcher,
            expires_at=timezone.now() + timedelta(days=2, minutes=1),
        )

    # then it is refused and nothing is granted or recorded
    assert excinfo.value.code == "share_expiry_too_late"
    assert excinfo.value.extra == {"field": "expires_at", "max_days": 2}
    assert str(excinfo.value.message) == "Akses berbagi paling lama 2 hari."  # Indonesian by default
    assert not IncidentShare.objects.exists()
    assert grants(dispatched, satpol) == set()
    assert not dispatched.timeline.filter(kind=TimelineEvent.Kind.SHARED).exists()
    assert not AccessEvent.objects.filter(kind=AccessEvent.Kind.SHARE_GRANTED).exists()


def test_the_api_names_the_field_and_the_maximum(api_as, dispatcher, dispatched, settings):
    settings.INCIDENT_SHARE_MAX_DAYS = 7
    until = (timezone.now() + timedelta(days=8)).isoformat()

    response = share_via_api(api_as, dispatcher, dispatched, "satpol-pp", "view", expires_at=until)

    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["code"], body["max_days"], list(body["errors"])) == ("share_expiry_too_late", 7, ["expires_at"])


def test_the_api_defaults_the_expiry_to_the_maximum(api_as, dispatcher, dispatched):
    before = timezone.now()

    response = share_via_api(api_as, dispatcher, dispatched, "satpol-pp", "view", expires_at=None)

    assert response.status_code == 201, response.content
    expires = IncidentShare.objects.get(pk=response.json()["id"]).expires_at
    assert before + timedelta(days=30) <= expires <= timezone.now() + timedelta(days=30)
    assert response.json()["is_active"] is True


def test_a_closed_incident_cannot_be_shared(api_as, supervisor, incident):
    from incidents import services

    services.incident_cancel(incident=incident, actor=supervisor, reason="Penelepon membatalkan.")

    response = share_via_api(api_as, supervisor, incident, "satpol-pp", "view")

    assert response.status_code == 409 and response.json()["code"] == "incident_final"


# ------------------------------------------------------------------------------------------------
# What the shared agency sees
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("level", ["view", "assist"])
def test_the_shared_agency_sees_the_incident_without_caller_data(
    api_as, dispatcher, dispatched, other_agency_user, satpol, level
):
    client = api_as(other_agency_user)
    assert client.get(f"{API}{dispatched.pk}/").status_code == 404

    dispatch_services.incident_share(incident=dispatched, agency=satpol, level=level, actor=dispatcher)

    detail = client.get(f"{API}{dispatched.pk}/").json()
    assert detail["personal_data_masked"] is True
    assert detail["caller_number"] == "+628****890" and detail["caller_name"] == "B***"
    (row,) = client.get(API).json()["results"]
    assert row["id"] == dispatched.pk and row["caller_number"] == "+628****890"
    timeline = client.get(f"{API}{dispatched.pk}/timeline/")
    assert timeline.status_code == 200


def test_a_membership_change_needs_no_per_incident_rows(api_as, dispatcher, dispatched, satpol):
    """A user added to the agency sees its shared incidents at once; removed, gets 404 at once."""
    dispatch_services.incident_share(incident=dispatched, agency=satpol, level="view", actor=dispatcher)
    rows_before = IncidentGroupObjectPermission.objects.count()
    newcomer = UserFactory(username="satpol-newcomer")
    client = api_as(newcomer)
    assert client.get(f"{API}{dispatched.pk}/").status_code == 404

    membership = MembershipFactory(user=newcomer, agency=satpol, role=Role.AGENCY_STAFF)
    dispatch_services.membership_record_change(
        actor=dispatcher, membership=membership, kind=AccessEvent.Kind.MEMBERSHIP_ADDED
    )

    assert client.get(f"{API}{dispatched.pk}/").status_code == 200
    assert IncidentGroupObjectPermission.objects.count() == rows_before
    assert not UserObjectPermission.objects.exists()
    satpol.refresh_from_db()
    assert satpol.group in newcomer.groups.all()

    membership.delete()
    dispatch_services.membership_record_change(
        actor=dispatcher,
        membership=membership,
        kind=AccessEvent.Kind.MEMBERSHIP_REMOVED,
        before={"role": Role.AGENCY_STAFF},
    )

    assert client.get(f"{API}{dispatched.pk}/").status_code == 404
    assert IncidentGroupObjectPermission.objects.count() == rows_before
    assert satpol.group not in newcomer.groups.all()
    kinds = list(AccessEvent.objects.filter(user=newcomer).order_by("pk").values_list("kind", flat=True))
    assert kinds == [AccessEvent.Kind.MEMBERSHIP_ADDED, AccessEvent.Kind.MEMBERSHIP_REMOVED]


def test_a_field_officer_does_not_see_the_agencys_shares(api_as, dispatcher, dispatched, satpol):
    officer = UserFactory(username="satpol-field")
    MembershipFactory(user=officer, agency=satpol, role=Role.FIELD_OFFICER)
    dispatch_services.incident_share(incident=dispatched, agency=satpol, level="assist", actor=dispatcher)

    assert api_as(officer).get(f"{API}{dispatched.pk}/").status_code == 404


# ------------------------------------------------------------------------------------------------
# Revoke and expiry
# ------------------------------------------------------------------------------------------------
def test_revoking_removes_the_grant_and_is_recorded(api_as, dispatcher, dispatched, other_agency_user, satpol):
    share = dispatch_services.incident_share(incident=dispatched, agency=satpol, level="assist", actor=dispatcher)
    assert api_as(other_agency_user).get(f"{API}{dispatched.pk}/").status_code == 200

    response = api_as(dispatcher).post(
        f"{API}{dispatched.pk}/shares/{share.pk}/revoke/", {"note": "Sudah tertangani."}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["is_active"] is False and body["revoked_by"] == dispatcher.username
    assert grants(dispatched, satpol) == set()
    assert api_as(other_agency_user).get(f"{API}{dispatched.pk}/").status_code == 404
    event = dispatched.timeline.get(kind=TimelineEvent.Kind.SHARE_REVOKED)
    assert (event.actor, event.payload["expired"], event.note) == (dispatcher, False, "Sudah tertangani.")
    record = AccessEvent.objects.get(kind=AccessEvent.Kind.SHARE_REVOKED)
    assert (record.actor, record.agency, record.incident) == (dispatcher, satpol, dispatched)
    # revoking again changes nothing
    again = api_as(dispatcher).post(f"{API}{dispatched.pk}/shares/{share.pk}/revoke/", {}, format="json")
    assert again.status_code == 200 and again.json()["revoked_at"] == body["revoked_at"]
    assert AccessEvent.objects.filter(kind=AccessEvent.Kind.SHARE_REVOKED).count() == 1
    listed = api_as(dispatcher).get(f"{API}{dispatched.pk}/shares/").json()
    assert [(row["id"], row["is_active"]) for row in listed] == [(share.pk, False)]


def test_a_share_of_another_incident_is_404(api_as, dispatcher, dispatched, make_incident, satpol):
    other = make_incident()
    share = dispatch_services.incident_share(incident=other, agency=satpol, level="view", actor=dispatcher)

    response = api_as(dispatcher).post(f"{API}{dispatched.pk}/shares/{share.pk}/revoke/", {}, format="json")

    assert response.status_code == 404
    assert IncidentShare.objects.get(pk=share.pk).revoked_at is None


def test_expiry_hides_at_once_and_the_task_removes_the_grant(api_as, dispatcher, dispatched, other_agency_user, satpol):
    expires = timezone.now() + timedelta(hours=1)
    share = dispatch_services.incident_share(
        incident=dispatched, agency=satpol, level="assist", actor=dispatcher, expires_at=expires
    )
    client = api_as(other_agency_user)
    assert client.get(f"{API}{dispatched.pk}/").status_code == 200

    with time_machine.travel(expires + timedelta(minutes=1), tick=False):
        # past the expiry, before the periodic task: the grant is still there, the incident is not
        assert grants(dispatched, satpol) == {"view_incident", "assist_incident"}
        assert client.get(f"{API}{dispatched.pk}/").status_code == 404
        assert client.post(f"{API}{dispatched.pk}/notes/", {"note": "x"}, format="json").status_code == 404

        assert shares_expire_task() == 1
        assert shares_expire_task() == 0  # safe to run twice

    share.refresh_from_db()
    assert share.revoked_at == expires and share.revoked_by is None
    assert grants(dispatched, satpol) == set()
    event = dispatched.timeline.get(kind=TimelineEvent.Kind.SHARE_REVOKED)
    assert event.payload["expired"] is True and event.actor_label == "system: share expiry"
    assert AccessEvent.objects.filter(kind=AccessEvent.Kind.SHARE_EXPIRED, incident=dispatched).count() == 1


# ------------------------------------------------------------------------------------------------
# Who may share and revoke
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def damkar_supervisor(damkar):
    return MembershipFactory(user=UserFactory(username="damkar-spv"), agency=damkar, role=Role.AGENCY_SUPERVISOR).user


@pytest.fixture
def satpol_supervisor(satpol):
    return MembershipFactory(user=UserFactory(username="satpol-spv"), agency=satpol, role=Role.AGENCY_SUPERVISOR).user


def test_an_agency_dispatched_by_the_command_center_may_share_on(
    api_as, dispatcher, dispatched, damkar_supervisor, agency_user, satpol
):
    assert share_via_api(api_as, agency_user, dispatched, "satpol-pp", "view").status_code == 403  # staff: no

    response = share_via_api(api_as, damkar_supervisor, dispatched, "satpol-pp", "view")

    assert response.status_code == 201, response.content
    share_id = response.json()["id"]
    # it may revoke what it granted, not what the command center granted
    cc_share = dispatch_services.incident_share(
        incident=dispatched, agency=Agency.objects.get(code="bpbd"), level="view", actor=dispatcher
    )
    client = api_as(damkar_supervisor)
    refused = client.post(f"{API}{dispatched.pk}/shares/{cc_share.pk}/revoke/", {}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert client.post(f"{API}{dispatched.pk}/shares/{share_id}/revoke/", {}, format="json").status_code == 200
    # nor replace (downgrade) the command center's share of an agency
    replaced = share_via_api(api_as, damkar_supervisor, dispatched, "bpbd", "assist")
    assert replaced.status_code == 403
    assert IncidentShare.objects.active().get(pk=cc_share.pk).level == "view"


def test_an_agency_with_the_incident_only_through_a_share_cannot_share_it_on(
    api_as, dispatcher, dispatched, satpol, satpol_supervisor
):
    dispatch_services.incident_share(incident=dispatched, agency=satpol, level="assist", actor=dispatcher)
    client = api_as(satpol_supervisor)

    assert share_via_api(api_as, satpol_supervisor, dispatched, "bpbd", "view").status_code == 403

    # not even after joining with its own assignment
    joined = client.post(f"{API}{dispatched.pk}/assist/", {"note": "Dua personel."}, format="json")
    assert joined.status_code == 201, joined.content
    refused = share_via_api(api_as, satpol_supervisor, dispatched, "bpbd", "view")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert not IncidentShare.objects.filter(agency__code="bpbd").exists()


# ------------------------------------------------------------------------------------------------
# Assisting: joining with the agency's own assignment
# ------------------------------------------------------------------------------------------------
def test_an_assisting_agency_joins_and_then_works_its_assignment(
    api_as, dispatcher, dispatched, other_agency_user, satpol
):
    share = dispatch_services.incident_share(incident=dispatched, agency=satpol, level="assist", actor=dispatcher)
    client = api_as(other_agency_user)

    response = client.post(f"{API}{dispatched.pk}/assist/", {"note": "Dua personel."}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["agency"]["code"] == "satpol-pp" and body["status"] == "requested"
    assignment = Assignment.objects.get(pk=body["id"])
    assert assignment.via_share == share and assignment.dispatched_by == other_agency_user
    event = dispatched.timeline.get(kind=TimelineEvent.Kind.ASSIGNMENT_CREATED, assignment=assignment)
    assert event.payload == {"agency": "satpol-pp", "via_share": share.pk}
    acknowledged = client.post(f"/api/v1/assignments/{assignment.pk}/acknowledge/", {}, format="json")
    assert acknowledged.status_code == 200, acknowledged.content
    again = client.post(f"{API}{dispatched.pk}/assist/", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_dispatched"
    # with its own assignment it works the incident (caller data included); revoking the share
    # leaves that, as for any agency that has (or had) an assignment
    assert client.get(f"{API}{dispatched.pk}/").json()["personal_data_masked"] is False
    dispatch_services.incident_share_revoke(share=share, actor=dispatcher)
    assert client.get(f"{API}{dispatched.pk}/").status_code == 200


def test_joining_waits_for_the_command_centers_dispatch(api_as, dispatcher, incident, other_agency_user, satpol):
    dispatch_services.incident_share(incident=incident, agency=satpol, level="assist", actor=dispatcher)

    response = api_as(other_agency_user).post(f"{API}{incident.pk}/assist/", {}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "incident_not_dispatched"
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.RECEIVED
    assert not Assignment.objects.exists()


def test_joining_names_an_agency_when_several_assist(api_as, dispatcher, dispatched, satpol, seeded):
    bpbd = seeded.agency("bpbd")
    both = UserFactory(username="two-agencies")
    MembershipFactory(user=both, agency=satpol, role=Role.AGENCY_STAFF)
    MembershipFactory(user=both, agency=bpbd, role=Role.AGENCY_STAFF)
    for agency in (satpol, bpbd):
        dispatch_services.incident_share(incident=dispatched, agency=agency, level="assist", actor=dispatcher)
    client = api_as(both)

    ambiguous = client.post(f"{API}{dispatched.pk}/assist/", {}, format="json")
    assert ambiguous.status_code == 400 and ambiguous.json()["code"] == "agency_required"
    foreign = client.post(f"{API}{dispatched.pk}/assist/", {"agency": "damkar"}, format="json")
    assert foreign.status_code == 403
    named = client.post(f"{API}{dispatched.pk}/assist/", {"agency": "bpbd"}, format="json")
    assert named.status_code == 201 and named.json()["agency"]["code"] == "bpbd"


def test_an_agency_client_joins_only_with_assignments_write(api_as, dispatcher, dispatched, satpol):
    from semarang112.api.models import ApiClient

    dispatch_services.incident_share(incident=dispatched, agency=satpol, level="assist", actor=dispatcher)
    reader = ApiClient.objects.create(name="satpol-reader", agency=satpol, scopes=["incidents:read"])
    worker = ApiClient.objects.create(
        name="satpol-worker", agency=satpol, scopes=["incidents:read", "assignments:write"]
    )

    assert api_as(api_client=reader).post(f"{API}{dispatched.pk}/assist/", {}, format="json").status_code == 403
    assert (
        api_as(api_client=reader).post(f"{API}{dispatched.pk}/notes/", {"note": "x"}, format="json").status_code == 403
    )
    response = api_as(api_client=worker).post(f"{API}{dispatched.pk}/assist/", {}, format="json")
    assert response.status_code == 201, response.content


# ------------------------------------------------------------------------------------------------
# The console: revoke on each live share, join for assisting agencies
# ------------------------------------------------------------------------------------------------
def test_console_shows_revoke_to_who_may_revoke_and_revokes(login, dispatcher, dispatched, other_agency_user, satpol):
    share = dispatch_services.incident_share(incident=dispatched, agency=satpol, level="assist", actor=dispatcher)
    page = reverse("incidents:detail", args=[dispatched.pk])
    revoke = reverse("incidents:action", args=[dispatched.pk, "revoke_share"])

    assert revoke in login(dispatcher).get(page).content.decode()
    agency_page = login(other_agency_user).get(page).content.decode()
    assert revoke not in agency_page
    assert reverse("incidents:action", args=[dispatched.pk, "assist"]) in agency_page

    response = login(dispatcher).post(revoke, {"share": share.pk})

    assert response.status_code == 302
    assert grants(dispatched, satpol) == set()
    assert login(other_agency_user).get(page).status_code == 404
    assert login(dispatcher).post(revoke, {"share": "999999"}).status_code == 404


def test_console_join_creates_the_agencys_assignment(login, dispatcher, dispatched, other_agency_user, satpol):
    dispatch_services.incident_share(incident=dispatched, agency=satpol, level="assist", actor=dispatcher)

    response = login(other_agency_user).post(reverse("incidents:action", args=[dispatched.pk, "assist"]), {"note": ""})

    assert response.status_code == 302
    assignment = Assignment.objects.get(incident=dispatched, agency=satpol)
    assert assignment.via_share is not None
    inbox = login(other_agency_user).get(reverse("dispatch:inbox")).content.decode()
    assert dispatched.reference in inbox


def test_agency_groups_are_made_on_first_use(seeded):
    assert not Group.objects.filter(name__startswith="agency:").exists()
    agency = seeded.agency("pmi")
    group = dispatch_services.agency_group_ensure(agency)
    assert group.name == "agency:pmi" and dispatch_services.agency_group_ensure(agency) == group
