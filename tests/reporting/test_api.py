"""GET /api/v1/reports/…: the figures for integrations and staff, scoped by permission, documented."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from semarang112.api import services as api_services
from semarang112.api.models import ApiClient

pytestmark = pytest.mark.django_db

FEB = {"period": "month", "date": "2025-02"}
ENDPOINTS = ["summary", "calls", "incidents", "response-times", "sla", "patterns", "comparison"]


def _as(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def _integration(*, scopes, agency=None) -> APIClient:
    name = f"client-{'-'.join(scopes)}-{agency.code if agency else 'center'}"
    api_client = ApiClient.objects.create(name=name, agency=agency, scopes=list(scopes))
    _key, raw = api_services.api_key_create(client=api_client)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    return response.json()


def test_summary_carries_every_figure(february, supervisor):
    response = _as(supervisor).get("/api/v1/reports/summary/", FEB)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["filters"]["start_date"] == "2025-02-01" and body["filters"]["time_zone"] == "Asia/Jakarta"
    assert body["filters"]["start"] == "2025-02-01T00:00:00+07:00"
    assert body["incidents"]["total"] == 8
    overall = body["response"]["overall"]["response"]
    assert (overall["count"], overall["median"], overall["p90"], overall["p95"]) == (6, 480.0, 780.0, 840.0)
    assert overall["within_target_share"] == 0.6667
    damkar = next(row for row in body["response"]["by_agency"] if row["key"] == "damkar")
    assert (damkar["rank"], damkar["response"]["median"]) == (1, 540.0)
    assert body["calls"]["prank_share"] == 0.2222
    assert body["answering"]["overall"]["answer_15s_share"] == 0.5714
    assert len(body["patterns"]["heatmap"]) == 7 and len(body["patterns"]["daily"]) == 28
    assert body["comparison"]["previous"]["incidents"] == 1


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_endpoint_needs_the_report_right(february, supervisor, operator, endpoint):
    url = f"/api/v1/reports/{endpoint}/"

    assert _as(supervisor).get(url, FEB).status_code == 200
    assert _problem(_as(operator).get(url, FEB), 403)["code"] == "forbidden"
    assert _problem(APIClient().get(url, FEB), 401)["status"] == 401
    assert _problem(_integration(scopes=["incidents:read"]).get(url, FEB), 403)["code"] == "forbidden"


def test_an_invalid_filter_is_a_problem_naming_the_parameter(february, supervisor):
    body = _problem(_as(supervisor).get("/api/v1/reports/incidents/", {"period": "month", "date": "2025-13"}), 400)

    assert body["code"] == "invalid" and "date" in body["errors"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_agency_supervisor_gets_its_agencys_figures(february, damkar_supervisor, satpol_supervisor, endpoint):
    damkar = _as(damkar_supervisor).get(f"/api/v1/reports/{endpoint}/", FEB).json()
    satpol = _as(satpol_supervisor).get(f"/api/v1/reports/{endpoint}/", FEB).json()

    if endpoint in ("summary", "incidents"):
        assert (damkar["incidents"]["total"], satpol["incidents"]["total"]) == (5, 0)
    if endpoint in ("summary", "response-times"):
        assert [row["key"] for row in damkar["response"]["by_agency"]] == ["damkar"]
        assert satpol["response"]["by_agency"] == []
    if endpoint in ("summary", "calls"):
        assert damkar["calls" if endpoint == "summary" else "outcomes"]["total"] == 0  # calls are the center's
    if endpoint == "patterns":
        assert sum(map(sum, damkar["patterns"]["heatmap"])) == 5
    if endpoint == "comparison":
        assert damkar["comparison"]["current"]["incidents"] == 5


def test_integration_clients_with_the_reports_scope(february, seeded):
    # A command-center integration that may read incidents and reports sees the region.
    center = _integration(scopes=["reports:read", "incidents:read"]).get("/api/v1/reports/incidents/", FEB)
    # An agency's integration sees its agency's incidents only.
    agency = _integration(scopes=["reports:read", "incidents:read"], agency=seeded.agency("damkar")).get(
        "/api/v1/reports/incidents/", FEB
    )

    assert center.status_code == 200, center.content
    assert (center.json()["incidents"]["total"], agency.json()["incidents"]["total"]) == (8, 5)


def test_the_reports_are_in_the_openapi_schema(db):
    response = APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    for endpoint in ENDPOINTS:
        operation = schema["paths"][f"/api/v1/reports/{endpoint}/"]["get"]
        assert operation["tags"] == ["reports"]
        assert {p["name"] for p in operation["parameters"]} >= {"period", "date", "from", "to", "agency", "category"}
        assert {"200", "400", "401", "403"} <= set(operation["responses"])
    assert "IntervalStats" in str(schema["components"]["schemas"]) or "Interval" in str(schema["components"]["schemas"])


def test_query_count_is_bounded(february, supervisor, django_assert_max_num_queries):
    client = _as(supervisor)

    with django_assert_max_num_queries(34):  # session, user, access, ~22 figure queries, transaction
        response = client.get("/api/v1/reports/summary/", FEB)

    assert response.status_code == 200
