"""PostgreSQL connections read timestamps with psycopg's C loader.

Django 5.2 registers its own ``timestamptz`` loader on every connection
(``django/db/backends/postgresql/psycopg_any.py``): a subclass of psycopg's pure-Python
``TimestamptzLoader`` that then sets the tzinfo to the connection's time zone. That subclass turns
off psycopg's C implementation for every timestamp the product reads; an incident row has fifteen,
and parsing them in Python was about an eighth of the CPU of an incident list page.

When both sides are UTC — the session ``TimeZone`` (Django sets it on connect) and Django's
connection time zone (``USE_TZ`` with no database ``TIME_ZONE``, the settings here) — psycopg's C
loader returns exactly what Django's does: aware datetimes with ``tzinfo=datetime.UTC``.
Then a loader that hands each value to the C loader is registered instead (the C class cannot be
subclassed), with the ``timezone`` attribute Django compares before registering its own loader again
on each cursor. In any other set-up nothing changes.
"""

from __future__ import annotations

import datetime

UTC_NAMES = ("UTC", "Etc/UTC")


def use_c_timestamp_loader(sender, connection, **kwargs) -> bool:
    """``connection_created`` receiver. Returns whether the C loader was registered."""
    if connection.vendor != "postgresql" or connection.timezone is not datetime.UTC:
        return False
    from psycopg import postgres, pq
    from psycopg.adapt import Loader

    raw = connection.connection
    if raw.info.parameter_status("TimeZone") not in UTC_NAMES:
        return False
    oid = postgres.types["timestamptz"].oid
    c_loader = postgres.adapters.get_loader(oid, pq.Format.TEXT)  # the C class with psycopg[binary]/[c]
    if c_loader.__module__.startswith("psycopg.types"):
        return False  # pure-Python psycopg: Django's loader is as fast

    class UtcTimestamptzLoader(Loader):
        timezone = datetime.UTC  # what Django compares (DatabaseWrapper.create_cursor)

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            # psycopg calls ``loader.load(data)`` for each value: the C loader's bound method itself,
            # no Python frame per timestamp.
            self.load = c_loader(oid, context).load

        def load(self, data):  # pragma: no cover - replaced per instance in __init__
            raise NotImplementedError

    raw.adapters.register_loader(oid, UtcTimestamptzLoader)
    return True
