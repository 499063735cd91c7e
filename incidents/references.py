"""Incident reference numbers: ``SMG-250326-0042`` (region prefix, local date, daily sequence).

A caller reads the number back over the phone, so it is short and counts up through the center's
day (Asia/Jakarta, whatever the user's time zone). Numbers are unique per prefix and day; a gap is
allowed (a creation rolled back after taking its number), a duplicate never.

Two ways to count, one result:

* **PostgreSQL** (``REFERENCE_COUNTER_DATABASE`` set): one sequence per prefix, and per prefix and
  day a *base*, the sequence's value just before that day's first number (``ReferenceCounter``).
  The number is ``nextval - base``, drawn inside the incident's own INSERT (an ``SqlValue``): no
  round trip and no lock of its own. ``nextval`` never waits for another transaction and is never
  rolled back, so concurrent intakes do not queue and never share a number. The base is read once
  per process, prefix and day, on the autocommit ``counters`` connection, with an upsert that keeps
  the first value written (concurrent first intakes of a day agree on it). Every value of a day's
  numbers is drawn after its base was committed, so it is above the base: numbers start at 1 (or
  right after the numbers the table counter issued that day before the sequence took over).
* **Elsewhere** (SQLite, and tests that keep numbers in their own transaction): the day's row of
  ``ReferenceCounter`` is incremented with one upsert in the caller's transaction.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, connections
from django.utils import timezone

from semarang112.core.inserts import SqlValue
from semarang112.core.postgres import prepared_cursor

from .models import Region

TABLE = "incidents_referencecounter"

# The day's number from the prefix's sequence, zero-padded to four digits and longer past 9,999
# (as f"{n:04d}"); nextval is called once. Parameters: "SMG-250326-", the sequence, the day's base.
NUMBER_SQL = (
    "(SELECT %s || lpad(n::text, greatest(4, length(n::text)), '0') "
    "FROM (SELECT nextval(%s::regclass) - %s::bigint AS n) AS reference_number)"
)

# (database name, prefix, day) → the day's base; (database name, prefix) with day None → the
# sequence exists. Per process; a few entries a day.
_known: dict[tuple[str, str, date | None], int | None] = {}
_KNOWN_MAX = 256


def reference_value(*, region: Region, when: datetime) -> str | SqlValue:
    """The reference for a new incident received ``when``: the number itself, or on PostgreSQL the
    ``SqlValue`` that draws it in the incident's INSERT (``semarang112.core.inserts``)."""
    day = timezone.localtime(when, ZoneInfo(settings.TIME_ZONE)).date()  # the center's day, not the user's
    prefix = region.reference_prefix
    alias = settings.REFERENCE_COUNTER_DATABASE
    if alias is None or connections[alias].vendor != "postgresql":
        value = _table_step(connection, prefix, day)
        return f"{prefix}-{day:%y%m%d}-{value:04d}"
    sequence, base = _sequence_and_base(alias, prefix, day)
    return SqlValue(NUMBER_SQL, [f"{prefix}-{day:%y%m%d}-", sequence, base])


def reference_next(*, region: Region, when: datetime) -> str:
    """Take the next reference number now (for a caller that does not insert the incident itself)."""
    value = reference_value(region=region, when=when)
    if isinstance(value, str):
        return value
    with prepared_cursor(connection) as cursor:
        cursor.execute(f"SELECT {value.sql}", value.params)
        return cursor.fetchone()[0]


def sequence_name(prefix: str) -> str:
    """The quoted name of the prefix's sequence (any prefix: other characters are spelled in hex)."""
    if re.fullmatch(r"[A-Za-z0-9]+", prefix):
        return f'"incidents_reference_{prefix}"'
    return f'"incidents_reference_x{prefix.encode().hex()}"'


def _table_step(conn, prefix: str, day: date) -> int:
    with prepared_cursor(conn) as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (prefix, day, last_value) VALUES (%s, %s, 1) "
            f"ON CONFLICT (prefix, day) DO UPDATE SET last_value = {TABLE}.last_value + 1 "
            "RETURNING last_value",
            [prefix, day],
        )
        (value,) = cursor.fetchone()
    return value


def _sequence_and_base(alias: str, prefix: str, day: date) -> tuple[str, int]:
    counters = connections[alias]
    database = counters.settings_dict["NAME"]
    sequence = sequence_name(prefix)
    key = (database, prefix, day)
    base = _known.get(key)
    if base is not None:
        return sequence, base
    # Own connection, autocommit, no per-request health check: if the server dropped the
    # connection (a restart), reconnect once. Both statements are safe to repeat.
    try:
        base = _read_base(counters, database, prefix, day, sequence)
    except (OperationalError, InterfaceError):
        if counters.in_atomic_block:
            raise
        counters.close()
        base = _read_base(counters, database, prefix, day, sequence)
    if len(_known) >= _KNOWN_MAX:
        _known.clear()
    _known[key] = base
    return sequence, base


def _read_base(counters, database: str, prefix: str, day: date, sequence: str) -> int:
    if (database, prefix, None) not in _known:
        _create_sequence(counters, sequence)
        _known[(database, prefix, None)] = 0
    # The day's base: the sequence's last value now, less the numbers the table counter issued that
    # day before the sequence took over (none, but on the day of the change). The first writer's
    # base stays; a row the table counter wrote gets its base once. Committed durably (autocommit,
    # synchronous): a base lost in a crash while a process still held it would give the day two
    # bases. Once a day per process, so not prepared.
    with counters.cursor() as cursor:
        cursor.execute(
            f"WITH current AS (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS value "
            f"FROM {sequence}) "
            f"INSERT INTO {TABLE} (prefix, day, last_value, sequence_base) "
            "VALUES (%s, %s, 0, (SELECT value FROM current)) "
            f"ON CONFLICT (prefix, day) DO UPDATE SET sequence_base = COALESCE({TABLE}.sequence_base, "
            f"(SELECT value FROM current) - {TABLE}.last_value) "
            "RETURNING sequence_base",
            [prefix, day],
        )
        (base,) = cursor.fetchone()
    return base


def _create_sequence(counters, sequence: str) -> None:
    try:
        with counters.cursor() as cursor:
            cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {sequence} AS bigint")
    except IntegrityError:
        # Two first intakes at once: IF NOT EXISTS is not atomic in PostgreSQL, the loser of the
        # race gets a unique violation in the catalog. The sequence exists either way.
        pass
