"""The configuration cache: reads once, sees every change at once, never serves rolled-back data."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from dispatch.models import RoutingRule
from dispatch.services import routing_suggest
from incidents import services
from semarang112.core import config_cache
from tests.factories import AgencyFactory, CategoryFactory, RoutingRuleFactory

pytestmark = pytest.mark.django_db


def codes(agencies) -> list[str]:
    return [agency.code for agency in agencies]


def routing_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "dispatch_routingrule" in q["sql"]]


@pytest.fixture
def fire():
    category = CategoryFactory(code="fire-cc")
    RoutingRuleFactory(category=category, agency=AgencyFactory(code="engine"), order=1)
    return category


@pytest.mark.postgres
def test_the_rules_are_read_once_while_nothing_changes(fire):
    routing_suggest(category=fire, district=None)

    with CaptureQueriesContext(connection) as again:
        assert codes(routing_suggest(category=fire, district=None)) == ["engine"]

    # one version read, no routing query
    assert routing_queries(again.captured_queries) == []
    assert len(again.captured_queries) == 1


@pytest.mark.postgres
def test_a_rule_change_is_seen_by_the_next_call(fire):
    assert codes(routing_suggest(category=fire, district=None)) == ["engine"]

    RoutingRuleFactory(category=fire, agency=AgencyFactory(code="ambulance"), order=0)
    assert codes(routing_suggest(category=fire, district=None)) == ["ambulance", "engine"]

    # a bulk update (no signals, no save()) is seen too: the trigger fires on any statement
    RoutingRule.objects.filter(agency__code="ambulance").update(is_active=False)
    assert codes(routing_suggest(category=fire, district=None)) == ["engine"]

    # and so is raw SQL on a related configuration table
    with connection.cursor() as cursor:
        cursor.execute("UPDATE dispatch_agency SET is_active = false WHERE code = 'engine'")
    assert routing_suggest(category=fire, district=None) == []


@pytest.mark.postgres
def test_a_rolled_back_change_is_not_served_afterwards(fire):
    assert codes(routing_suggest(category=fire, district=None)) == ["engine"]

    with pytest.raises(RuntimeError), transaction.atomic():
        RoutingRuleFactory(category=fire, agency=AgencyFactory(code="ghost"), order=0)
        # the transaction sees (and caches) its own change
        assert codes(routing_suggest(category=fire, district=None)) == ["ghost", "engine"]
        raise RuntimeError("the admin's save failed")

    assert codes(routing_suggest(category=fire, district=None)) == ["engine"]


@pytest.mark.postgres
def test_callers_get_copies_they_may_change(fire, region):
    first = routing_suggest(category=fire, district=None)[0]
    first.name = "changed by a caller"

    assert routing_suggest(category=fire, district=None)[0].name != "changed by a caller"
    region = services.default_region()
    region.name = "changed"
    assert services.default_region().name != "changed"


@pytest.mark.postgres
def test_an_intake_reads_the_version_once_and_no_configuration_twice(seeded, operator):
    fire = seeded.category("fire")
    district = seeded.district("Candisari")
    services.incident_create(actor=operator, category=fire, description="Kebakaran.", district=district)

    with CaptureQueriesContext(connection) as second:
        services.incident_create(actor=operator, category=fire, description="Kebakaran lagi.", district=district)

    sql = [q["sql"] for q in second.captured_queries]
    assert sum("core_configversion" in s for s in sql) == 1
    assert routing_queries(second.captured_queries) == []
    assert not [s for s in sql if 'FROM "incidents_region"' in s]


@pytest.mark.postgres
def test_without_a_version_row_nothing_is_cached(fire):
    from semarang112.core.models import ConfigVersion

    ConfigVersion.objects.all().delete()
    routing_suggest(category=fire, district=None)

    with CaptureQueriesContext(connection) as again:
        routing_suggest(category=fire, district=None)

    assert len(routing_queries(again.captured_queries)) == 1
    assert config_cache.current_version() is None


def test_sqlite_keeps_values_for_the_pinned_block_only(fire, sqlite_only):
    with config_cache.pinned():
        routing_suggest(category=fire, district=None)
        with CaptureQueriesContext(connection) as inside:
            routing_suggest(category=fire, district=None)
    with CaptureQueriesContext(connection) as after:
        routing_suggest(category=fire, district=None)

    assert routing_queries(inside.captured_queries) == []
    assert len(routing_queries(after.captured_queries)) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_version_read_is_the_requests_connection_health_check(seeded):
    """CONN_HEALTH_CHECKS: the version read replaces Django's ``SELECT 1``, and still finds a dead
    connection (here: its backend terminated by the server, as after a restart) and replaces it."""
    from django.test.client import Client

    def terminate(pid: int) -> None:
        other = connection.copy()  # a second connection to the same database
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        finally:
            other.close()

    assert connection.health_check_enabled
    config_cache.current_version()
    connection.close_if_unusable_or_obsolete()  # what Django does when a request starts
    with CaptureQueriesContext(connection) as queries:
        config_cache.current_version()  # (None after another transactional test's flush: no row)
    assert [q["sql"] for q in queries] == ["SELECT value FROM core_configversion WHERE id = 1"]
    assert connection.health_check_done

    dead = connection.connection.info.backend_pid
    terminate(dead)
    connection.close_if_unusable_or_obsolete()

    config_cache.current_version()  # no error: the dead connection was replaced
    assert connection.connection.info.backend_pid != dead

    # The same through an API request: the server dropped the connection between two requests.
    from semarang112.api.models import ApiClient
    from semarang112.api.services import api_key_create

    _key, raw = api_key_create(client=ApiClient.objects.create(name="health", scopes=["incidents:read"]))
    dead = connection.connection.info.backend_pid
    terminate(dead)
    connection.close_if_unusable_or_obsolete()  # request_started does this (the test client does not)
    response = Client().get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert response.status_code == 200, response.content
    assert connection.connection.info.backend_pid != dead
