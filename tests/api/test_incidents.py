"""Contract tests of /api/v1/incidents/: create, read, edit, every action, visibility, masking."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch import services as dispatch_services
from dispatch.models import Role
from incidents import services
from incidents.models import Incident, TimelineEvent
from tests.factories import MembershipFactory, UserFactory, incident_in_status

from .conftest import problem

URL = "/api/v1/incidents/"
S = Incident.Status


def detail(incident) -> str:
    return f"{URL}{incident.pk}/"


# ------------------------------------------------------------------------------------------------
# Create
# ------------------------------------------------------------------------------------------------
def test_operator_reports_an_incident(staff, operator, seeded):
    body = {
        "category": "fire",
        "description": "Kebakaran rumah warga.",
        "address": "Jl. Teuku Umar 12",
        "village": seeded.village("Jatingaleh").pk,
        "latitude": -7.0245,
        "longitude": 110.4203,
        "caller_name": "Budi Santoso",
        "caller_number": "0812-3456-7890",
    }

    response = staff(operator).post(URL, body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    incident = Incident.objects.get(pk=data["id"])
    assert response["Location"] == detail(incident)
    assert response["ETag"] == 'W/"1"'
    assert data["reference"] == incident.reference and data["status"] == "received"
    assert data["category"] == {"id": incident.category_id, "code": "fire", "name": "Kebakaran"}
    assert data["district"]["name"] == "Candisari"  # derived from the village by the service
    assert data["caller_number"] == "+6281234567890"
    assert data["channel"] == "phone_112"
    assert incident.created_by == operator
    assert TimelineEvent.objects.filter(incident=incident, kind="created").exists()


def test_a_client_report_is_recorded_with_the_client_as_actor(integration, seeded):
    client = integration(scopes=["incidents:create", "incidents:read"], name="national-112")

    response = client.post(
        URL, {"category": "medical", "description": "Orang pingsan."}, format="json", HTTP_IDEMPOTENCY_KEY="a1"
    )

    assert response.status_code == 201, response.content
    incident = Incident.objects.get(pk=response.json()["id"])
    assert incident.channel == "api" and incident.created_by is None
    assert incident.timeline.get(kind="created").actor_label == "api:national-112"


def test_a_client_without_the_create_scope_is_403(integration, seeded):
    client = integration(scopes=["incidents:read"])

    response = client.post(URL, {"category": "fire", "description": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="a")

    problem(response, 403, "forbidden")


def test_agency_staff_cannot_report_incidents(staff, agency_user):
    problem(staff(agency_user).post(URL, {"category": "fire", "description": "x"}, format="json"), 403, "forbidden")


def test_a_report_with_its_call_links_the_call(staff, operator, seeded):
    client = staff(operator)
    call = client.post("/api/v1/calls/", {"caller_number": "081211112222"}, format="json").json()

    response = client.post(URL, {"category": "fire", "description": "x", "call": call["id"]}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["caller_number"] == "+6281211112222"
    assert client.get(f"/api/v1/calls/{call['id']}/").json()["outcome"] == "emergency"


# ------------------------------------------------------------------------------------------------
# Read
# ------------------------------------------------------------------------------------------------
def test_list_embeds_what_a_list_needs(staff, dispatcher, make_incident, seeded):
    incident = make_incident()
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)

    response = staff(dispatcher).get(URL)

    assert response.status_code == 200, response.content
    (row,) = response.json()["results"]
    assert row["category"]["code"] == "fire" and row["district"]["code"] == "3374060"
    assert row["assignments"][0]["agency"] == {
        "id": seeded.agency("damkar").pk,
        "code": "damkar",
        "name": seeded.agency("damkar").name,
    }
    assert row["status"] == "dispatched"


def test_retrieve_carries_an_etag(staff, operator, incident):
    response = staff(operator).get(detail(incident))

    assert response.status_code == 200
    assert response["ETag"] == f'W/"{incident.version}"'
    assert response.json()["version"] == incident.version


def test_timeline_is_paginated_oldest_first(staff, dispatcher, incident, seeded):
    services.incident_verify(incident=incident, actor=dispatcher)
    services.incident_add_note(incident=incident, actor=dispatcher, note="Asap tebal.")

    response = staff(dispatcher).get(f"{detail(incident)}timeline/")

    assert response.status_code == 200, response.content
    kinds = [event["kind"] for event in response.json()["results"]]
    assert kinds == ["created", "status_changed", "note"]
    assert response.json()["results"][2]["actor"] == "dispatcher"


def test_assignments_of_an_incident(staff, dispatcher, incident, seeded):
    dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar"), seeded.agency("dinkes-psc")], actor=dispatcher
    )

    response = staff(dispatcher).get(f"{detail(incident)}assignments/")

    assert response.status_code == 200, response.content
    assert [row["agency"]["code"] for row in response.json()] == ["damkar", "dinkes-psc"]


# ------------------------------------------------------------------------------------------------
# Personal data
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def auditor(seeded):
    return MembershipFactory(
        user=UserFactory(username="auditor"), agency=seeded.agency("cc112"), role=Role.AUDITOR
    ).user


def test_caller_data_is_masked_for_principals_that_may_not_see_it(staff, auditor, incident, settings):
    settings.AUDITOR_SEES_PERSONAL_DATA = False
    client = staff(auditor)

    row = client.get(URL).json()["results"][0]
    one = client.get(detail(incident)).json()

    for data in (row, one):
        assert data["caller_number"] == "+628****890"
        assert data["caller_name"] == "B***"
        assert data["personal_data_masked"] is True


def test_caller_data_is_shown_to_the_command_center(staff, operator, incident):
    data = staff(operator).get(detail(incident)).json()

    assert data["caller_number"] == "+6281234567890" and data["personal_data_masked"] is False


def test_timeline_edits_of_caller_data_are_masked_too(staff, auditor, operator, incident, settings):
    settings.AUDITOR_SEES_PERSONAL_DATA = False
    services.incident_update(incident=incident, actor=operator, data={"caller_number": "081299998888"})

    events = staff(auditor).get(f"{detail(incident)}timeline/").json()["results"]

    change = next(e for e in events if e["kind"] == "updated")["payload"]["changes"]["caller_number"]
    assert all("****" in value for value in change)


# ------------------------------------------------------------------------------------------------
# Edit with optimistic concurrency
# ------------------------------------------------------------------------------------------------
def test_patch_with_a_matching_if_match_edits_and_bumps_the_etag(staff, operator, incident):
    client = staff(operator)
    etag = client.get(detail(incident))["ETag"]

    response = client.patch(
        detail(incident), {"priority": 2, "address": "Jl. Pemuda 1"}, format="json", HTTP_IF_MATCH=etag
    )

    assert response.status_code == 200, response.content
    assert response.json()["priority"] == 2 and response.json()["address"] == "Jl. Pemuda 1"
    assert response["ETag"] == f'W/"{incident.version + 1}"'


def test_two_operators_cannot_silently_overwrite_each_other(staff, operator, dispatcher, incident):
    first, second = staff(operator), staff(dispatcher)
    etag = first.get(detail(incident))["ETag"]
    assert second.get(detail(incident))["ETag"] == etag
    assert first.patch(detail(incident), {"priority": 2}, format="json", HTTP_IF_MATCH=etag).status_code == 200

    response = second.patch(detail(incident), {"priority": 3}, format="json", HTTP_IF_MATCH=etag)

    body = problem(response, 412, "precondition_failed")
    assert body["current_version"] == incident.version + 1
    assert Incident.objects.get(pk=incident.pk).priority == 2


def test_patch_without_if_match_is_allowed(staff, operator, incident):
    assert staff(operator).patch(detail(incident), {"priority": 4}, format="json").status_code == 200


@pytest.mark.parametrize("field", ["status", "reference", "version", "category", "received_at"])
def test_patch_cannot_write_status_or_other_read_only_fields(staff, operator, incident, field):
    body = problem(staff(operator).patch(detail(incident), {field: "closed"}, format="json"), 400, "invalid")

    assert list(body["errors"]) == [field]
    assert Incident.objects.get(pk=incident.pk).status == "received"


def test_patch_of_a_closed_incident_is_409(staff, supervisor, seeded):
    incident = incident_in_status("closed", region=seeded.region, category=seeded.category("fire"))

    problem(staff(supervisor).patch(detail(incident), {"priority": 1}, format="json"), 409, "incident_final")


# ------------------------------------------------------------------------------------------------
# Actions: each calls its one service
# ------------------------------------------------------------------------------------------------
ACTIONS = [
    # (action path, start status, who, body, expected status)
    ("verify", S.RECEIVED, "operator", {}, S.VERIFIED),
    ("dispatch", S.VERIFIED, "dispatcher", {"agencies": ["damkar", "dinkes-psc"]}, S.DISPATCHED),
    ("dispatch", S.RECEIVED, "dispatcher", {"agencies": ["damkar"]}, S.DISPATCHED),
    ("resolve", S.VERIFIED, "dispatcher", {"note": "Padam."}, S.RESOLVED),
    ("close", S.RESOLVED, "supervisor", {}, S.CLOSED),
    ("reopen", S.CLOSED, "supervisor", {"note": "Api muncul lagi."}, S.VERIFIED),
    ("cancel", S.RECEIVED, "operator", {"reason": "Pelapor membatalkan."}, S.CANCELLED),
    ("mark-false-alarm", S.RECEIVED, "operator", {"reason": "Tidak ada apa-apa."}, S.FALSE_ALARM),
    ("mark-false-alarm", S.VERIFIED, "operator", {}, S.FALSE_ALARM),
]


@pytest.mark.parametrize("path, start, who, body, expected", ACTIONS)
def test_incident_actions(request, staff, seeded, path, start, who, body, expected):
    user = request.getfixturevalue(who)
    incident = incident_in_status(start, region=seeded.region, category=seeded.category("fire"))

    response = staff(user).post(f"{detail(incident)}{path}/", body, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == expected
    assert response["ETag"] == f'W/"{Incident.objects.get(pk=incident.pk).version}"'
    assert incident.timeline.filter(to_state=expected).exists()


def test_merge_into_another_incident(staff, dispatcher, make_incident):
    duplicate, original = make_incident(), make_incident()

    response = staff(dispatcher).post(f"{detail(duplicate)}merge/", {"into": original.pk}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "merged" and response.json()["duplicate_of"] == original.pk


def test_merge_into_an_invisible_incident_is_400_naming_the_field(staff, dispatcher, make_incident):
    duplicate = make_incident()

    body = problem(staff(dispatcher).post(f"{detail(duplicate)}merge/", {"into": 10**9}, format="json"), 400)

    assert list(body["errors"]) == ["into"]


def test_change_category(staff, operator, incident):
    response = staff(operator).post(f"{detail(incident)}change-category/", {"category": "flood"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["category"]["code"] == "flood"


def test_change_category_with_a_stale_if_match_is_412(staff, operator, dispatcher, incident):
    client = staff(operator)
    etag = client.get(detail(incident))["ETag"]
    services.incident_update(incident=incident, actor=dispatcher, data={"priority": 2})

    response = client.post(
        f"{detail(incident)}change-category/", {"category": "flood"}, format="json", HTTP_IF_MATCH=etag
    )

    body = problem(response, 412, "precondition_failed")
    assert body["current_version"] == incident.version + 1
    assert Incident.objects.get(pk=incident.pk).category.code == "fire"
    assert not TimelineEvent.objects.filter(incident=incident, kind="category_changed").exists()


def test_change_category_with_the_current_if_match(staff, operator, incident):
    client = staff(operator)
    etag = client.get(detail(incident))["ETag"]

    response = client.post(
        f"{detail(incident)}change-category/", {"category": "flood"}, format="json", HTTP_IF_MATCH=etag
    )

    assert response.status_code == 200, response.content
    assert response.json()["category"]["code"] == "flood"
    assert response["ETag"] == f'W/"{incident.version + 1}"'


def test_add_a_note(staff, operator, incident):
    response = staff(operator).post(f"{detail(incident)}notes/", {"note": "Pelapor menelepon lagi."}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "note" and response.json()["actor"] == "operator"


def test_a_role_without_the_action_gets_403(staff, operator, incident):
    problem(
        staff(operator).post(f"{detail(incident)}dispatch/", {"agencies": ["damkar"]}, format="json"), 403, "forbidden"
    )


def test_an_illegal_transition_is_409(staff, supervisor, seeded):
    incident = incident_in_status(S.CANCELLED, region=seeded.region, category=seeded.category("fire"))

    body = problem(staff(supervisor).post(f"{detail(incident)}verify/", {}, format="json"), 409, "invalid_transition")

    assert body["allowed"] == []


# ------------------------------------------------------------------------------------------------
# Visibility: a user of another agency gets 404 on every endpoint (OWASP API1)
# ------------------------------------------------------------------------------------------------
INCIDENT_ENDPOINTS = [
    ("get", ""),
    ("patch", ""),
    ("get", "timeline/"),
    ("get", "assignments/"),
    ("post", "verify/"),
    ("post", "dispatch/"),
    ("post", "resolve/"),
    ("post", "close/"),
    ("post", "reopen/"),
    ("post", "cancel/"),
    ("post", "mark-false-alarm/"),
    ("post", "merge/"),
    ("post", "change-category/"),
    ("post", "notes/"),
]


@pytest.mark.parametrize("method, suffix", INCIDENT_ENDPOINTS)
def test_another_agency_gets_404_on_every_incident_endpoint(staff, other_agency_user, incident, method, suffix):
    client = staff(other_agency_user)

    response = getattr(client, method)(f"{detail(incident)}{suffix}", {}, format="json")

    problem(response, 404, "not_found")


@pytest.mark.parametrize("method, suffix", INCIDENT_ENDPOINTS)
def test_a_client_of_another_agency_gets_404_on_every_incident_endpoint(integration, seeded, incident, method, suffix):
    client = integration(agency=seeded.agency("satpol-pp"))

    problem(getattr(client, method)(f"{detail(incident)}{suffix}", {}, format="json"), 404, "not_found")


def test_lists_show_only_visible_incidents(staff, agency_user, dispatcher, make_incident, seeded):
    mine, other = make_incident(), make_incident()
    dispatch_services.incident_dispatch(incident=mine, agencies=[seeded.agency("damkar")], actor=dispatcher)

    rows = staff(agency_user).get(URL).json()["results"]

    assert [row["id"] for row in rows] == [mine.pk]
    assert other.pk not in [row["id"] for row in rows]


# ------------------------------------------------------------------------------------------------
# Filters and ordering
# ------------------------------------------------------------------------------------------------
def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_filters(staff, dispatcher, make_incident, seeded):
    client = staff(dispatcher)
    fire = make_incident(description="Kebakaran pasar Johar", latitude=-7.0, longitude=110.4)
    flood = make_incident(category=seeded.category("flood"), district=seeded.district("Genuk"), village=None)
    landslide = make_incident(category=seeded.category("landslide"), priority=3, address="Jl. Sadewa")
    services.incident_verify(incident=flood, actor=dispatcher)
    dispatch_services.incident_dispatch(incident=fire, agencies=[seeded.agency("damkar")], actor=dispatcher)

    assert ids(client.get(URL, {"status": ["verified", "dispatched"]})) == {fire.pk, flood.pk}
    assert ids(client.get(URL, {"category": "natural-disaster"})) == {flood.pk, landslide.pk}
    assert ids(client.get(URL, {"category": "flood"})) == {flood.pk}
    assert ids(client.get(URL, {"priority": 3})) == {landslide.pk}
    assert ids(client.get(URL, {"district": seeded.district("Genuk").pk})) == {flood.pk}
    assert ids(client.get(URL, {"agency": "damkar"})) == {fire.pk}
    assert ids(client.get(URL, {"has_coordinates": "true"})) == {fire.pk}
    assert ids(client.get(URL, {"has_coordinates": "false"})) == {flood.pk, landslide.pk}
    assert ids(client.get(URL, {"q": "johar"})) == {fire.pk}
    assert ids(client.get(URL, {"q": "sadewa"})) == {landslide.pk}
    assert ids(client.get(URL, {"q": fire.reference})) == {fire.pk}


def test_the_text_search_is_answered_from_the_trigram_index_on_postgresql(dispatcher, make_incident):
    """``?q=`` compares UPPER(column) like Django's icontains writes it; the migration's trigram index
    is on exactly those expressions, so PostgreSQL can answer a search without reading every
    incident (bench: 0.7-1 s → 3-25 ms at 1,000,000). Plain and index scans off: what is left must
    be the trigram index, or the plan would fall back to a sequential scan."""
    from django.db import connection
    from django.http import QueryDict

    from incidents.filters import IncidentFilter
    from incidents.selectors import incident_list_for_user

    if connection.vendor != "postgresql":
        pytest.skip("the trigram index is PostgreSQL's")
    incident = make_incident(address="Jl. Pemuda 12")
    for term in (incident.reference, "pemuda"):
        assert list(IncidentFilter(QueryDict(f"q={term}"), queryset=incident_list_for_user(dispatcher)).qs) == [incident]
        # The search's own conditions (the region's index would do on this one-row table).
        queryset = IncidentFilter(QueryDict(f"q={term}"), queryset=Incident.objects.all()).qs
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            plan = queryset.explain()
        assert "incident_search_trgm_idx" in plan and "Seq Scan on incidents_incident" not in plan, plan


def test_received_range_filter(staff, dispatcher, make_incident):
    now = timezone.now()
    old = make_incident(received_at=now - timedelta(days=2))
    new = make_incident(received_at=now - timedelta(minutes=1))
    client = staff(dispatcher)

    after = (now - timedelta(days=1)).isoformat()
    assert ids(client.get(URL, {"received_at_after": after})) == {new.pk}
    assert ids(client.get(URL, {"received_at_before": after})) == {old.pk}


def test_sla_filter(staff, dispatcher, make_incident, seeded):
    # "other": dispatch within 5 min (warning at 80 %: 4 min), on scene within 10 min.
    other, now = seeded.category("other"), timezone.now()
    breached = make_incident(category=other, received_at=now - timedelta(minutes=30))
    at_risk = make_incident(category=other, received_at=now - timedelta(minutes=4, seconds=30))
    on_time = make_incident(category=other)
    dispatched_in_time = make_incident(category=other, received_at=now - timedelta(minutes=4, seconds=30))
    dispatch_services.incident_dispatch(
        incident=dispatched_in_time, agencies=[seeded.agency("dinsos")], actor=dispatcher
    )
    client = staff(dispatcher)

    assert ids(client.get(URL, {"sla": "breached"})) == {breached.pk}
    assert ids(client.get(URL, {"sla": "at_risk"})) == {at_risk.pk}
    assert ids(client.get(URL, {"sla": "on_time"})) == {on_time.pk, dispatched_in_time.pk}


@pytest.mark.parametrize(
    "ordering, key, reverse",
    [
        ("-received_at", "received_at", True),
        ("received_at", "received_at", False),
        ("priority", "priority", False),
        ("-priority", "priority", True),
        ("due_at", "response_due_at", False),
    ],
)
def test_ordering(staff, dispatcher, make_incident, seeded, ordering, key, reverse):
    now = timezone.now()
    for minutes, priority in [(5, 2), (1, 1), (9, 3), (3, 1)]:
        make_incident(received_at=now - timedelta(minutes=minutes), priority=priority)
    client = staff(dispatcher)

    rows = client.get(URL, {"ordering": ordering}).json()["results"]

    values = [row[key] for row in rows]
    assert values == sorted(values, reverse=reverse)


# ------------------------------------------------------------------------------------------------
# Query counts: constant whatever the page size
# ------------------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_list_rows_take_configuration_rows_from_the_cache_and_see_changes_at_once(
    staff, dispatcher, make_incident, seeded
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dispatch.models import Agency
    from incidents.models import Category

    incident = make_incident()
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    client = staff(dispatcher)
    client.get(URL)  # fills the configuration cache

    with CaptureQueriesContext(connection) as queries:
        row = client.get(URL, HTTP_ACCEPT_LANGUAGE="id").json()["results"][0]
    sql = " ".join(  # the page's own queries: the incidents and their assignments
        query["sql"]
        for query in queries.captured_queries
        if 'FROM "incidents_incident"' in query["sql"] or 'FROM "dispatch_assignment"' in query["sql"]
    )
    assert 'FROM "incidents_incident"' in sql and 'FROM "dispatch_assignment"' in sql
    for table in ("incidents_region", "incidents_category", "incidents_district", "dispatch_agency"):
        assert f'JOIN "{table}"' not in sql and f'FROM "{table}"' not in sql, table
    assert row["region"] == incident.region.code
    assert row["category"] == {"id": incident.category_id, "code": "fire", "name": incident.category.name_id}
    assert row["district"]["name"] == incident.district.name
    assert row["village"]["name"] == incident.village.name
    assert row["assignments"][0]["agency"]["code"] == "damkar"

    # a change in the admin is seen by the very next request (the configuration version moved)
    Category.objects.filter(pk=incident.category_id).update(name_id="Kebakaran (diubah)")
    Agency.objects.filter(code="damkar").update(name="Damkar Kota (diubah)")
    row = client.get(URL, HTTP_ACCEPT_LANGUAGE="id").json()["results"][0]
    assert row["category"]["name"] == "Kebakaran (diubah)"
    assert row["assignments"][0]["agency"]["name"] == "Damkar Kota (diubah)"


@pytest.mark.parametrize("page_size", [10, 100])
def test_list_query_count_is_constant(
    staff, dispatcher, make_incident, seeded, page_size, django_assert_max_num_queries
):
    agencies = [seeded.agency("damkar"), seeded.agency("dinkes-psc")]
    for _ in range(page_size):
        incident = make_incident()
        dispatch_services.incident_dispatch(incident=incident, agencies=agencies, actor=dispatcher)
    client = staff(dispatcher)

    # The first request after a configuration change also fills the configuration cache (the
    # regions, categories, districts and agencies rows refer to): a few queries, once.
    with django_assert_max_num_queries(10):
        client.get(URL, {"page_size": page_size})
    with django_assert_max_num_queries(6):
        response = client.get(URL, {"page_size": page_size})

    assert len(response.json()["results"]) == page_size
