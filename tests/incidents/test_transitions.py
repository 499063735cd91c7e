"""The incident transition map, and every service against every (from, to) pair of it.

The map test checks ``check_transition`` alone; the service matrix drives a real incident to the
``from`` state through the services and then calls the service that moves it to ``to``: it must
either succeed (status, version, timeline) or raise ``InvalidTransition`` with the allowed next
states and leave the row untouched.
"""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction

from dispatch import services as dispatch_services
from dispatch.models import Assignment
from incidents import services
from incidents.models import Incident, TimelineEvent
from incidents.transitions import INCIDENT_TRANSITIONS, allowed_next, check_transition
from semarang112.exceptions import ApplicationError, InvalidTransition
from tests.factories import AgencyFactory, UserFactory, create_incident, incident_in_status, reload

S = Incident.Status
K = TimelineEvent.Kind
STATUSES = list(S)
ALL_PAIRS = [(a, b) for a, b in itertools.product(STATUSES, STATUSES) if a != b]


def _pair_id(pair) -> str:
    return f"{pair[0]}->{pair[1]}"


# ------------------------------------------------------------------------------------------------
# The map itself
# ------------------------------------------------------------------------------------------------
def test_map_covers_every_status_and_only_known_statuses():
    assert set(INCIDENT_TRANSITIONS) == set(STATUSES)
    for source, targets in INCIDENT_TRANSITIONS.items():
        assert targets <= set(STATUSES), source
        assert source not in targets, f"{source} must not loop to itself"


@pytest.mark.parametrize("status", Incident.FINAL_STATUSES[1:])
def test_final_statuses_other_than_closed_have_no_way_out(status):
    assert INCIDENT_TRANSITIONS[status] == frozenset()


def test_closed_can_only_be_reopened_and_nothing_returns_to_received():
    assert INCIDENT_TRANSITIONS[S.CLOSED] == {S.VERIFIED}
    assert all(S.RECEIVED not in targets for targets in INCIDENT_TRANSITIONS.values())


@pytest.mark.parametrize("pair", list(itertools.product(STATUSES, STATUSES)), ids=_pair_id)
def test_check_transition_for_every_pair(pair):
    current, target = pair
    if target in INCIDENT_TRANSITIONS[current]:
        check_transition(current, target)
        return
    with pytest.raises(InvalidTransition) as excinfo:
        check_transition(current, target)
    error = excinfo.value
    assert error.code == "invalid_transition"
    assert error.http_status == 409
    assert error.extra == {"current": current, "target": target, "allowed": sorted(INCIDENT_TRANSITIONS[current])}
    assert error.extra["allowed"] == allowed_next(current)


# ------------------------------------------------------------------------------------------------
# Every service against every pair
# ------------------------------------------------------------------------------------------------
def _only_assignment(incident: Incident) -> Assignment:
    return Assignment.objects.filter(incident=incident, status__in=Assignment.ACTIVE_STATUSES).get()


def _force(incident: Incident, target: str, actor) -> None:
    """The shared status writer every service ends in, for targets no public service aims at."""
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        services._set_status(locked, target, actor=services.as_actor(actor))


def _move(incident: Incident, target: str, actor) -> None:
    """Call the service a user would use to move ``incident`` (in its current state) to ``target``."""
    source = incident.status
    if target == S.VERIFIED:
        if source == S.DISPATCHED:
            # the only way back from dispatched: the last agency declines
            dispatch_services.assignment_decline(assignment=_only_assignment(incident), actor=actor, reason="No unit.")
        elif source in (S.RESOLVED, S.CLOSED):
            services.incident_reopen(incident=incident, actor=actor, note="Caller reports smoke again.")
        else:
            services.incident_verify(incident=incident, actor=actor)
    elif target == S.DISPATCHED:
        dispatch_services.incident_dispatch(incident=incident, agencies=[AgencyFactory()], actor=actor)
    elif target == S.ON_SCENE:
        if source == S.DISPATCHED:
            assignment = _only_assignment(incident)
            dispatch_services.assignment_acknowledge(assignment=assignment, actor=actor)
            dispatch_services.assignment_on_scene(assignment=assignment, actor=actor)
        else:
            # only the first arrival of a dispatched incident moves it on scene
            _force(incident, target, actor)
    elif target == S.RESOLVED:
        services.incident_resolve(incident=incident, actor=actor)
    elif target == S.CLOSED:
        services.incident_close(incident=incident, actor=actor)
    elif target == S.CANCELLED:
        services.incident_cancel(incident=incident, actor=actor, reason="Caller cancelled.")
    elif target == S.FALSE_ALARM:
        services.incident_mark_false_alarm(incident=incident, actor=actor, reason="Nobody there.")
    elif target == S.MERGED:
        into = create_incident(actor=actor, region=incident.region, category=incident.category)
        services.incident_merge(incident=incident, into=into, actor=actor)
    elif target == S.RECEIVED:
        _force(incident, target, actor)  # no service goes back to received
    else:  # pragma: no cover
        raise AssertionError(target)


@pytest.mark.django_db
@pytest.mark.parametrize("pair", ALL_PAIRS, ids=_pair_id)
def test_service_for_every_pair_succeeds_or_raises_invalid_transition(pair):
    # given an incident brought to the source state by the services
    source, target = pair
    actor = UserFactory()
    incident = incident_in_status(source, actor=actor)
    events_before = TimelineEvent.objects.filter(incident=incident).count()

    legal = target in INCIDENT_TRANSITIONS[source]
    if source == S.ON_SCENE and target == S.DISPATCHED:
        # dispatching an incident already on scene adds an agency and keeps it on scene
        _move(incident, target, actor)
        assert reload(incident).status == S.ON_SCENE
        return

    if legal:
        # when the matching service runs
        _move(incident, target, actor)

        # then the incident moved and the timeline says so, naming the actor
        after = reload(incident)
        assert after.status == target
        assert after.version > incident.version
        event = TimelineEvent.objects.filter(incident=incident, kind=K.STATUS_CHANGED).last()
        assert (event.from_state, event.to_state, event.actor) == (source, target, actor)
    else:
        # when the matching service runs, it refuses with the allowed next states
        with pytest.raises(InvalidTransition) as excinfo:
            _move(incident, target, actor)
        assert excinfo.value.code == "invalid_transition"
        assert excinfo.value.extra["allowed"] == sorted(INCIDENT_TRANSITIONS[source])
        assert excinfo.value.extra["current"] == source

        # and nothing changed
        after = reload(incident)
        assert (after.status, after.version) == (source, incident.version)
        assert TimelineEvent.objects.filter(incident=incident).count() == events_before


# ------------------------------------------------------------------------------------------------
# Services that share a target must not share each other's sources
# ------------------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("source", [S.RESOLVED, S.CLOSED])
def test_verify_does_not_reopen_a_resolved_or_closed_incident(source):
    # given a resolved or closed incident
    incident = incident_in_status(source)

    # when someone "verifies" it instead of reopening with a reason
    with pytest.raises(ApplicationError):
        services.incident_verify(incident=incident, actor=None)

    # then it stays where it is
    assert reload(incident).status == source


@pytest.mark.django_db
def test_verify_does_not_pull_back_a_dispatched_incident_with_active_assignments():
    incident = incident_in_status(S.DISPATCHED)

    with pytest.raises(ApplicationError):
        services.incident_verify(incident=incident, actor=None)

    assert reload(incident).status == S.DISPATCHED


@pytest.mark.django_db
def test_reopen_only_applies_to_resolved_or_closed_incidents():
    incident = incident_in_status(S.DISPATCHED)

    with pytest.raises(ApplicationError):
        services.incident_reopen(incident=incident, actor=None, note="Reopen by mistake")

    assert reload(incident).status == S.DISPATCHED
