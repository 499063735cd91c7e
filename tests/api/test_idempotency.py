"""Idempotent intake: replay, mismatch, in-flight, expiry, and 50 concurrent POSTs on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import Call, Category, Incident
from semarang112.api import services as api_services
from semarang112.api.models import IdempotencyRecord
from semarang112.api.tasks import idempotency_records_purge_task

from .conftest import problem

URL = "/api/v1/incidents/"
BODY = {"category": "fire", "description": "Kebakaran gudang di Jl. Pemuda.", "caller_number": "081234567890"}


def post(client, body=BODY, key="report-1", url=URL):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(url, body, format="json", **headers)


def test_a_retry_with_the_same_key_and_body_replays_the_first_response(integration, seeded):
    client = integration(scopes=["incidents:create", "incidents:read"])

    first = post(client)
    again = post(client)

    assert first.status_code == 201, first.content
    assert again.status_code == 201, again.content
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Incident.objects.count() == 1


def test_the_same_key_with_another_body_is_422(integration, seeded):
    client = integration()
    post(client)

    response = post(client, {**BODY, "description": "Another fire."})

    problem(response, 422, "idempotency_key_reused")
    assert Incident.objects.count() == 1


def test_the_same_key_on_another_endpoint_is_422(integration, seeded):
    client = integration()
    post(client)

    problem(post(client, {"caller_number": "0812"}, url="/api/v1/calls/"), 422, "idempotency_key_reused")


def test_integration_clients_must_send_a_key(integration, seeded):
    client = integration()

    problem(post(client, key=None), 400, "idempotency_key_required")
    problem(post(client, {"caller_number": "0812"}, key=None, url="/api/v1/calls/"), 400, "idempotency_key_required")
    assert Incident.objects.count() == 0 and Call.objects.count() == 0


def test_staff_forms_may_omit_the_key(staff, operator):
    client = staff(operator)

    assert post(client, key=None).status_code == 201
    assert post(client, key=None).status_code == 201
    assert Incident.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.parametrize("key", ["", "x" * 256, "kunci-é"])
def test_a_malformed_key_is_400(integration, seeded, key):
    problem(post(integration(), key=key), 400, "idempotency_key_invalid")


def test_keys_are_scoped_to_the_client(integration, seeded):
    first, second = integration(), integration()

    a, b = post(first), post(second)

    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert set(IdempotencyRecord.objects.values_list("scope", flat=True)) == {
        f"client:{first.api_client.pk}",
        f"client:{second.api_client.pk}",
    }


def test_keys_of_staff_users_are_scoped_to_the_user(staff, operator, dispatcher):
    a, b = post(staff(operator)), post(staff(dispatcher))

    assert a.json()["id"] != b.json()["id"]


def test_a_record_keeps_the_response_and_expires_after_the_configured_time(integration, seeded, settings):
    settings.API_IDEMPOTENCY_TTL_HOURS = 48
    before = timezone.now()
    post(integration())

    record = IdempotencyRecord.objects.get()
    assert record.state == IdempotencyRecord.State.COMPLETED
    assert record.status_code == 201
    assert record.response_body["reference"]
    assert timedelta(hours=47, minutes=59) < record.expires_at - before < timedelta(hours=48, minutes=1)


def test_an_expired_key_is_treated_as_new(integration, seeded):
    client = integration()
    post(client)
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = post(client, {**BODY, "description": "A new report reusing an old key."})

    assert response.status_code == 201, response.content
    assert Incident.objects.count() == 2


def test_the_periodic_task_purges_expired_records_only(integration, seeded):
    client = integration()
    post(client, key="old")
    post(client, key="new")
    IdempotencyRecord.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(minutes=1))

    assert idempotency_records_purge_task() == 1

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_the_cleanup_is_scheduled(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["api-idempotency-records-purge"]
    assert schedule["task"] == "semarang112.api.tasks.idempotency_records_purge_task"


def test_a_failed_request_stores_nothing_and_the_key_can_be_retried(integration, seeded):
    client = integration()
    Category.objects.filter(code="fire").update(is_active=False)

    problem(post(client), 400, "category_inactive")
    assert IdempotencyRecord.objects.count() == 0

    Category.objects.filter(code="fire").update(is_active=True)
    assert post(client).status_code == 201


def test_the_incident_and_its_record_commit_together(integration, seeded, monkeypatch):
    """Building the response is part of the transaction: if it fails, no incident and no record."""
    from incidents.api import views

    def broken(*args, **kwargs):
        raise RuntimeError("response could not be built")

    monkeypatch.setattr(views, "incident_response", broken)
    client = integration()

    with pytest.raises(RuntimeError):
        post(client)

    assert Incident.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.postgres
def test_the_claim_bounds_its_wait_and_then_restores_the_lock_timeout(integration, seeded, monkeypatch):
    """The claim sets lock_timeout for its own unique-index wait only; the rest of the intake
    (and a SET LOCAL made before it) keeps the value it had."""
    from django.db import connection

    from incidents import services

    seen = []
    original = services.incident_create

    def spy(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            seen.append(cursor.fetchone()[0])
        return original(**kwargs)

    monkeypatch.setattr(services, "incident_create", spy)
    client = integration()
    assert post(client).status_code == 201
    assert seen == ["0"]

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '7s'")
        assert post(client, key="report-2").status_code == 201
    assert seen == ["0", "7s"]


def test_calls_are_idempotent_too(integration, seeded):
    client = integration()
    body = {"caller_number": "081234567890", "outcome": "silent"}

    first = post(client, body, url="/api/v1/calls/")
    again = post(client, body, url="/api/v1/calls/")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Call.objects.count() == 1


# ------------------------------------------------------------------------------------------------
# Concurrency on real PostgreSQL
# ------------------------------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_while_the_first_is_in_flight_gets_409_then_replays(integration, seeded, settings):
    settings.API_IDEMPOTENCY_WAIT_MS = 200
    client = integration()
    scope = f"client:{client.api_client.pk}"
    holding, release = threading.Event(), threading.Event()

    def first_request_in_flight():
        # Stands for a first request that has claimed the key and is still creating the incident.
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(
                    scope=scope,
                    key="report-1",
                    fingerprint="x" * 64,
                    method="POST",
                    path=URL,
                    expires_at=timezone.now() + timedelta(hours=1),
                )
                holding.set()
                release.wait(10)
                transaction.set_rollback(True)  # the first request fails: the key becomes free
        finally:
            connections.close_all()

    holder = threading.Thread(target=first_request_in_flight)
    holder.start()
    assert holding.wait(10)
    try:
        response = post(client)
    finally:
        release.set()
        holder.join(10)

    body = problem(response, 409, "idempotency_key_in_use")
    assert response["Retry-After"] == "1"
    assert body["detail"]
    retry = post(client)
    assert retry.status_code == 201, retry.content
    assert Incident.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_identical_posts_create_exactly_one_incident(integration, seeded, run_in_threads):
    client = integration(scopes=["incidents:create", "incidents:read"])
    raw = client.raw_key

    def one_post():
        thread_client = APIClient()
        thread_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        response = post(thread_client, key="storm-1")
        return response.status_code, response.json()

    results = run_in_threads(*[one_post for _ in range(50)], timeout=120)

    errors = [exc for _result, exc in results if exc is not None]
    assert not errors, errors
    statuses = [result[0] for result, _exc in results]
    assert set(statuses) <= {201, 409}, statuses
    created = [result[1] for result, _exc in results if result[0] == 201]
    assert created, statuses
    assert all(body == created[0] for body in created)
    assert Incident.objects.count() == 1
    assert IdempotencyRecord.objects.get().response_body == created[0]


def test_the_key_scheme_helpers_agree():
    """The secret shape the authentication expects is the shape the services issue."""
    assert api_services.secret_split("abcdefgh." + "x" * 43) is not None
    assert api_services.secret_split("short.x") is None


@pytest.mark.django_db(transaction=True)
def test_a_keyed_intake_is_one_transaction_without_savepoints(integration, seeded):
    """Any error rolls back the record with the incident, so the services inside take no savepoint."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = integration()
    with CaptureQueriesContext(connection) as queries:
        response = post(client)

    assert response.status_code == 201, response.content
    assert not [q["sql"] for q in queries if "SAVEPOINT" in q["sql"].upper()]
    assert IdempotencyRecord.objects.get().state == IdempotencyRecord.State.COMPLETED
