from __future__ import annotations

from django import template
from django.utils import timezone

from ..clocks import STATE_LABELS, Clock
from ..menu import menu_for

register = template.Library()


@register.inclusion_tag("console/_menu.html", takes_context=True)
def console_menu(context):
    request = context["request"]
    active = getattr(request, "console_screen", "")
    return {"items": menu_for(request.user), "active": active, "request": request}


@register.inclusion_tag("console/_clock.html")
def sla_clock(clock: Clock, compact: bool = False):
    """A live clock: server-rendered state and text, ticked every second by console.js."""
    now = timezone.now()
    return {
        "clock": clock,
        "state": clock.state(now),
        "elapsed": clock.elapsed_seconds(now),
        "labels": {key: str(value) for key, value in STATE_LABELS.items()},
        "compact": compact,
    }


@register.filter
def duration(seconds) -> str:
    """Seconds as m:ss (or h:mm:ss)."""
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@register.filter
def isoformat(value) -> str:
    return value.isoformat() if value else ""


@register.simple_tag(takes_context=True)
def unread_notifications(context):
    """The number of unread notifications of the user, or None without the notification engine."""
    from ..notifications import unread_count

    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return None
    cached = getattr(request, "_console_unread", "unset")
    if cached == "unset":
        cached = unread_count(request.user)
        request._console_unread = cached
    return cached
