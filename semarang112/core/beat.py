"""The Celery beat scheduler: the schedule lives in the database and the admin's edits last.

django-celery-beat's ``DatabaseScheduler`` writes every entry of ``CELERY_BEAT_SCHEDULE`` into
its tables at each start (``update_from_dict`` → ``update_or_create``), so an interval changed in
the admin (Periodic tasks) was silently reset by the next restart of beat. Here the settings only
create the entries that do not exist yet: they are the initial schedule, the database is the
schedule. To go back to the settings' value, delete the entry in the admin and restart beat.
"""

from __future__ import annotations

from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler as _DatabaseScheduler


class DatabaseScheduler(_DatabaseScheduler):
    def update_from_dict(self, mapping):
        existing = set(PeriodicTask.objects.filter(name__in=list(mapping)).values_list("name", flat=True))
        return super().update_from_dict({name: entry for name, entry in mapping.items() if name not in existing})
