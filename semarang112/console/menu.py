"""Each role's menu, from the same Access the permission checks use."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from dispatch.access import CALL_CREATE, INCIDENT_DISPATCH, REPORT_READ, access_for, allowed_actions


@dataclass(frozen=True)
class MenuItem:
    key: str
    url_name: str
    label: str
    shortcut: str  # Alt+Shift+<key>

    @property
    def url(self) -> str:
        return reverse(self.url_name)


INTAKE = MenuItem("intake", "incidents:intake", _("Call intake"), "N")
QUEUE = MenuItem("queue", "incidents:queue", _("Live queue"), "Q")
DISPATCH = MenuItem("dispatch", "dispatch:board", _("Dispatch board"), "D")
INBOX = MenuItem("inbox", "dispatch:inbox", _("Agency inbox"), "I")
MAP = MenuItem("map", "incidents:map", _("Map"), "M")
NOTIFICATIONS = MenuItem("notifications", "incidents:notifications", _("Notifications"), "O")
REPORTS = MenuItem("reports", "reporting:overview", _("Reports"), "R")


def sees_queue(user) -> bool:
    access = access_for(user)
    return access.is_superuser or access.is_command_center or access.reads_everything


def works_inbox(user) -> bool:
    access = access_for(user)
    return bool(access.agency_roles)


def menu_for(user) -> list[MenuItem]:
    if not user.is_authenticated:
        return []
    actions = allowed_actions(user)
    items = []
    if CALL_CREATE in actions:
        items.append(INTAKE)
    if sees_queue(user):
        items.append(QUEUE)
    if INCIDENT_DISPATCH in actions:
        items.append(DISPATCH)
    if works_inbox(user):
        items.append(INBOX)
    items.append(MAP)
    if REPORT_READ in actions:
        items.append(REPORTS)
    items.append(NOTIFICATIONS)
    return items


def home_for(user) -> str:
    """The first screen of a role: intake for call-takers, the queue for the rest of the center."""
    access = access_for(user)
    if access.cc_roles and access.cc_roles <= {"call_taker"}:
        return INTAKE.url
    if sees_queue(user):
        return QUEUE.url
    if works_inbox(user):
        return INBOX.url
    return MAP.url
