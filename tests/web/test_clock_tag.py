"""The console's SLA clock tag: the same markup as the inclusion template it replaced, in every state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from semarang112.console.clocks import STATE_LABELS, Clock
from semarang112.console.templatetags.console import sla_clock

# templates/console/_clock.html as it was (rendered with the inclusion tag's context)
REFERENCE = Template(
    """{% load console %}<span class="clock clock-{{ state }}{% if compact %} clock-compact{% endif %}"
  data-clock data-start="{{ clock.started_at|isoformat }}" data-warn="{{ clock.warning_at|isoformat }}"
  data-due="{{ clock.due_at|isoformat }}" data-stop="{{ clock.stopped_at|isoformat }}" data-state="{{ state }}"
  data-label-ok="{{ labels.ok }}" data-label-warning="{{ labels.warning }}" data-label-breached="{{ labels.breached }}"
  ><span class="clock-kind">{{ clock.label }}</span> <span class="clock-time" data-clock-time>{{ elapsed|duration }}</span> <span class="clock-state" data-clock-state>{{ clock.state_label }}</span></span>"""
)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    """One instant for both renderings (elapsed seconds would differ across a second boundary)."""
    instant = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: instant)


def reference(clock: Clock, compact: bool) -> str:
    now = timezone.now()
    return REFERENCE.render(
        Context(
            {
                "clock": clock,
                "state": clock.state(now),
                "elapsed": clock.elapsed_seconds(now),
                "labels": {key: str(value) for key, value in STATE_LABELS.items()},
                "compact": compact,
            }
        )
    )


def clocks():
    now = timezone.now()
    start = now - timedelta(minutes=5)
    return {
        "ok": Clock("response", "On scene", start, now + timedelta(minutes=5)),
        "warning": Clock("dispatch", "Dispatch", start, now + timedelta(seconds=30)),
        "breached": Clock("response", "On scene", start - timedelta(hours=2), now - timedelta(minutes=1)),
        "met": Clock("dispatch", "Dispatch", start, now + timedelta(minutes=1), stopped_at=now - timedelta(minutes=2)),
        "missed": Clock("response", "On scene", start, now - timedelta(minutes=1), stopped_at=now),
        "stopped": Clock("response", "On scene", start, now + timedelta(minutes=1), ended=True),
        "none": Clock("response", "On scene", start, None),
        "stored warning": Clock("dispatch", "Dispatch", start, now + timedelta(minutes=5), stored_warning_at=now),
        "markup in a label": Clock("response", '<b>"x"</b> & co', start, now + timedelta(minutes=5)),
    }


@pytest.mark.parametrize("name", list(clocks()))
@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("language", ["id", "en"])
def test_the_tag_writes_what_the_template_wrote(name, compact, language):
    clock = clocks()[name]
    with translation.override(language):
        assert sla_clock(clock, compact=compact) == reference(clock, compact)
