"""Celery app for the kill test only: the same app, with a pause after each recording step.

``celery -A tests.sla.slow_celery worker`` makes the sweep slow enough to be killed half-way through
a transaction, without any test hook in the production code: the batch path pauses after inserting
a batch's events (before their timeline events, notifications and next checks), the per-incident
path after each event. Run it with a small ``SLA_SWEEP_BATCH`` so that some batches commit before
the kill.
"""

import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "semarang112.settings")
django.setup()

from incidents import sla  # noqa: E402
from semarang112.celery import app  # noqa: E402,F401 - the app Celery looks for

_record = sla._event_record
_insert = sla._events_insert
_delay = float(os.environ.get("SLA_TEST_RECORD_DELAY", "0.5"))


def _slow_record(*args, **kwargs):
    event = _record(*args, **kwargs)
    time.sleep(_delay)  # inside the incident's transaction: a kill now must roll it back
    return event


def _slow_insert(*args, **kwargs):
    events = _insert(*args, **kwargs)
    time.sleep(_delay)  # inside the batch's transaction: a kill now must roll it back whole
    return events


sla._event_record = _slow_record
sla._events_insert = _slow_insert
