"""The incident timeline as people read it: labels in the reader's language instead of stored codes.

Timeline events store machine values (``received``, ``dispatched``, ``fire``, ``breach``) so that they
stay true whatever the language; this module turns them into the choices' labels at render time.
Unknown values (a state renamed since the event was written) are shown as stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from dispatch.models import Agency, Assignment, IncidentShare
from incidents.models import Category, Incident, SlaLevel, SlaTarget, TimelineEvent

K = TimelineEvent.Kind

_INCIDENT_STATE_KINDS = {K.CREATED, K.STATUS_CHANGED}
_ASSIGNMENT_STATE_KINDS = {K.ASSIGNMENT_CREATED, K.ASSIGNMENT_STATUS}
_SLA_KINDS = {K.SLA_WARNING, K.SLA_BREACH}


@dataclass
class TimelineRow:
    event: TimelineEvent
    from_label: str = ""
    to_label: str = ""
    detail: str = ""  # one line built from the payload, in the reader's language
    note: str = ""
    fields: list[str] = field(default_factory=list)  # edited fields (Details updated), as labels
    actor: str = ""


def _label(choices, value: str) -> str:
    if not value:
        return ""
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _field_label(name: str) -> str:
    try:
        return str(Incident._meta.get_field(name).verbose_name)
    except Exception:  # a field of an assignment (unit, volunteer) or one removed since
        try:
            return str(Assignment._meta.get_field(name).verbose_name)
        except Exception:
            return name


def _sla_detail(event: TimelineEvent) -> str:
    from incidents.sla import sla_event_describe

    payload = event.payload or {}
    target, level = payload.get("target", ""), payload.get("level") or event.to_state
    due_at = parse_datetime(payload.get("due_at") or "")
    agency = event.assignment.agency if event.assignment_id else None
    if target in SlaTarget.values and level in SlaLevel.values and due_at is not None:
        return sla_event_describe(target=target, level=level, due_at=due_at, agency=agency)
    return ""


def timeline_rows(events: Iterable[TimelineEvent]) -> list[TimelineRow]:
    """Rows for the incident page. At most two queries: the categories named by re-categorisations
    and the agencies named by shares."""
    events = list(events)
    codes = {
        code
        for event in events
        if event.kind == K.CATEGORY_CHANGED
        for code in (event.from_state, event.to_state)
        if code
    }
    categories = {c.code: c.display_name for c in Category.objects.filter(code__in=codes)} if codes else {}
    shared = {(e.payload or {}).get("agency") for e in events if e.kind in (K.SHARED, K.SHARE_REVOKED)} - {None}
    agencies = dict(Agency.objects.filter(code__in=shared).values_list("code", "name")) if shared else {}
    rows = []
    for event in events:
        row = TimelineRow(event=event, note=event.note)
        if event.kind in _INCIDENT_STATE_KINDS:
            row.from_label = _label(Incident.Status, event.from_state)
            row.to_label = _label(Incident.Status, event.to_state)
        elif event.kind in _ASSIGNMENT_STATE_KINDS:
            row.from_label = _label(Assignment.Status, event.from_state)
            row.to_label = _label(Assignment.Status, event.to_state)
        elif event.kind == K.CATEGORY_CHANGED:
            row.from_label = categories.get(event.from_state, event.from_state)
            row.to_label = categories.get(event.to_state, event.to_state)
        elif event.kind in _SLA_KINDS:
            row.to_label = _label(SlaLevel, event.to_state)
            row.detail = _sla_detail(event)
            if row.detail:
                row.note = ""  # the stored note says the same, in the language of the sweep
        elif event.kind in (K.SHARED, K.SHARE_REVOKED):
            payload = event.payload or {}
            level = _label(IncidentShare.Level, payload.get("level", ""))
            agency = payload.get("agency", "")
            row.detail = " · ".join(part for part in (agencies.get(agency, agency), level) if part)
            expires_at = parse_datetime(payload.get("expires_at") or "")
            if expires_at is not None:
                until = date_format(timezone.localtime(expires_at), "d M Y H:i")
                row.detail = " · ".join((row.detail, _("until %(time)s") % {"time": until}))
            if payload.get("expired"):
                row.detail = " · ".join((row.detail, _("expired")))
        elif event.kind == K.UPDATED:
            row.fields = [_field_label(name) for name in (event.payload or {}).get("changes", {})]
        else:
            row.from_label, row.to_label = event.from_state, event.to_state
        actor = event.actor
        row.actor = (actor.get_full_name() or actor.get_username()) if actor else (event.actor_label or _("system"))
        rows.append(row)
    return rows
