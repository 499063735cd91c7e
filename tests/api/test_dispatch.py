"""Contract tests of assignments, units, volunteers, agencies and the reference data."""

from __future__ import annotations

import pytest

from dispatch import services as dispatch_services
from dispatch.models import Assignment, FieldUnit, Role, Volunteer
from tests.factories import FieldUnitFactory, MembershipFactory, UserFactory, assignment_in_status

from .conftest import problem

URL = "/api/v1/assignments/"
A = Assignment.Status


@pytest.fixture
def assignment(incident, dispatcher, seeded):
    (assignment,) = dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher
    )
    return assignment


def detail(assignment) -> str:
    return f"{URL}{assignment.pk}/"


STEPS = [
    ("acknowledge", A.REQUESTED, {}, A.ACKNOWLEDGED),
    ("en-route", A.ACKNOWLEDGED, {}, A.EN_ROUTE),
    ("on-scene", A.ACKNOWLEDGED, {"note": "Tiba."}, A.ON_SCENE),
    ("complete", A.ON_SCENE, {}, A.COMPLETED),
    ("decline", A.REQUESTED, {"reason": "Tidak ada unit."}, A.DECLINED),
]


@pytest.mark.parametrize("path, start, body, expected", STEPS)
def test_the_agency_moves_its_assignment(staff, agency_user, incident, seeded, path, start, body, expected):
    assignment = assignment_in_status(start, incident=incident, agency=seeded.agency("damkar"))

    response = staff(agency_user).post(f"{detail(assignment)}{path}/", body, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == expected
    assert response.json()["agency"]["code"] == "damkar"


def test_a_client_of_the_agency_moves_its_assignment(integration, assignment, seeded):
    client = integration(agency=seeded.agency("damkar"), scopes=["assignments:write", "incidents:read"])

    response = client.post(f"{detail(assignment)}acknowledge/", {}, format="json")

    assert response.status_code == 200, response.content
    assert assignment.incident.timeline.filter(kind="assignment_status").get().actor_label.startswith("api:")


def test_the_dispatcher_withdraws_an_agency(staff, dispatcher, assignment):
    response = staff(dispatcher).post(f"{detail(assignment)}cancel/", {"reason": "Diganti BPBD."}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"


def test_decline_needs_a_reason(staff, agency_user, assignment):
    body = problem(staff(agency_user).post(f"{detail(assignment)}decline/", {}, format="json"), 400, "invalid")

    assert list(body["errors"]) == ["reason"]


def test_a_step_out_of_order_is_409_with_the_allowed_states(staff, agency_user, assignment):
    body = problem(
        staff(agency_user).post(f"{detail(assignment)}complete/", {}, format="json"), 409, "invalid_transition"
    )

    assert body["allowed"] == ["acknowledged", "cancelled", "declined"]


def test_the_command_center_operator_cannot_acknowledge_for_the_agency(staff, operator, assignment):
    problem(staff(operator).post(f"{detail(assignment)}acknowledge/", {}, format="json"), 403, "forbidden")


@pytest.mark.parametrize(
    "method, suffix",
    [("get", "")] + [("post", f"{step}/") for step, *_ in STEPS] + [("post", "cancel/"), ("post", "assign-resource/")],
)
def test_another_agency_gets_404_on_every_assignment_endpoint(staff, other_agency_user, assignment, method, suffix):
    problem(
        getattr(staff(other_agency_user), method)(f"{detail(assignment)}{suffix}", {}, format="json"), 404, "not_found"
    )


def test_assignment_list_is_scoped_and_filtered(staff, agency_user, other_agency_user, assignment):
    assert [row["id"] for row in staff(agency_user).get(URL).json()["results"]] == [assignment.pk]
    assert staff(agency_user).get(URL, {"status": "declined"}).json()["results"] == []
    assert staff(other_agency_user).get(URL).json()["results"] == []


@pytest.mark.parametrize("page_size", [10, 100])
def test_assignment_list_query_count_is_constant(
    staff, dispatcher, make_incident, seeded, page_size, django_assert_max_num_queries
):
    for _ in range(page_size):
        dispatch_services.incident_dispatch(
            incident=make_incident(), agencies=[seeded.agency("damkar")], actor=dispatcher
        )
    client = staff(dispatcher)

    with django_assert_max_num_queries(5):
        response = client.get(URL, {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


# ------------------------------------------------------------------------------------------------
# Units and volunteers: read by anyone, updated by their own agency
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def unit(seeded):
    return FieldUnitFactory(agency=seeded.agency("damkar"), code="DMK-01", name="Engine 1")


@pytest.fixture
def damkar_supervisor(seeded):
    return MembershipFactory(
        user=UserFactory(username="damkar-spv"), agency=seeded.agency("damkar"), role=Role.AGENCY_SUPERVISOR
    ).user


def test_an_agency_supervisor_reports_its_unit_status(staff, damkar_supervisor, unit):
    response = staff(damkar_supervisor).patch(f"/api/v1/units/{unit.pk}/", {"status": "off_duty"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "off_duty"
    assert FieldUnit.objects.get(pk=unit.pk).status == "off_duty"


def test_another_agency_cannot_update_the_unit(staff, other_agency_user, unit):
    response = staff(other_agency_user).patch(f"/api/v1/units/{unit.pk}/", {"status": "off_duty"}, format="json")

    problem(response, 403, "forbidden")
    assert FieldUnit.objects.get(pk=unit.pk).status == "available"


def test_unit_status_is_a_choice(staff, damkar_supervisor, unit):
    body = problem(
        staff(damkar_supervisor).patch(f"/api/v1/units/{unit.pk}/", {"status": "flying"}, format="json"), 400
    )

    assert list(body["errors"]) == ["status"]


def test_units_are_listed_and_filtered(staff, operator, unit, seeded):
    FieldUnitFactory(agency=seeded.agency("bpbd"), code="BPBD-1")
    client = staff(operator)

    rows = client.get("/api/v1/units/", {"agency": "damkar"}).json()["results"]

    assert [row["code"] for row in rows] == ["DMK-01"]
    assert client.get(f"/api/v1/units/{unit.pk}/").json()["agency"]["code"] == "damkar"


@pytest.fixture
def volunteer(seeded):
    return Volunteer.objects.create(community=seeded.agency("pmi"), name="Rina", phone="081377778888")


def test_the_coordinator_reports_volunteer_availability(staff, volunteer, seeded):
    coordinator = MembershipFactory(
        user=UserFactory(username="pmi-coord"), agency=seeded.agency("pmi"), role=Role.VOLUNTEER_COORDINATOR
    ).user

    response = staff(coordinator).patch(f"/api/v1/volunteers/{volunteer.pk}/", {"is_available": False}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["is_available"] is False


def test_another_agency_cannot_update_a_volunteer(staff, agency_user, volunteer):
    problem(
        staff(agency_user).patch(f"/api/v1/volunteers/{volunteer.pk}/", {"is_available": False}, format="json"),
        403,
        "forbidden",
    )


def test_volunteer_phone_is_masked_for_principals_without_personal_data(integration, volunteer):
    client = integration(scopes=["incidents:create"])

    (row,) = client.get("/api/v1/volunteers/").json()["results"]

    assert row["phone"] == "0813****888"


# ------------------------------------------------------------------------------------------------
# Reference data
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url, key, expected",
    [
        (
            "/api/v1/categories/?parent=natural-disaster&ordering=code",
            "code",
            ["flood", "landslide", "other-disaster", "tidal-flood"],
        ),
        ("/api/v1/agencies/?kind=police", "code", ["polrestabes"]),
        ("/api/v1/districts/?code=3374060", "name", ["Candisari"]),
    ],
)
def test_reference_data(staff, operator, url, key, expected):
    response = staff(operator).get(url)

    assert response.status_code == 200, response.content
    assert [row[key] for row in response.json()["results"]] == expected


def test_villages_of_a_district(staff, operator, seeded):
    district = seeded.district("Candisari")

    rows = staff(operator).get("/api/v1/villages/", {"district": district.pk, "page_size": 100}).json()["results"]

    assert sorted(row["name"] for row in rows) == ["Candi", "Jatingaleh", "Jomblang", "Kaliwiru", "Tegalsari"]


@pytest.mark.parametrize("url", ["/api/v1/categories/", "/api/v1/districts/", "/api/v1/villages/", "/api/v1/agencies/"])
def test_reference_data_is_readable_by_any_client(integration, seeded, url):
    assert integration(scopes=["incidents:create"]).get(url).status_code == 200


def test_reference_detail(staff, operator, seeded):
    category = seeded.category("flood")

    data = staff(operator).get(f"/api/v1/categories/{category.pk}/").json()

    assert data["code"] == "flood" and data["parent"] == "natural-disaster"


@pytest.mark.parametrize("page_size", [10, 100])
def test_unit_and_volunteer_lists_query_counts_are_constant(
    staff, operator, seeded, page_size, django_assert_max_num_queries
):
    for index in range(page_size):
        FieldUnitFactory(agency=seeded.agency("damkar"), home_district=seeded.district("Tugu"))
        volunteer = Volunteer.objects.create(community=seeded.agency("pmi"), name=f"Relawan {index}")
        volunteer.districts.add(seeded.district("Tugu"), seeded.district("Genuk"))
    client = staff(operator)

    for url in ("/api/v1/units/", "/api/v1/volunteers/"):
        with django_assert_max_num_queries(6):
            response = client.get(url, {"page_size": page_size})
        assert len(response.json()["results"]) == page_size


def test_the_agency_puts_its_unit_on_the_assignment(staff, agency_user, assignment, unit):
    response = staff(agency_user).post(f"{detail(assignment)}assign-resource/", {"unit": unit.pk}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["unit"]["code"] == "DMK-01"
    assert FieldUnit.objects.get(pk=unit.pk).status == "assigned"


def test_a_unit_of_another_agency_is_400_naming_the_field(staff, agency_user, assignment, seeded):
    foreign = FieldUnitFactory(agency=seeded.agency("bpbd"))

    body = problem(
        staff(agency_user).post(f"{detail(assignment)}assign-resource/", {"unit": foreign.pk}, format="json"),
        400,
        "unit_other_agency",
    )

    assert list(body["errors"]) == ["unit"]


def test_assign_resource_needs_a_unit_or_a_volunteer(staff, agency_user, assignment):
    problem(staff(agency_user).post(f"{detail(assignment)}assign-resource/", {}, format="json"), 400, "invalid")
