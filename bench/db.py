"""The benchmark database: its URL, creating and migrating it, and Django set-up for bench code.

Benchmarks never touch the development database: everything runs against ``BENCH_DATABASE_URL``
(default ``postgres://postgres@127.0.0.1:5432/semarang112_bench``), which the generator drops and
recreates.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg

REPO = Path(__file__).absolute().parent.parent  # not resolve(): a checkout may link bench/ in
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/semarang112_bench"


def bench_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)


def _with_database(url: str, name: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path="/" + name))


def database_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def bench_env(url: str | None = None, **extra: str) -> dict[str, str]:
    """Environment for processes that run the product against the bench database.

    DEBUG is off (Django would otherwise keep every query in memory), the broker is Redis so
    on-commit tasks are real messages, and the cache is Redis so throttles are shared by workers.
    """
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": url or bench_url(),
            "DJANGO_SETTINGS_MODULE": env.get("BENCH_SETTINGS_MODULE", "semarang112.settings"),
            "DJANGO_DEBUG": "0",
            "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14"),
            "CACHE_URL": os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/13"),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO),
        }
    )
    env.update(extra)
    return env


def recreate_database(url: str) -> None:
    """DROP and CREATE the bench database (refuses names that do not end in _bench)."""
    name = database_name(url)
    if not name.endswith("_bench"):
        raise SystemExit(f"refusing to recreate {name!r}: the bench database name must end in _bench")
    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


# Runs ``migrate`` with one shim: incidents/migrations/0002 passes PL/pgSQL containing "%" to
# ``schema_editor.execute(sql)`` without ``params=None``, which psycopg 3 refuses ("incomplete
# placeholder"). The shim sends such statements unformatted, as the migration means to; it does
# nothing once the migration is fixed. System checks are skipped so a half-finished URLconf of
# someone else's work in progress does not stop the benchmark database from being built.
_MIGRATE = """
import django, sys
from django.db.backends.postgresql.schema import DatabaseSchemaEditor
_execute = DatabaseSchemaEditor.execute
def execute(self, sql, params=()):
    if params == () and isinstance(sql, str) and "%" in sql and "plpgsql" in sql.lower():
        params = None
    return _execute(self, sql, params)
DatabaseSchemaEditor.execute = execute
django.setup()
from django.core.management import call_command
call_command("migrate", interactive=False, skip_checks=True, verbosity=0)
"""


def migrate(url: str) -> None:
    subprocess.run([sys.executable, "-c", _MIGRATE], cwd=REPO, env=bench_env(url), check=True)


def setup_django(url: str | None = None) -> None:
    """Configure Django in this process for the bench database (call before importing models)."""
    import django

    for key, value in bench_env(url).items():
        if key in {"DATABASE_URL", "DJANGO_DEBUG", "CELERY_BROKER_URL", "CACHE_URL", "LOG_LEVEL"}:
            os.environ[key] = value
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "semarang112.settings")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    django.setup()


def server_facts(url: str) -> dict[str, str]:
    """PostgreSQL version and the settings that matter for these figures."""
    names = ("server_version", "shared_buffers", "work_mem", "effective_cache_size", "random_page_cost", "jit")
    with psycopg.connect(url) as conn:
        facts = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in names}
    return facts
