"""Beat's schedule: the settings create the periodic tasks once; an interval edited in the admin lasts."""

from __future__ import annotations

import pytest
from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from semarang112 import celery_app
from semarang112.core.beat import DatabaseScheduler

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch):
    # beat calls close_old_connections(), which closes a connection inside a transaction (the test's)
    monkeypatch.setattr("django_celery_beat.schedulers.close_old_connections", lambda: None)


def start_beat() -> DatabaseScheduler:
    """What ``celery beat`` does at start with the configured scheduler."""
    scheduler = DatabaseScheduler(app=celery_app, lazy=True)
    scheduler.setup_schedule()
    return scheduler


def test_beat_uses_this_scheduler():
    assert settings.CELERY_BEAT_SCHEDULER == "semarang112.core.beat:DatabaseScheduler"


def test_the_first_start_creates_every_entry_of_the_settings():
    start_beat()

    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert set(settings.CELERY_BEAT_SCHEDULE) <= names
    sweep = PeriodicTask.objects.get(name="incidents-sla-sweep")
    assert sweep.task == "incidents.tasks.sla_sweep_task"
    assert sweep.interval.every == int(settings.SLA_SWEEP_INTERVAL_SECONDS)


def test_an_interval_edited_in_the_admin_survives_a_restart_of_beat():
    start_beat()
    # a supervisor slows the sweep down to every 2 minutes in the admin
    slower, _ = IntervalSchedule.objects.get_or_create(every=120, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name="incidents-sla-sweep").update(interval=slower)

    start_beat()

    assert PeriodicTask.objects.get(name="incidents-sla-sweep").interval.every == 120


def test_a_deleted_entry_comes_back_from_the_settings():
    start_beat()
    PeriodicTask.objects.filter(name="incidents-outbox-flush").delete()

    start_beat()

    assert PeriodicTask.objects.filter(name="incidents-outbox-flush").exists()
