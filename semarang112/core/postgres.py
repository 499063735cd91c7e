"""PostgreSQL: timestamps read with psycopg's C loader; prepared statements for the hot writes.

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
import functools

from django.utils.connection import ConnectionProxy

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


def prepared_cursor(connection):
    """A cursor whose statements PostgreSQL parses and plans once per connection, then reuses.

    Django sends every statement as text with its parameters inlined (psycopg's client-side
    binding), so the server parses, analyses and plans the same INSERT on every report. The
    intake's statements (the idempotency claim and completion, the incident and timeline INSERT
    with its reference number, the configuration version read) are the same text every time and their plans do not
    depend on the values, so they are sent through this cursor: server-side binding with
    ``prepare=True``, i.e. psycopg's named prepared statements, kept per connection. Measured in
    ``bench.profile_intake``: PostgreSQL's CPU per intake 2.4–2.8 → 1.3–1.6 ms (bench/RESULTS.md).

    Only for such statements: a prepared statement may switch to a generic plan, which for a query
    whose best plan depends on its parameters (an agency's list, a report) can be far worse. It is
    a Django cursor (query logging, ``CaptureQueriesContext``, error wrapping as usual). On other
    databases it is ``connection.cursor()``.
    """
    if isinstance(connection, ConnectionProxy):  # ``django.db.connection``: each attribute is a lookup
        connection = connection._connections[connection._alias]
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        # What DatabaseWrapper._cursor() does, with this cursor class instead of create_cursor()'s.
        raw = connection.connection
        cursor = _prepared_cursor_class()(raw)
        if getattr(raw, "_s112_loader_timezone", None) is not connection.timezone:
            _match_connection_timezone(connection, cursor)
        return connection._prepare_cursor(cursor)


def _match_connection_timezone(connection, cursor) -> None:
    """As DatabaseWrapper.create_cursor(): timestamps in Django's connection time zone.

    When the connection's own loader already has that time zone (the usual case), that is noted on
    the psycopg connection (it lives as long as the loader) and later cursors skip the check.
    """
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    raw = connection.connection
    if connection.timezone != raw.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone:
        register_tzloader(connection.timezone, cursor)
    else:
        raw._s112_loader_timezone = connection.timezone


@functools.cache
def _prepared_cursor_class():
    from django.db.backends.postgresql.base import ServerBindingCursor  # imports psycopg: only when used

    class PreparedCursor(ServerBindingCursor):
        """Django's server-binding cursor; every statement prepared (at its first use)."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

        def _convert_query(self, query, params=None):
            # psycopg keeps the converted query (``_query``, which Django's query log reads) only
            # for statements it does not prepare: keep it for these too ("... VALUES ($1, $2)").
            self._query = super()._convert_query(query, params)
            return self._query

    return PreparedCursor
