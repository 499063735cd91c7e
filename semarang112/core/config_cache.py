"""Per-process cache of small configuration tables, checked against one version number.

An intake reads the same configuration every time: the default region, the routing rules, the SLA
policies. They change a few times a month, in the admin; reading them costs a query each on every
report. Here each process keeps them in memory, keyed by the configuration version: one indexed
single-row read (``SELECT value FROM core_configversion``) tells whether anything changed.

The version is bumped by PostgreSQL statement triggers on every table listed in ``CONFIG_TABLES``
(any INSERT, UPDATE, DELETE or TRUNCATE, whatever wrote it: the admin, a data migration, raw SQL),
with a value from a sequence. So:

* a change is seen by every process by the next request after it commits (read committed: the
  version is read before the data, so old data is never cached under a new version);
* a block that changes configuration and then reads it through this cache must not be pinned
  (the admin, where configuration changes, does not read through it);
* a transaction that changed configuration sees its own new version, and if it rolls back the
  version falls back to a value whose cached data was read before the change (still right) — the
  rolled-back value is never handed out again.

Without PostgreSQL (the SQLite development default) there are no triggers: values are kept only
for the pinned block that read them (a request, a sweep), never across blocks.

``pinned()`` reads the version once for a block of work; ``middleware`` makes each request such a
block, so a report that needs five configuration lookups costs one small query.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

from .postgres import prepared_cursor

T = TypeVar("T")

#: Tables whose every change bumps the version (the triggers of migration core 0001 and later).
CONFIG_TABLES = (
    "incidents_region",
    "incidents_district",
    "incidents_category",
    "incidents_slapolicy",
    "dispatch_agency",
    "dispatch_routingrule",
    "incidents_webhooksubscription",  # migration 0002
    "api_apiclient",  # migration 0003
    "api_apikey",  # migration 0003: not when only last_used_at changes
)

_local = threading.local()
_values: dict[str, tuple[int, object]] = {}


def enabled() -> bool:
    return connection.vendor == "postgresql"


def current_version() -> int | None:
    """The configuration version; None without PostgreSQL (or without the version row).

    Inside ``pinned()`` it is read once, at the first call, and kept until the block ends.
    """
    scope = getattr(_local, "scope", None)
    if scope is not None and "version" in scope:  # first: an intake asks eight times
        return scope["version"]
    if not enabled():
        return None
    if _health_check_pending():
        # Usually a request's first statement: it doubles as Django's connection health check
        # (CONN_HEALTH_CHECKS), which would otherwise cost a ``SELECT 1`` round trip of its own.
        # A connection found dead is replaced and the read repeated, as the check would have done.
        connection.health_check_done = True
        try:
            version = _read_version()
        except (OperationalError, InterfaceError):
            connection.close()
            version = _read_version()
    else:
        version = _read_version()
    if scope is not None:
        scope["version"] = version
    return version


def _read_version() -> int | None:
    with prepared_cursor(connection) as cursor:
        cursor.execute("SELECT value FROM core_configversion WHERE id = 1")
        row = cursor.fetchone()
    return row[0] if row else None


def _health_check_pending() -> bool:
    """Django would check this reused connection (``SELECT 1``) before its next statement."""
    return (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    )


@contextmanager
def pinned() -> Iterator[None]:
    """One version for the whole block (a request, an intake): read at first use, not before.

    Nested blocks share the outermost one.
    """
    if getattr(_local, "scope", None) is not None:
        yield
        return
    _local.scope = {}
    try:
        yield
    finally:
        _local.scope = None


def middleware(get_response):
    """Each request reads the configuration version at most once (``MIDDLEWARE``)."""

    def respond(request):
        with pinned():
            return get_response(request)

    return respond


def cached(name: str, loader: Callable[[], T]) -> T:
    """``loader()``'s result, reused while the configuration version stays the same.

    The result is shared by every caller in the process: treat it as read-only (hand out copies
    of model instances that callers might change).
    """
    version = current_version()
    if version is None:
        # No version to check against (SQLite): reuse within the pinned block only.
        scope = getattr(_local, "scope", None)
        if scope is None:
            return loader()
        values = scope.setdefault("values", {})
        if name not in values:
            values[name] = loader()
        return values[name]
    hit = _values.get(name)
    if hit is not None and hit[0] == version:
        return hit[1]  # type: ignore[return-value]
    value = loader()
    _values[name] = (version, value)
    return value


def clear() -> None:
    """Forget everything cached in this process."""
    _values.clear()
