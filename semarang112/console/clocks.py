"""SLA clocks as the console shows them: running, warning, breached, met or missed.

``sla_warning_at`` is the ONE place that decides when a running clock turns to "warning": the
threshold the SLA engine stored on the row (``Incident.*_warn_at``, fixed when the clock started)
when there is one, else SLA_WARNING_PERCENT_DEFAULT (80 %) of the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

OK, WARNING, BREACHED, MET, MISSED, STOPPED, NONE = "ok", "warning", "breached", "met", "missed", "stopped", "none"

STATE_LABELS = {
    OK: _("On time"),
    WARNING: _("Warning"),
    BREACHED: _("Breached"),
    MET: _("Met"),
    MISSED: _("Missed"),
    STOPPED: _("Stopped"),
    NONE: _("No target"),
}
RUNNING_STATES = (OK, WARNING, BREACHED)


def sla_warning_at(
    started_at: datetime | None, due_at: datetime | None, stored: datetime | None = None
) -> datetime | None:
    """When a clock from ``started_at`` to ``due_at`` turns to "warning"."""
    if stored is not None:
        return stored
    if started_at is None or due_at is None:
        return None
    percent = getattr(settings, "SLA_WARNING_PERCENT_DEFAULT", 80)
    return started_at + (due_at - started_at) * (percent / 100)


@dataclass(frozen=True)
class Clock:
    kind: str  # "dispatch", "response", "acknowledge"
    label: str
    started_at: datetime | None
    due_at: datetime | None
    stopped_at: datetime | None = None
    ended: bool = False  # the case ended without reaching the milestone
    stored_warning_at: datetime | None = None  # the SLA engine's threshold, when the row has one

    @property
    def warning_at(self) -> datetime | None:
        return sla_warning_at(self.started_at, self.due_at, self.stored_warning_at)

    def state(self, now: datetime | None = None) -> str:
        if self.due_at is None or self.started_at is None:
            return NONE
        if self.stopped_at is not None:
            return MET if self.stopped_at <= self.due_at else MISSED
        if self.ended:
            return STOPPED
        now = now or timezone.now()
        if now >= self.due_at:
            return BREACHED
        if now >= self.warning_at:
            return WARNING
        return OK

    @property
    def state_now(self) -> str:
        return self.state()

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state()])

    @property
    def running(self) -> bool:
        return self.state() in RUNNING_STATES

    def elapsed_seconds(self, now: datetime | None = None) -> int:
        if self.started_at is None:
            return 0
        end = self.stopped_at or now or timezone.now()
        return max(0, int((end - self.started_at).total_seconds()))


def dispatch_clock(incident) -> Clock:
    """Received → first dispatch."""
    return Clock(
        kind="dispatch",
        label=str(_("Dispatch")),
        started_at=incident.received_at,
        due_at=incident.dispatch_due_at,
        stored_warning_at=getattr(incident, "dispatch_warn_at", None),
        stopped_at=incident.first_dispatched_at,
        ended=incident.first_dispatched_at is None and not incident.is_open,
    )


def response_clock(incident) -> Clock:
    """Received → first unit on scene (the 10-minute target)."""
    return Clock(
        kind="response",
        label=str(_("On scene")),
        started_at=incident.received_at,
        due_at=incident.response_due_at,
        stored_warning_at=getattr(incident, "response_warn_at", None),
        stopped_at=incident.first_on_scene_at,
        ended=incident.first_on_scene_at is None and (not incident.is_open or incident.status == "resolved"),
    )


def acknowledge_clock(assignment) -> Clock:
    """Requested → acknowledged by the agency."""
    return Clock(
        kind="acknowledge",
        label=str(_("Acknowledge")),
        started_at=assignment.requested_at,
        due_at=assignment.acknowledge_due_at,
        stopped_at=assignment.acknowledged_at,
        ended=assignment.acknowledged_at is None and assignment.status not in ("requested",),
    )


def open_incident_clock_q(state: str, now: datetime):
    """A Q on open incidents whose current clock (``current_clock``) is in ``state`` (ok, warning or
    breached) at ``now``, for filtering in SQL before a list is cut.

    Exact for rows with a stored warning threshold (every incident the services create); a row
    without one (its threshold is the default share of the target) matches both ``ok`` and
    ``warning`` here, so callers re-check such rows with ``Clock.state``.
    """
    from django.db.models import Q

    phases = (
        # until the first dispatch: the dispatch clock
        ("dispatch_due_at", "dispatch_warn_at", Q(first_dispatched_at__isnull=True, status__in=("received", "verified"))),
        # then the on-scene clock, running until the first unit is on scene
        (
            "response_due_at",
            "response_warn_at",
            ~Q(first_dispatched_at__isnull=True, status__in=("received", "verified"))
            & Q(first_on_scene_at__isnull=True),
        ),
    )
    matched = Q(pk__in=[])
    for due, warn, phase in phases:
        if state == BREACHED:
            condition = Q(**{f"{due}__lte": now})
        elif state == WARNING:
            condition = Q(**{f"{due}__gt": now}) & (Q(**{f"{warn}__lte": now}) | Q(**{f"{warn}__isnull": True}))
        elif state == OK:
            condition = Q(**{f"{due}__gt": now}) & (Q(**{f"{warn}__gt": now}) | Q(**{f"{warn}__isnull": True}))
        else:
            raise ValueError(f"not a running clock state: {state!r}")
        matched |= phase & condition
    return matched


def current_clock(incident) -> Clock:
    """The clock that matters now: dispatch until dispatched, then on-scene."""
    if incident.first_dispatched_at is None and incident.status in ("received", "verified"):
        return dispatch_clock(incident)
    return response_clock(incident)
