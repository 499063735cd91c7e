"""SLA policies: which targets apply, and the deadlines stored when each clock starts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch import services as dispatch_services
from incidents import services, sla
from incidents.models import Incident, Priority, SlaPolicy, TimelineEvent
from tests.factories import reload

from .conftest import T0

pytestmark = pytest.mark.django_db


def test_a_new_incident_stores_deadlines_from_its_category_with_80_percent_warnings(seeded, make_incident, clock):
    # given a fire (category targets: dispatch 1 min, on scene 10 min; resolve by default 4 h)
    # when it is received at T0
    incident = make_incident(category=seeded.category("fire"))

    # then every warning and deadline is stored, counted from received
    assert incident.dispatch_warn_at == T0 + timedelta(seconds=48)
    assert incident.dispatch_due_at == T0 + timedelta(minutes=1)
    assert incident.response_warn_at == T0 + timedelta(minutes=8)
    assert incident.response_due_at == T0 + timedelta(minutes=10)
    assert incident.resolve_warn_at == T0 + timedelta(minutes=192)
    assert incident.resolve_due_at == T0 + timedelta(hours=4)
    # and the sweep will first look at it at its earliest threshold
    assert reload(incident).sla_next_check_at == T0 + timedelta(seconds=48)


def test_backdated_incident_counts_from_the_time_received(seeded, make_incident, clock):
    clock.at(minutes=30)
    incident = make_incident(received_at=T0)
    assert incident.response_due_at == T0 + timedelta(minutes=10)
    assert incident.sla_next_check_at == T0 + timedelta(seconds=48)  # already due: the next sweep looks


def test_policies_resolve_target_by_target_most_specific_first(seeded):
    # given policies at every level for fires, each setting some targets
    fire, damkar = seeded.category("fire"), seeded.agency("damkar")
    SlaPolicy.objects.create(category=fire, dispatch_minutes=3, response_minutes=12, resolve_minutes=300, warning_percent=70)
    SlaPolicy.objects.create(category=fire, priority=Priority.P1, response_minutes=8, warning_percent=75)
    SlaPolicy.objects.create(category=fire, agency=damkar, acknowledge_minutes=4, warning_percent=60)
    SlaPolicy.objects.create(category=fire, priority=Priority.P1, agency=damkar, acknowledge_minutes=1, warning_percent=50)

    # then the category-wide policy overrides the category's columns
    assert sla.targets_for(category=fire, priority=Priority.P3) == sla.Targets(
        dispatch_minutes=3, acknowledge_minutes=2, response_minutes=12, resolve_minutes=300, warning_percent=70
    )
    # a priority policy overrides only the targets it sets; the rest is inherited
    assert sla.targets_for(category=fire, priority=Priority.P1) == sla.Targets(
        dispatch_minutes=3, acknowledge_minutes=2, response_minutes=8, resolve_minutes=300, warning_percent=75
    )
    # an agency policy sets that agency's acknowledge target
    assert sla.targets_for(category=fire, priority=Priority.P3, agency=damkar).acknowledge_minutes == 4
    assert sla.targets_for(category=fire, priority=Priority.P3, agency=damkar).warning_percent == 60
    # agency + priority beats agency alone
    p1_damkar = sla.targets_for(category=fire, priority=Priority.P1, agency=damkar)
    assert (p1_damkar.acknowledge_minutes, p1_damkar.response_minutes, p1_damkar.warning_percent) == (1, 8, 50)
    # another agency is not affected
    assert sla.targets_for(category=fire, priority=Priority.P1, agency=seeded.agency("dinkes-psc")).acknowledge_minutes == 2


def test_inactive_policies_and_other_categories_do_not_apply(seeded, settings):
    settings.SLA_RESOLVE_MINUTES_DEFAULT = 0
    fire = seeded.category("fire")
    SlaPolicy.objects.create(category=fire, dispatch_minutes=9, is_active=False)
    SlaPolicy.objects.create(category=seeded.category("flood"), dispatch_minutes=7)

    targets = sla.targets_for(category=fire, priority=Priority.P1)

    assert targets == sla.Targets(
        dispatch_minutes=fire.sla_dispatch_minutes,
        acknowledge_minutes=fire.sla_acknowledge_minutes,
        response_minutes=fire.sla_response_minutes,
        resolve_minutes=None,  # resolve clock off
        warning_percent=80,
    )


def test_incident_without_resolve_target_has_no_resolve_clock(make_incident, settings, clock):
    settings.SLA_RESOLVE_MINUTES_DEFAULT = 0
    incident = make_incident()
    assert incident.resolve_due_at is None and incident.resolve_warn_at is None


def test_priority_chosen_at_creation_selects_the_priority_policy(seeded, make_incident, clock):
    fire = seeded.category("fire")
    SlaPolicy.objects.create(category=fire, priority=Priority.P3, response_minutes=20)

    urgent = make_incident(category=fire)  # the category's default priority, P1
    standard = make_incident(category=fire, priority=Priority.P3)

    assert urgent.response_due_at == T0 + timedelta(minutes=10)
    assert standard.response_due_at == T0 + timedelta(minutes=20)


def test_editing_a_policy_does_not_rewrite_running_deadlines(seeded, make_incident, clock):
    # given an incident received under a 10-minute on-scene target
    fire = seeded.category("fire")
    policy = SlaPolicy.objects.create(category=fire, response_minutes=10)
    before = make_incident(category=fire)

    # when the policy is tightened
    policy.response_minutes = 5
    policy.save()
    after = make_incident(category=fire)

    # then the running incident keeps its deadline and new incidents get the new one
    assert reload(before).response_due_at == T0 + timedelta(minutes=10)
    assert after.response_due_at == T0 + timedelta(minutes=5)


def test_recategorising_recomputes_deadlines_with_a_timeline_event(seeded, make_incident, operator, clock):
    # given a fallen tree (on scene 10 min) received at T0, re-categorised a minute later
    incident = make_incident(category=seeded.category("fallen-tree"))
    SlaPolicy.objects.create(category=seeded.category("fire"), response_minutes=7, resolve_minutes=60)
    clock.at(minutes=1)

    # when it turns out to be a fire
    services.incident_change_category(incident=incident, category=seeded.category("fire"), actor=operator)

    # then the deadlines follow the fire's targets, still from received
    incident = reload(incident)
    assert incident.response_due_at == T0 + timedelta(minutes=7)
    assert incident.resolve_due_at == T0 + timedelta(minutes=60)
    assert incident.dispatch_due_at == T0 + timedelta(minutes=1)
    # and the category change records them
    event = incident.timeline.get(kind=TimelineEvent.Kind.CATEGORY_CHANGED)
    assert event.payload["response_due_at"] == incident.response_due_at.isoformat()
    assert event.payload["resolve_due_at"] == incident.resolve_due_at.isoformat()
    assert event.payload["dispatch_warn_at"] == incident.dispatch_warn_at.isoformat()


def test_recategorising_never_delays_the_next_check(seeded, make_incident, operator, clock, sweep):
    # given a fire dispatched at 30 s whose assignment must be acknowledged within 2 minutes, and a
    # sweep that has moved the next check on to the acknowledge warning (80% of 2 min after dispatch)
    incident = make_incident(category=seeded.category("fire"))
    clock.at(seconds=30)
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=operator)
    clock.at(seconds=60)
    sweep()
    ack_warning = T0 + timedelta(seconds=30 + 96)
    assert reload(incident).sla_next_check_at == ack_warning

    # when it is re-categorised to a broken water main (dispatch warning at 144 s, later than that)
    services.incident_change_category(incident=incident, category=seeded.category("water-main"), actor=operator)

    # then the sweep still looks at it in time for the acknowledge warning
    assert reload(incident).sla_next_check_at == ack_warning


def test_dispatch_stores_the_agency_acknowledge_deadline(seeded, make_incident, dispatcher, clock, sweep):
    # given damkar must acknowledge fires within 5 minutes; ambulances keep the category's 2
    fire = seeded.category("fire")
    SlaPolicy.objects.create(category=fire, agency=seeded.agency("damkar"), acknowledge_minutes=5)
    incident = make_incident(category=fire)
    clock.at(seconds=40)

    # when both are dispatched
    assignments = dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar"), seeded.agency("dinkes-psc")], actor=dispatcher
    )

    # then each assignment stores its own deadline, from the dispatch
    due = {assignment.agency.code: assignment.acknowledge_due_at for assignment in assignments}
    assert due == {
        "damkar": T0 + timedelta(seconds=40, minutes=5),
        "dinkes-psc": T0 + timedelta(seconds=40, minutes=2),
    }
    # and, the dispatch clock having stopped, the sweep next looks at the incident at the earliest
    # acknowledge warning (80% of 2 min)
    clock.at(seconds=50)
    sweep()
    incident = Incident.objects.get(pk=incident.pk)
    assert incident.sla_next_check_at == T0 + timedelta(seconds=40 + 96)
