"""Fixtures shared by the whole suite.

Reference data
    ``seeded``      Kota Semarang's real reference data (``incidents.seed.seed_semarang``), as a
                    ``SeedData`` with lookups: ``seeded.category("fire")``, ``seeded.district("Tugu")``,
                    ``seeded.village("Jatingaleh")``, ``seeded.agency("damkar")``.
    ``region``      the seeded Kota Semarang region.

People (each has an active membership; password ``tests.factories.DEFAULT_PASSWORD``)
    ``operator``    call-taker of the command center (cc112)
    ``dispatcher``  dispatcher of the command center
    ``supervisor``  supervisor of the command center
    ``agency_user`` staff of the fire service (damkar), the agency routed for ``incident``
    ``other_agency_user`` staff of Satpol PP, an agency with nothing to do with ``incident``

Cases (built through the services)
    ``incident``        a received fire in Jatingaleh, Candisari, reported by ``operator``
    ``make_incident``   ``make_incident(**incident_create kwargs)`` with the same defaults

Infrastructure
    ``postgres``/``@pytest.mark.postgres``  skip unless the database is PostgreSQL
    ``sqlite_only``                         skip unless the database is SQLite
    ``celery_eager``    run ``.delay()`` in-process (with ``django_capture_on_commit_callbacks``)
    ``run_in_threads``  run callables in threads that start together and close their connections
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.core.management.color import no_style
from django.db import connection, connections, models, transaction
from django.test import override_settings

from dispatch.models import Agency, Role
from incidents import services
from incidents.models import Category, District, Incident, Region, Village
from incidents.seed import seed_semarang
from semarang112 import celery_app

from .factories import MembershipFactory, UserFactory


# ------------------------------------------------------------------------------------------------
# Database vendor helpers
# ------------------------------------------------------------------------------------------------
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def skip_unless_postgres(reason: str = "needs PostgreSQL (run with DATABASE_URL=postgres://...)") -> None:
    """Call at the top of a test (or fixture) that only means something on PostgreSQL."""
    if not is_postgres():
        pytest.skip(reason)


def require_redis(url: str) -> None:
    """Skip unless Redis answers at ``url`` (fail instead when CI=true), then empty that database."""
    import os

    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI: Redis unreachable at {url}: {exc}")
        pytest.skip(f"Redis unreachable at {url}")
    redis.Redis.from_url(url).flushdb()


def pytest_runtest_setup(item: pytest.Item) -> None:
    # ``@pytest.mark.postgres`` is enough: such tests are skipped on SQLite before any fixture runs.
    if item.get_closest_marker("postgres") is not None:
        skip_unless_postgres()


@pytest.fixture
def postgres() -> None:
    """Request this fixture (or use ``@pytest.mark.postgres``) for a PostgreSQL-only test."""
    skip_unless_postgres()


@pytest.fixture
def sqlite_only() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite-specific behaviour")


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hasher():
    # PBKDF2 with Django's default iterations costs ~0.3 s per user; tests do not need it.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _reference_numbers_in_the_test_transaction(request, settings):
    """Reference numbers are taken in the test's transaction, so a test's counters roll back with it.

    On PostgreSQL the product draws them from a sequence and reads each day's starting point on the
    ``counters`` connection (autocommit); a test that lists ``counters`` in
    ``django_db(databases=...)`` exercises that path for real (incidents.references).
    """
    marker = request.node.get_closest_marker("django_db")
    databases = (marker.kwargs.get("databases") if marker else None) or ()
    if "counters" not in databases:
        settings.REFERENCE_COUNTER_DATABASE = None


# ------------------------------------------------------------------------------------------------
# Reference data
# ------------------------------------------------------------------------------------------------
@dataclass
class SeedData:
    """What ``seed_semarang`` created, with lookups by natural key."""

    region: Region
    counts: dict[str, int]

    def category(self, code: str) -> Category:
        return Category.objects.get(code=code)

    def district(self, name: str) -> District:
        return District.objects.get(region=self.region, name=name)

    def village(self, name: str, district: str | None = None) -> Village:
        qs = Village.objects.filter(district__region=self.region, name=name)
        if district is not None:
            qs = qs.filter(district__name=district)
        return qs.get()

    def agency(self, code: str) -> Agency:
        return Agency.objects.get(code=code)


class _SeedSnapshot:
    """The rows ``seed_semarang`` writes, captured once per session and replayed with bulk inserts.

    Seeding through the ORM costs ~300 queries; most tests need the data, not the seeding. The
    first ``seeded`` test in a session runs the real ``seed_semarang()`` on an empty database and
    records every row it added (whatever models the seed grows to cover); later tests insert those
    rows again, with the same primary keys, in one transaction. If a test already has rows in any
    of those tables, the real seed runs instead. ``tests/incidents/test_commands.py`` always runs
    the real command.
    """

    def __init__(self) -> None:
        self.rows: dict[type[models.Model], list[models.Model]] | None = None
        self.counts: dict[str, int] = {}

    @staticmethod
    def _models() -> list[type[models.Model]]:
        return [m for m in apps.get_models(include_auto_created=True) if m._meta.managed and not m._meta.proxy]

    def load(self) -> dict[str, int]:
        if self.rows is not None and not any(m._base_manager.exists() for m in self.rows):
            with transaction.atomic():
                for model, rows in self.rows.items():
                    fields = [f.attname for f in model._meta.concrete_fields]
                    model._base_manager.bulk_create([model(**{f: getattr(row, f) for f in fields}) for row in rows])
                if connection.vendor == "postgresql":
                    sql = connection.ops.sequence_reset_sql(no_style(), list(self.rows))
                    with connection.cursor() as cursor:
                        for statement in sql:
                            cursor.execute(statement)
            return dict(self.counts)
        before = {m: set(m._base_manager.values_list("pk", flat=True)) for m in self._models()}
        counts = seed_semarang()
        if self.rows is None:
            added = {m: list(m._base_manager.exclude(pk__in=pks).order_by("pk")) for m, pks in before.items()}
            added = {m: rows for m, rows in added.items() if rows}
            if not any(before[m] for m in added):  # the seed started from empty tables: safe to replay
                self.rows, self.counts = added, counts
        return counts


_seed_snapshot = _SeedSnapshot()


@pytest.fixture
def seeded(db) -> SeedData:
    """Kota Semarang's reference data, exactly as ``manage.py seed_semarang`` writes it."""
    counts = _seed_snapshot.load()
    return SeedData(region=Region.objects.get(code="3374"), counts=counts)


@pytest.fixture
def region(seeded) -> Region:
    return seeded.region


# ------------------------------------------------------------------------------------------------
# People
# ------------------------------------------------------------------------------------------------
def _member(seeded: SeedData, agency_code: str, role: str, username: str):
    return MembershipFactory(user=UserFactory(username=username), agency=seeded.agency(agency_code), role=role).user


@pytest.fixture
def operator(seeded):
    return _member(seeded, "cc112", Role.CALL_TAKER, "operator")


@pytest.fixture
def dispatcher(seeded):
    return _member(seeded, "cc112", Role.DISPATCHER, "dispatcher")


@pytest.fixture
def supervisor(seeded):
    return _member(seeded, "cc112", Role.SUPERVISOR, "supervisor")


@pytest.fixture
def agency_user(seeded):
    return _member(seeded, "damkar", Role.AGENCY_STAFF, "damkar-staff")


@pytest.fixture
def other_agency_user(seeded):
    return _member(seeded, "satpol-pp", Role.AGENCY_STAFF, "satpolpp-staff")


# ------------------------------------------------------------------------------------------------
# Cases
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def make_incident(seeded, operator):
    """``make_incident(**kwargs)``: ``incident_create`` with a fire in Jatingaleh as the default."""

    def make(**kwargs: Any) -> Incident:
        kwargs.setdefault("actor", operator)
        kwargs.setdefault("category", seeded.category("fire"))
        kwargs.setdefault("description", "Kebakaran rumah warga, api mulai membesar.")
        kwargs.setdefault("address", "Jl. Teuku Umar 12")
        if "district" not in kwargs and "village" not in kwargs:
            kwargs["district"] = seeded.district("Candisari")
            kwargs["village"] = seeded.village("Jatingaleh")
        kwargs.setdefault("caller_name", "Budi")
        kwargs.setdefault("caller_number", "0812-3456-7890")
        return services.incident_create(**kwargs)

    return make


@pytest.fixture
def incident(make_incident) -> Incident:
    return make_incident()


# ------------------------------------------------------------------------------------------------
# Infrastructure
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def celery_eager():
    """Run tasks in-process on ``.delay()``; the Celery app read the settings at import time."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield celery_app
    conf.task_always_eager, conf.task_eager_propagates = saved


@pytest.fixture
def run_in_threads():
    """``run_in_threads(f, g, ...)`` → list of (result, exception) per callable, in order.

    The threads wait on a barrier so they really start together, and each closes its own database
    connection at the end (otherwise the test database cannot be dropped). Use with
    ``@pytest.mark.django_db(transaction=True)`` so the threads see the test's committed data.
    """

    def run(*funcs, timeout: float = 60) -> list[tuple[Any, BaseException | None]]:
        barrier = threading.Barrier(len(funcs))
        results: list[tuple[Any, BaseException | None]] = [(None, None)] * len(funcs)

        def worker(index: int, func) -> None:
            try:
                barrier.wait(timeout=timeout)
                results[index] = (func(), None)
            except BaseException as exc:  # noqa: BLE001 - reported to the test
                results[index] = (None, exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker, args=(i, f)) for i, f in enumerate(funcs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout)
            assert not thread.is_alive(), "thread did not finish (deadlock?)"
        return results

    return run
