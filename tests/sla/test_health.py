"""/health/: database, broker and the age of the last completed SLA sweep."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from incidents import health, sla

from .conftest import T0

pytestmark = pytest.mark.django_db


def get_health():
    response = health.health(RequestFactory().get("/health/"))
    return response.status_code, json.loads(response.content)


@pytest.fixture
def broker_ok(monkeypatch):
    """The broker check's answer, without depending on which broker this run uses."""
    monkeypatch.setattr(health, "broker_ok", lambda timeout=2.0: True)


def test_healthy_when_the_last_sweep_is_recent(clock, sweep, broker_ok, settings):
    settings.SLA_SWEEP_INTERVAL_SECONDS = 30
    sweep()
    clock.at(seconds=89)

    status, body = get_health()

    assert status == 200, body
    assert body == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "last_sweep_age_seconds": 89.0,
        "sweep_interval_seconds": 30.0,
    }


def test_a_sweep_older_than_three_intervals_is_unhealthy(clock, sweep, broker_ok, settings):
    settings.SLA_SWEEP_INTERVAL_SECONDS = 30
    sweep()
    clock.at(seconds=91)

    status, body = get_health()

    assert status == 503
    assert body["status"] == "unhealthy" and body["last_sweep_age_seconds"] == 91.0


def test_no_sweep_ever_is_unhealthy(clock, broker_ok):
    status, body = get_health()
    assert status == 503
    assert body["last_sweep_age_seconds"] is None and body["database"] == "ok"


def test_the_interval_edited_in_the_admin_is_the_one_that_counts(clock, sweep, broker_ok, settings):
    # given the sweep's periodic task was set to every 2 minutes in the admin
    settings.SLA_SWEEP_INTERVAL_SECONDS = 30
    every_two_minutes = IntervalSchedule.objects.create(every=2, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(
        name=health.SWEEP_PERIODIC_TASK, task="incidents.tasks.sla_sweep_task", interval=every_two_minutes
    )
    sweep()
    clock.at(minutes=5)

    status, body = get_health()

    assert status == 200 and body["sweep_interval_seconds"] == 120


def test_an_unreachable_broker_is_unhealthy(clock, sweep, monkeypatch):
    sweep()
    real_check = health.broker_ok
    # a Redis on a port nobody listens on
    monkeypatch.setattr(health, "broker_ok", lambda timeout=2.0: real_check(timeout=0.5, url="redis://127.0.0.1:1/0"))

    status, body = get_health()

    assert status == 503
    assert body["broker"] == "unavailable" and body["database"] == "ok"


def test_the_broker_check_reaches_the_configured_broker():
    # the broker this run is configured with (filesystem by default, Redis in CI) answers
    assert health.broker_ok() is True


def test_the_heartbeat_age_uses_the_finish_time(clock, db):
    sla.heartbeat_record(name=sla.SWEEP_NAME, started_at=T0, duration_ms=5, incidents_checked=0, events_recorded=0)
    clock.at(seconds=10)
    assert health.last_sweep_age_seconds() == pytest.approx(10.0)


def test_health_is_wired_at_slash_health():
    assert reverse("health") == "/health/"
