"""Celery app for the kill test only: the same app, with each recorded SLA event followed by a pause.

``celery -A tests.sla.slow_celery worker`` makes the sweep slow enough to be killed half-way through
an incident's transaction, without any test hook in the production code.
"""

import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "semarang112.settings")
django.setup()

from incidents import sla  # noqa: E402
from semarang112.celery import app  # noqa: E402,F401 - the app Celery looks for

_record = sla._event_record
_delay = float(os.environ.get("SLA_TEST_RECORD_DELAY", "0.5"))


def _slow_record(*args, **kwargs):
    event = _record(*args, **kwargs)
    time.sleep(_delay)  # inside the incident's transaction: a kill now must roll it back
    return event


sla._event_record = _slow_record
