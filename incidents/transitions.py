"""The allowed state changes of an incident. Services consult this map; nothing else does."""

from __future__ import annotations

from django.utils.translation import gettext as _

from semarang112.exceptions import InvalidTransition

from .models import Incident

S = Incident.Status

INCIDENT_TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.VERIFIED, S.DISPATCHED, S.CANCELLED, S.FALSE_ALARM, S.MERGED}),
    S.VERIFIED: frozenset({S.DISPATCHED, S.RESOLVED, S.CANCELLED, S.FALSE_ALARM, S.MERGED}),
    # DISPATCHED -> VERIFIED: every agency declined, the case goes back to the dispatcher.
    S.DISPATCHED: frozenset({S.VERIFIED, S.ON_SCENE, S.RESOLVED, S.CANCELLED, S.FALSE_ALARM, S.MERGED}),
    S.ON_SCENE: frozenset({S.RESOLVED}),
    # RESOLVED -> VERIFIED: a supervisor reopens the case.
    S.RESOLVED: frozenset({S.CLOSED, S.VERIFIED}),
    S.CLOSED: frozenset({S.VERIFIED}),
    S.CANCELLED: frozenset(),
    S.FALSE_ALARM: frozenset(),
    S.MERGED: frozenset(),
}


def allowed_next(current: str, transitions: dict[str, frozenset[str]] = INCIDENT_TRANSITIONS) -> list[str]:
    return sorted(transitions.get(current, frozenset()))


def check_transition(
    current: str, target: str, transitions: dict[str, frozenset[str]] = INCIDENT_TRANSITIONS
) -> None:
    """Raise InvalidTransition (HTTP 409) unless ``current -> target`` is in the map."""
    if target not in transitions.get(current, frozenset()):
        raise InvalidTransition(
            _("Cannot change status from %(current)s to %(target)s.") % {"current": current, "target": target},
            extra={"current": current, "target": target, "allowed": allowed_next(current, transitions)},
        )
