"""Changing an incident's priority re-computes its SLA deadlines (policies may differ per priority)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incidents import services
from incidents.models import Priority, SlaPolicy, TimelineEvent
from tests.factories import reload

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def at_t0(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def test_lowering_the_priority_moves_the_deadlines_to_the_priority_policy(seeded, make_incident, operator, at_t0):
    # given fires at P3 get 20 minutes on scene, and a P1 fire received at T0 (10 minutes)
    fire = seeded.category("fire")
    SlaPolicy.objects.create(category=fire, priority=Priority.P3, response_minutes=20, warning_percent=50)
    incident = make_incident(category=fire, priority=Priority.P1)
    assert incident.response_due_at == T0 + timedelta(minutes=10)

    # when the dispatcher finds it is a small bin fire and lowers it to P3, five minutes later
    at_t0.move_to(T0 + timedelta(minutes=5), tick=False)
    services.incident_update(incident=incident, actor=operator, data={"priority": Priority.P3})

    # then the deadlines follow the P3 policy, still counted from the time received
    incident = reload(incident)
    assert incident.response_due_at == T0 + timedelta(minutes=20)
    assert incident.response_warn_at == T0 + timedelta(minutes=10)
    # the sweep's next look is not moved later than the earliest pending threshold
    assert incident.sla_next_check_at <= T0 + timedelta(minutes=10)
    # and the timeline records the change with the new deadlines
    event = TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.UPDATED).get()
    assert event.payload["changes"]["priority"] == [1, 3]
    assert event.payload["response_due_at"] == (T0 + timedelta(minutes=20)).isoformat()


def test_other_edits_leave_the_deadlines_alone(seeded, make_incident, operator, at_t0):
    incident = make_incident(category=seeded.category("fire"))
    before = (incident.dispatch_due_at, incident.response_due_at, incident.resolve_due_at)

    services.incident_update(incident=incident, actor=operator, data={"address": "Jl. Pandanaran 1"})

    incident = reload(incident)
    assert (incident.dispatch_due_at, incident.response_due_at, incident.resolve_due_at) == before
    event = TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.UPDATED).get()
    assert "response_due_at" not in event.payload
