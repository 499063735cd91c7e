"""The allowed state changes of an assignment. Services consult this map; nothing else does."""

from __future__ import annotations

from incidents.transitions import allowed_next, check_transition

from .models import Assignment

A = Assignment.Status

ASSIGNMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    A.REQUESTED: frozenset({A.ACKNOWLEDGED, A.DECLINED, A.CANCELLED}),
    A.ACKNOWLEDGED: frozenset({A.EN_ROUTE, A.ON_SCENE, A.DECLINED, A.CANCELLED}),
    A.EN_ROUTE: frozenset({A.ON_SCENE, A.CANCELLED}),
    A.ON_SCENE: frozenset({A.COMPLETED}),
    A.COMPLETED: frozenset(),
    A.DECLINED: frozenset(),
    A.CANCELLED: frozenset(),
}


def check_assignment_transition(current: str, target: str) -> None:
    check_transition(current, target, ASSIGNMENT_TRANSITIONS)


def assignment_allowed_next(current: str) -> list[str]:
    return allowed_next(current, ASSIGNMENT_TRANSITIONS)
