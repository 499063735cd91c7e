"""Admin of integration clients: keys are shown once and stored only as a digest."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from semarang112.api import services as api_services
from semarang112.api.models import ApiClient, ApiKey
from tests.factories import UserFactory


def test_issue_key_shows_it_once_and_stores_its_digest(client, seeded, settings):
    settings.ROOT_URLCONF = "semarang112.urls"
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    api_client = ApiClient.objects.create(name="cctv-analytics", scopes=["incidents:create"])

    response = client.post(
        reverse("admin:api_apiclient_changelist"),
        {"action": "issue_key", "_selected_action": [api_client.pk]},
        follow=True,
    )

    assert response.status_code == 200
    (message,) = [str(m) for m in get_messages(response.wsgi_request) if "cctv-analytics" in str(m)]
    raw = message.rsplit(" ", 1)[1]
    key = ApiKey.objects.get(client=api_client)
    assert key.digest == api_services.secret_digest(raw)
    assert raw not in client.get(reverse("admin:api_apikey_change", args=[key.pk])).content.decode()


def test_scopes_are_validated(seeded):
    with pytest.raises(ValidationError):
        ApiClient(name="x", scopes=["incidents:delete"]).full_clean()


def test_the_purge_task_is_registered_with_celery():
    from semarang112.celery import app

    app.loader.import_default_modules()
    assert "semarang112.api.tasks.idempotency_records_purge_task" in app.tasks
