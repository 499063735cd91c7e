"""Visibility and personal data beyond the matrices: regions, units, auditors, inactive agencies."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dispatch import services as dispatch_services
from dispatch.access import access_for
from dispatch.models import Agency, FieldUnit, Role
from incidents import services
from incidents.models import Incident
from incidents.selectors import incident_list_for_user
from semarang112.api.models import ApiClient
from tests.factories import AgencyFactory, MembershipFactory, RegionFactory, UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/incidents/"


@pytest.fixture
def kendal(seeded):
    region = RegionFactory(code="3324", name="Kabupaten Kendal", reference_prefix="KDL")
    center = AgencyFactory(code="cc112-kendal", kind=Agency.Kind.COMMAND_CENTER, region=region)
    dispatcher = MembershipFactory(user=UserFactory(username="kendal-dispatcher"), agency=center, role=Role.DISPATCHER)
    return region, dispatcher.user


def test_a_command_center_sees_its_own_region_only(api_as, kendal, seeded, incident):
    region, kendal_dispatcher = kendal
    client = api_as(kendal_dispatcher)

    created = client.post(API, {"category": "fire", "description": "Kebakaran di Kendal."}, format="json")

    assert created.status_code == 201, created.content
    assert created.json()["region"] == "3324" and created.json()["reference"].startswith("KDL-")
    assert [row["id"] for row in client.get(API).json()["results"]] == [created.json()["id"]]
    assert client.get(f"{API}{incident.pk}/").status_code == 404
    calls = client.post("/api/v1/calls/", {"caller_number": "081299998888"}, format="json")
    assert calls.status_code == 201 and calls.json()["region"] == "3324"


def test_a_field_officer_sees_the_assignments_of_their_unit_only(api_as, seeded, dispatcher, make_incident):
    damkar = seeded.agency("damkar")
    unit_a = FieldUnit.objects.create(agency=damkar, code="A", name="A")
    unit_b = FieldUnit.objects.create(agency=damkar, code="B", name="B")
    officer = MembershipFactory(
        user=UserFactory(username="officer-a"), agency=damkar, role=Role.FIELD_OFFICER, unit=unit_a
    ).user
    ours, theirs, unassigned = make_incident(), make_incident(), make_incident()
    for incident, unit in ((ours, unit_a), (theirs, unit_b), (unassigned, None)):
        (assignment,) = dispatch_services.incident_dispatch(incident=incident, agencies=[damkar], actor=dispatcher)
        if unit is not None:
            dispatch_services.assignment_assign_resource(assignment=assignment, actor=dispatcher, unit=unit)

    rows = api_as(officer).get(API).json()["results"]

    assert [row["id"] for row in rows] == [ours.pk]
    assert rows[0]["personal_data_masked"] is False  # they are the ones going there


def test_a_membership_pointing_at_another_agencys_unit_opens_nothing(api_as, seeded, dispatcher, make_incident):
    """A field officer of Satpol PP recorded (wrongly) with a fire-service unit does not see that unit's work."""
    engine = FieldUnit.objects.create(agency=seeded.agency("damkar"), code="E1", name="Engine 1")
    officer = MembershipFactory(
        user=UserFactory(username="satpol-officer"),
        agency=seeded.agency("satpol-pp"),
        role=Role.FIELD_OFFICER,
        unit=engine,
    ).user
    incident = make_incident()
    (assignment,) = dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher
    )
    dispatch_services.assignment_assign_resource(assignment=assignment, actor=dispatcher, unit=engine)

    assert access_for(officer).unit_ids == frozenset()
    assert api_as(officer).get(f"{API}{incident.pk}/").status_code == 404


@pytest.mark.parametrize("allowed", [False, True])
def test_auditors_read_everything_and_see_personal_data_per_setting(api_as, login, seeded, incident, settings, allowed):
    settings.AUDITOR_SEES_PERSONAL_DATA = allowed
    auditor = MembershipFactory(
        user=UserFactory(username="auditor"), agency=seeded.agency("cc112"), role=Role.AUDITOR
    ).user

    detail = api_as(auditor).get(f"{API}{incident.pk}/").json()
    page = login(auditor).get(reverse("incidents:detail", args=[incident.pk])).content.decode()

    assert detail["personal_data_masked"] is not allowed
    assert (detail["caller_number"] == "+6281234567890") is allowed
    assert ("+6281234567890" in page) is allowed
    assert api_as(auditor).post(f"{API}{incident.pk}/notes/", {"note": "x"}, format="json").status_code == 403


def test_an_inactive_agency_or_membership_sees_nothing(api_as, seeded, dispatcher, incident, agency_user):
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    client = api_as(agency_user)
    assert client.get(f"{API}{incident.pk}/").status_code == 200

    Agency.objects.filter(code="damkar").update(is_active=False)
    assert api_as(agency_user).get(f"{API}{incident.pk}/").status_code == 404

    Agency.objects.filter(code="damkar").update(is_active=True)
    agency_user.memberships.update(is_active=False)
    assert api_as(agency_user).get(f"{API}{incident.pk}/").status_code == 404


def test_integration_clients(api_as, seeded, dispatcher, make_incident, kendal):
    region, kendal_dispatcher = kendal
    ours, other = make_incident(), make_incident()
    dispatch_services.incident_dispatch(incident=ours, agencies=[seeded.agency("damkar")], actor=dispatcher)
    elsewhere = services.incident_create(
        actor=kendal_dispatcher, region=region, category=seeded.category("fire"), description="Kendal."
    )
    agency_client = ApiClient.objects.create(
        name="damkar-sys", agency=seeded.agency("damkar"), scopes=["incidents:read"]
    )
    national = ApiClient.objects.create(name="national-112", scopes=["incidents:read"])
    create_only = ApiClient.objects.create(name="cctv", scopes=["incidents:create"])

    def ids(client) -> set[int]:
        return {row["id"] for row in api_as(api_client=client).get(API, {"page_size": 100}).json()["results"]}

    assert ids(agency_client) == {ours.pk}
    assert ids(national) == {ours.pk, other.pk, elsewhere.pk}  # a client without an agency: every region
    listed = api_as(api_client=create_only).get(API)
    assert listed.status_code == 403 and listed.json()["code"] == "insufficient_scope"
    assert api_as(api_client=create_only).get(f"{API}{ours.pk}/").status_code == 404


def test_superusers_see_everything(seeded, make_incident):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    incidents = {make_incident().pk for _ in range(2)}
    assert set(incident_list_for_user(root).values_list("pk", flat=True)) == incidents
    assert all(incident_list_for_user(root).values_list("pii_visible", flat=True))
    assert Incident.objects.count() == 2
