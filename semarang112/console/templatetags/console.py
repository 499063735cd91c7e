from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.html import format_html

from ..clocks import BREACHED, OK, STATE_LABELS, WARNING, Clock
from ..menu import menu_for

register = template.Library()


@register.inclusion_tag("console/_menu.html", takes_context=True)
def console_menu(context):
    request = context["request"]
    active = getattr(request, "console_screen", "")
    return {"items": menu_for(request.user), "active": active, "request": request}


_CLOCK_HTML = (
    '<span class="clock clock-{state}{compact}"\n'
    '  data-clock data-start="{start}" data-warn="{warn}"\n'
    '  data-due="{due}" data-stop="{stop}" data-state="{state}"\n'
    '  data-label-ok="{ok}" data-label-warning="{warning}" data-label-breached="{breached}"\n'
    '  ><span class="clock-kind">{label}</span> <span class="clock-time" data-clock-time>{elapsed}</span>'
    ' <span class="clock-state" data-clock-state>{state_label}</span></span>'
)


@register.simple_tag
def sla_clock(clock: Clock, compact: bool = False) -> str:
    """A live clock: server-rendered state and text, ticked every second by console.js.

    Built with format_html rather than an inclusion template: the live queue shows up to 500 of
    them on every refresh, and a sub-template render per clock was most of the page's time.
    """
    now = timezone.now()
    state = clock.state(now)
    return format_html(
        _CLOCK_HTML,
        state=state,
        compact=" clock-compact" if compact else "",
        start=isoformat(clock.started_at),
        warn=isoformat(clock.warning_at),
        due=isoformat(clock.due_at),
        stop=isoformat(clock.stopped_at),
        ok=STATE_LABELS[OK],
        warning=STATE_LABELS[WARNING],
        breached=STATE_LABELS[BREACHED],
        label=clock.label,
        elapsed=duration(clock.elapsed_seconds(now)),
        state_label=STATE_LABELS[state],
    )


@register.filter
def status_label(obj) -> str:
    """``obj.get_status_display()`` for rows of long lists: one translation lookup.

    Django's ``get_FOO_display`` builds a dict of every choice on each call, hashing (and so
    translating) each lazy label: ~10 gettext calls per status shown, a third of the live queue's
    rendering.
    """
    try:
        return type(obj).Status(obj.status).label
    except (AttributeError, ValueError):
        return obj.get_status_display()


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
