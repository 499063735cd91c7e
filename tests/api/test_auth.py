"""Authentication (API keys, staff tokens, sessions) and throttling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from semarang112.api import services as api_services
from semarang112.api.models import ApiKey, StaffToken

from .conftest import problem

LIST = "/api/v1/categories/"


# ------------------------------------------------------------------------------------------------
# API keys
# ------------------------------------------------------------------------------------------------
def test_api_key_authenticates_the_client(integration, seeded):
    client = integration(scopes=["incidents:read"])

    response = client.get(LIST)

    assert response.status_code == 200, response.content


def test_api_key_is_stored_as_prefix_and_sha256_digest_only(seeded, integration):
    client = integration()
    key = ApiKey.objects.get(client=client.api_client)

    prefix, _dot, _secret = client.raw_key.partition(".")
    assert key.prefix == prefix
    assert key.digest == api_services.secret_digest(client.raw_key)
    assert len(key.digest) == 64
    stored = [str(value) for value in ApiKey.objects.values_list(flat=False).get(pk=key.pk)]
    assert client.raw_key not in stored


def test_no_credentials_is_401_with_a_challenge(api, seeded):
    response = api.get(LIST)

    problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Api-Key")


@pytest.mark.parametrize(
    "header",
    ["Api-Key nonsense", "Api-Key abcdefgh.wrongwrongwrongwrongwrongwrongwrongwrong", "Api-Key a b", "Token nope"],
)
def test_bad_credentials_are_401(api, seeded, integration, header):
    integration()
    api.credentials(HTTP_AUTHORIZATION=header)

    problem(api.get(LIST), 401)


def test_a_key_with_the_right_prefix_and_a_wrong_secret_is_401(api, integration, seeded):
    client = integration()
    prefix = client.raw_key.split(".")[0]
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {prefix}.{'x' * 43}")

    problem(api.get(LIST), 401, "authentication_failed")


def test_a_revoked_key_gets_401_at_once(integration, seeded):
    client = integration()
    assert client.get(LIST).status_code == 200

    api_services.secret_revoke(secret=ApiKey.objects.get(client=client.api_client))

    problem(client.get(LIST), 401, "credentials_revoked")


def test_an_inactive_client_gets_401_at_once(integration, seeded):
    client = integration()
    assert client.get(LIST).status_code == 200

    client.api_client.is_active = False
    client.api_client.save(update_fields=["is_active"])

    problem(client.get(LIST), 401, "client_inactive")


def test_last_used_is_written_once_per_window_not_on_every_request(integration, seeded, settings):
    settings.API_KEY_LAST_USED_RESOLUTION_SECONDS = 300
    client = integration()
    key = ApiKey.objects.get(client=client.api_client)
    assert key.last_used_at is None

    client.get(LIST)
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        client.get(LIST)
    key.refresh_from_db()

    assert key.last_used_at == first
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]


def test_last_used_is_refreshed_after_the_window(integration, seeded, settings):
    client = integration()
    key = ApiKey.objects.get(client=client.api_client)
    old = timezone.now() - timedelta(hours=1)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=old)

    client.get(LIST)

    key.refresh_from_db()
    assert key.last_used_at > old


# ------------------------------------------------------------------------------------------------
# Staff tokens and sessions
# ------------------------------------------------------------------------------------------------
def test_staff_gets_a_hashed_token_for_username_and_password(api, operator):
    response = api.post(
        "/api/v1/auth/token/", {"username": "operator", "password": "semarang-112-test-password"}, format="json"
    )

    assert response.status_code == 201, response.content
    raw = response.json()["token"]
    token = StaffToken.objects.get(user=operator)
    assert token.digest == api_services.secret_digest(raw) and raw not in (token.prefix, token.digest)
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert api.get(LIST).status_code == 200


def test_wrong_password_is_400(api, operator):
    response = api.post("/api/v1/auth/token/", {"username": "operator", "password": "wrong"}, format="json")

    problem(response, 400, "invalid_credentials")


def test_staff_token_can_be_revoked_by_its_holder(staff, operator):
    client = staff(operator)

    assert client.delete("/api/v1/auth/token/").status_code == 204

    problem(client.get(LIST), 401, "credentials_revoked")


def test_token_of_an_inactive_user_is_401(staff, operator):
    client = staff(operator)
    operator.is_active = False
    operator.save(update_fields=["is_active"])

    problem(client.get(LIST), 401)


def test_session_auth_needs_csrf_on_writes(operator, seeded):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(operator)

    assert client.get(LIST).status_code == 200
    response = client.post("/api/v1/incidents/", {"category": "fire", "description": "x"}, format="json")

    body = problem(response, 403)
    assert "CSRF" in body["detail"]


# ------------------------------------------------------------------------------------------------
# API keys from the configuration cache (PostgreSQL): no key query per request, changes seen at once
# ------------------------------------------------------------------------------------------------
def key_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "api_apikey" in q["sql"] or "api_apiclient" in q["sql"]]


@pytest.mark.postgres
def test_a_known_key_costs_no_query_after_the_first_request(integration, seeded):
    client = integration(scopes=["incidents:read"])
    assert client.get(LIST).status_code == 200

    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST).status_code == 200

    assert key_queries(queries.captured_queries) == []


@pytest.mark.postgres
def test_a_revoked_key_is_refused_by_the_next_request(integration, seeded):
    client = integration()
    assert client.get(LIST).status_code == 200

    api_services.secret_revoke(secret=ApiKey.objects.get(client=client.api_client))

    problem(client.get(LIST), 401, "credentials_revoked")


@pytest.mark.postgres
def test_a_client_disabled_by_any_statement_is_refused_by_the_next_request(integration, seeded):
    client = integration()
    assert client.get(LIST).status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("UPDATE api_apiclient SET is_active = false WHERE id = %s", [client.api_client.pk])

    problem(client.get(LIST), 401, "client_inactive")


@pytest.mark.postgres
def test_a_new_key_works_at_once_beside_the_cached_ones(integration, seeded):
    first = integration()
    assert first.get(LIST).status_code == 200

    second = integration()

    assert second.get(LIST).status_code == 200
    assert first.get(LIST).status_code == 200


@pytest.mark.postgres
def test_recording_last_use_does_not_throw_the_configuration_cache_away(integration, seeded, settings):
    from semarang112.core.models import ConfigVersion

    settings.API_KEY_LAST_USED_RESOLUTION_SECONDS = 0
    client = integration()
    client.get(LIST)
    version = ConfigVersion.objects.get(pk=1).value

    client.get(LIST)  # touches last_used_at again (resolution 0)

    assert ApiKey.objects.get(client=client.api_client).last_used_at is not None
    assert ConfigVersion.objects.get(pk=1).value == version


# ------------------------------------------------------------------------------------------------
# Throttling
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def low_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"client": "3/min", "user": "2/min", "anon": "2/min"},
    }


def test_a_client_over_its_rate_gets_429_with_retry_after(integration, seeded, low_rates):
    client = integration()
    for _ in range(3):
        assert client.get(LIST).status_code == 200

    response = client.get(LIST)

    problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_clients_are_throttled_separately(integration, seeded, low_rates):
    first, second = integration(), integration()
    for _ in range(3):
        first.get(LIST)

    assert first.get(LIST).status_code == 429
    assert second.get(LIST).status_code == 200


def test_a_client_rate_in_the_admin_overrides_the_default(integration, seeded, low_rates):
    client = integration(throttle_rate="5/min")

    statuses = [client.get(LIST).status_code for _ in range(6)]

    assert statuses == [200] * 5 + [429]


def test_staff_users_are_throttled_per_user(staff, operator, dispatcher, low_rates):
    operator_client, dispatcher_client = staff(operator), staff(dispatcher)
    for _ in range(2):
        assert operator_client.get(LIST).status_code == 200

    problem(operator_client.get(LIST), 429, "throttled")
    assert dispatcher_client.get(LIST).status_code == 200
