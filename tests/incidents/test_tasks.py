"""Periodic work: closing incidents resolved long enough ago (incidents.tasks)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch.models import Assignment
from incidents import services
from incidents.models import Incident, TimelineEvent
from incidents.tasks import incident_auto_close_resolved_task
from semarang112 import celery_app
from tests.factories import dispatch_to, incident_in_status, reload

S = Incident.Status
WIB = ZoneInfo("Asia/Jakarta")
T = datetime(2025, 3, 10, 8, 0, tzinfo=WIB)


@pytest.fixture
def resolved_at(seeded, dispatcher, time_machine):
    """``resolved_at(t)``: an incident resolved at ``t``."""

    def make(t: datetime) -> Incident:
        time_machine.move_to(t, tick=False)
        incident = incident_in_status(S.VERIFIED, actor=dispatcher, category=seeded.category("fire"))
        services.incident_resolve(incident=incident, actor=dispatcher)
        return reload(incident)

    return make


def test_auto_close_closes_only_incidents_resolved_long_enough_ago(resolved_at, make_incident, settings, time_machine):
    # given a 24-hour grace period, one incident resolved 25 hours ago and one 23 hours ago
    settings.INCIDENT_AUTO_CLOSE_HOURS = 24
    old = resolved_at(T)
    recent = resolved_at(T + timedelta(hours=2))
    still_open = make_incident()

    # when the periodic task runs at T+25h
    time_machine.move_to(T + timedelta(hours=25), tick=False)
    closed = incident_auto_close_resolved_task()

    # then only the old one is closed, by the system
    assert closed == 1
    old = reload(old)
    assert (old.status, old.closed_at) == (S.CLOSED, T + timedelta(hours=25))
    event = TimelineEvent.objects.filter(incident=old, kind=TimelineEvent.Kind.STATUS_CHANGED).last()
    assert (event.from_state, event.to_state, event.actor, event.actor_label) == (
        S.RESOLVED,
        S.CLOSED,
        None,
        "system: auto-close",
    )
    assert reload(recent).status == S.RESOLVED
    assert reload(still_open).status == S.RECEIVED


def test_auto_close_is_safe_to_run_twice(resolved_at, time_machine):
    resolved_at(T)
    time_machine.move_to(T + timedelta(days=2), tick=False)

    assert incident_auto_close_resolved_task() == 1
    assert incident_auto_close_resolved_task() == 0


def test_auto_close_honours_the_configured_hours(resolved_at, settings, time_machine):
    settings.INCIDENT_AUTO_CLOSE_HOURS = 1
    incident = resolved_at(T)

    time_machine.move_to(T + timedelta(minutes=59), tick=False)
    assert incident_auto_close_resolved_task() == 0
    time_machine.move_to(T + timedelta(minutes=61), tick=False)
    assert incident_auto_close_resolved_task() == 1
    assert reload(incident).status == S.CLOSED


def test_auto_close_skips_an_incident_reopened_after_resolution(resolved_at, supervisor, time_machine):
    # given an incident resolved at T and reopened later (its resolved_at is cleared)
    incident = resolved_at(T)
    services.incident_reopen(incident=incident, actor=supervisor, note="Belum selesai.")

    time_machine.move_to(T + timedelta(days=3), tick=False)
    assert incident_auto_close_resolved_task() == 0
    assert reload(incident).status == S.VERIFIED


def test_auto_close_skips_an_incident_that_changed_after_it_was_selected(
    resolved_at, supervisor, time_machine, monkeypatch
):
    # given two old resolved incidents, one of which is reopened while the task works
    first, second = resolved_at(T), resolved_at(T + timedelta(minutes=1))
    time_machine.move_to(T + timedelta(days=2), tick=False)
    real_close = services.incident_close

    def close_after_reopen(*, incident, **kwargs):
        if incident.pk == first.pk:
            services.incident_reopen(incident=first, actor=supervisor, note="Dibuka lagi.")
        return real_close(incident=incident, **kwargs)

    monkeypatch.setattr(services, "incident_close", close_after_reopen)

    # when the task runs, the reopened one is skipped and the other is closed
    assert incident_auto_close_resolved_task() == 1
    assert (reload(first).status, reload(second).status) == (S.VERIFIED, S.CLOSED)


def test_auto_close_ends_assignments_still_open(seeded, dispatcher, agency_user, time_machine):
    # given a resolved incident whose fire engine is still on scene
    time_machine.move_to(T, tick=False)
    incident = incident_in_status(S.VERIFIED, actor=dispatcher, category=seeded.category("fire"))
    (assignment,) = dispatch_to(incident, seeded.agency("damkar"), actor=dispatcher)
    services.incident_resolve(incident=incident, actor=dispatcher)

    time_machine.move_to(T + timedelta(days=2), tick=False)
    incident_auto_close_resolved_task()

    assert reload(incident).status == S.CLOSED
    assert reload(assignment).status == Assignment.Status.CANCELLED


def test_the_auto_close_task_is_registered_and_scheduled(settings):
    name = "incidents.tasks.incident_auto_close_resolved_task"
    celery_app.loader.import_default_modules()

    assert name in celery_app.tasks
    assert settings.CELERY_BEAT_SCHEDULE["incidents-auto-close-resolved"]["task"] == name
    assert "dispatch.tasks.assignment_notify_agency_task" in celery_app.tasks


def test_auto_close_runs_through_celery(resolved_at, celery_eager, time_machine):
    incident = resolved_at(T)
    time_machine.move_to(T + timedelta(days=2), tick=False)

    result = incident_auto_close_resolved_task.delay()

    assert result.get() == 1
    assert reload(incident).status == S.CLOSED
