"""Formatting for report pages: shares, durations, changes and heat-map shading."""

from __future__ import annotations

from django import template
from django.utils.formats import number_format

register = template.Library()

DASH = "–"


@register.filter
def pct(value, decimals: int = 1) -> str:
    """0.9231 → "92,3 %" (locale-aware); None → "–"."""
    if value is None or value == "":
        return DASH
    return f"{number_format(float(value) * 100, decimal_pos=int(decimals))} %"


@register.filter
def duration(seconds) -> str:
    """Seconds → "m:ss" (or "h:mm:ss"); None → "–". Tenths are dropped: reports read in seconds."""
    if seconds is None or seconds == "":
        return DASH
    total = int(round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@register.filter
def change(value, kind: str = "relative") -> str:
    """A relative change (0.12 → "+12,0 %") or a difference in share points (0.05 → "+5,0 pp")."""
    if value is None or value == "":
        return DASH
    number = float(value) * 100
    sign = "+" if number > 0 else ""
    unit = "pp" if kind == "points" else "%"
    return f"{sign}{number_format(number, decimal_pos=1)} {unit}"


@register.filter
def heat(value, maximum) -> str:
    """Opacity 0.05–1 for a heat-map cell (as a CSS number with a dot, whatever the locale)."""
    if not maximum or not value:
        return "0"
    return f"{0.08 + 0.92 * float(value) / float(maximum):.2f}"


@register.filter
def meets(share, goal) -> str:
    """CSS class for a share against its goal: "ok", "bad" or "" when there is no share."""
    if share is None:
        return ""
    return "ok" if float(share) >= float(goal) else "bad"


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None
