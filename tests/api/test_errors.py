"""One error shape for every class of bad input (RFC 9457 problem details)."""

from __future__ import annotations

import pytest

from dispatch.models import Agency
from tests.factories import incident_in_status

from .conftest import problem

URL = "/api/v1/incidents/"


@pytest.fixture
def operator_api(staff, operator):
    return staff(operator)


@pytest.fixture
def dispatcher_api(staff, dispatcher):
    return staff(dispatcher)


def valid(**overrides):
    return {"category": "fire", "description": "Kebakaran rumah.", **overrides}


@pytest.mark.parametrize(
    "body, field",
    [
        (valid(category="no-such-category"), "category"),
        (valid(district=999_999), "district"),
        (valid(village=999_999), "village"),
        (valid(call=999_999), "call"),
        (valid(district="abc"), "district"),
    ],
)
def test_unknown_ids_in_the_body_are_400_naming_the_field(operator_api, body, field):
    body = problem(operator_api.post(URL, body, format="json"), 400, "invalid")

    assert list(body["errors"]) == [field]
    assert field in body["detail"]


@pytest.mark.parametrize(
    "coordinates, field",
    [
        ({"latitude": 91, "longitude": 110}, "latitude"),
        ({"latitude": -7, "longitude": 181}, "longitude"),
        ({"latitude": "north", "longitude": 110}, "latitude"),
        ({"latitude": "NaN", "longitude": 110}, "latitude"),
    ],
)
def test_bad_coordinates_are_400(operator_api, coordinates, field):
    body = problem(operator_api.post(URL, valid(**coordinates), format="json"), 400, "invalid")

    assert field in body["errors"]


def test_half_a_coordinate_pair_is_400_from_the_service(operator_api):
    body = problem(operator_api.post(URL, valid(latitude=-7.0), format="json"), 400, "coordinates_incomplete")

    assert body["errors"] == {"longitude": [body["detail"]]}


def test_coordinates_with_gps_precision_are_rounded_not_refused(operator_api):
    response = operator_api.post(URL, valid(latitude=-7.02451234, longitude=110.42031999), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["latitude"] == -7.024512


def test_an_inactive_category_is_400_with_a_clear_message(operator_api, seeded):
    seeded.category("fire").__class__.objects.filter(code="fire").update(is_active=False)

    body = problem(operator_api.post(URL, valid(), format="json"), 400, "category_inactive")

    assert "fire" in body["detail"] and body["errors"] == {"category": [body["detail"]]}


def test_dispatch_to_an_inactive_agency_is_400_naming_it(dispatcher_api, make_incident):
    incident = make_incident()
    Agency.objects.filter(code="damkar").update(is_active=False)

    response = dispatcher_api.post(f"{URL}{incident.pk}/dispatch/", {"agencies": ["damkar"]}, format="json")

    body = problem(response, 400, "agency_inactive")
    assert "damkar" in body["detail"] and "agencies" in body["errors"]


def test_dispatch_to_an_unknown_agency_is_400_naming_the_field(dispatcher_api, make_incident):
    incident = make_incident()

    response = dispatcher_api.post(f"{URL}{incident.pk}/dispatch/", {"agencies": ["damkar", "nope"]}, format="json")

    body = problem(response, 400, "invalid")
    assert list(body["errors"]) == ["agencies"]


@pytest.mark.parametrize("field, limit", [("description", 5000), ("address", 500), ("caller_name", 120)])
def test_oversized_text_is_400(operator_api, field, limit):
    body = problem(operator_api.post(URL, valid(**{field: "x" * (limit + 1)}), format="json"), 400, "invalid")

    assert field in body["errors"]
    assert str(limit) in body["errors"][field][0]


def test_a_body_over_the_upload_limit_is_413(operator_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    problem(operator_api.post(URL, valid(description="x" * 2000), format="json"), 413, "request_too_large")


def test_malformed_json_is_400(operator_api):
    body = problem(operator_api.post(URL, '{"category": "fire",', content_type="application/json"), 400, "parse_error")

    assert "JSON" in body["detail"]


@pytest.mark.parametrize("payload", ["[]", '"fire"', "42"])
def test_json_that_is_not_an_object_is_400(operator_api, payload):
    problem(operator_api.post(URL, payload, content_type="application/json"), 400, "invalid")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_wrong_content_type_is_415(operator_api, content_type):
    problem(operator_api.post(URL, "category=fire", content_type=content_type), 415, "unsupported_media_type")


def test_an_unknown_field_is_400(operator_api):
    body = problem(operator_api.post(URL, valid(lat=-7), format="json"), 400, "invalid")

    assert list(body["errors"]) == ["lat"]


def test_an_illegal_transition_is_409_with_the_allowed_next_states(staff, supervisor, seeded):
    incident = incident_in_status("closed", region=seeded.region, category=seeded.category("fire"))

    response = staff(supervisor).post(f"{URL}{incident.pk}/resolve/", {}, format="json")

    body = problem(response, 409, "invalid_transition")
    assert body["allowed"] == ["verified"]
    assert body["current"] == "closed" and body["target"] == "resolved"


def test_a_missing_reason_is_400_naming_the_field(dispatcher_api, make_incident):
    incident = make_incident()

    body = problem(dispatcher_api.post(f"{URL}{incident.pk}/cancel/", {}, format="json"), 400, "invalid")

    assert list(body["errors"]) == ["reason"]


def test_an_unknown_endpoint_is_a_problem_404(operator_api):
    problem(operator_api.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_an_id_out_of_range_is_a_problem_404(operator_api):
    problem(operator_api.get(f"{URL}99999999999999999999999/"), 404, "not_found")
    problem(operator_api.get(f"{URL}999999999999/"), 404, "not_found")


def test_a_wrong_method_is_a_problem_405(operator_api, make_incident):
    incident = make_incident()

    problem(operator_api.delete(f"{URL}{incident.pk}/"), 405, "method_not_allowed")
    problem(operator_api.put(f"{URL}{incident.pk}/", valid(), format="json"), 405, "method_not_allowed")


def test_asking_for_html_is_a_problem_406(operator_api):
    problem(operator_api.get(URL, HTTP_ACCEPT="text/html"), 406, "not_acceptable")


def test_a_bad_filter_value_is_400_naming_the_filter(operator_api):
    body = problem(operator_api.get(URL, {"status": "burning", "priority": "9"}), 400, "invalid")

    assert set(body["errors"]) == {"status", "priority"}


def test_a_server_error_under_the_api_is_a_problem_500(rf):
    from semarang112.api.exception_handlers import api_server_error

    response = api_server_error(rf.get("/api/v1/incidents/"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"


def test_a_lone_surrogate_in_the_body_is_400(operator_api):
    payload = '{"category": "fire", "description": "api \\ud835 besar"}'

    body = problem(operator_api.post(URL, payload, content_type="application/json"), 400, "parse_error")

    assert "Unicode" in body["detail"]


@pytest.mark.parametrize("received_at", ["1900-01-01T00:00:00+07:00", "2150-01-01T00:00:00+07:00", "yesterday"])
def test_an_absurd_received_time_is_400(operator_api, received_at):
    body = problem(operator_api.post(URL, valid(received_at=received_at), format="json"), 400, "invalid")

    assert list(body["errors"]) == ["received_at"]


def test_a_received_time_in_the_future_is_400_from_the_service(operator_api):
    problem(
        operator_api.post(URL, valid(received_at="2099-01-01T00:00:00+07:00"), format="json"), 400, "received_in_future"
    )


def test_nested_errors_are_flattened_with_a_path():
    from semarang112.api.exception_handlers import _flatten

    assert _flatten({"agencies": [{}, ["Unknown."]], "note": ["Too long."]}) == {
        "agencies.1": ["Unknown."],
        "note": ["Too long."],
    }
