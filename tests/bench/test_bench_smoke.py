"""The benchmark scripts still run end to end against the product's current code.

Not a speed test (figures are never asserted; speed is measured by ``python -m bench``): a small
generated history (3,000 incidents) on its own PostgreSQL database, then every queue-list case
(API lists, the live queue's and the inbox's htmx polls — an unchanged poll must be answered 304 —
and the searches) and the report scenario. A product change that breaks a scenario fails here, not
at the next benchmark run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _bench_url() -> str:
    db = settings.DATABASES["default"]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{db['NAME']}_{worker}_smoke_bench"  # the generator drops and recreates *_bench only
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _run(module: str, *args: str, env: dict) -> str:
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{module} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_generate_queue_lists_and_reports_run_end_to_end():
    env = {**os.environ, "BENCH_DATABASE_URL": _bench_url(), "BENCH_SIZE": "3000"}
    env.pop("DATABASE_URL", None)  # the scripts point Django at the bench database themselves
    try:
        generated = _run("bench.generate", "--size", "3000", env=env)
        assert "done in" in generated
        listed = _run("bench.queue_list", "--runs", "2", "--warmup", "1", env=env)
        for case in ("queue_first", "console_poll_unchanged", "inbox_poll_unchanged", "search_reference"):
            assert case in listed
        assert '"incidents": 3000' in listed
        reported = _run("bench.reports", env=env)
        assert '"region"' in reported and '"agency"' in reported
    finally:
        subprocess.run(
            ["psql", env["BENCH_DATABASE_URL"].rsplit("/", 1)[0] + "/postgres", "-qc",
             f'DROP DATABASE IF EXISTS "{env["BENCH_DATABASE_URL"].rsplit("/", 1)[1]}"'],
            capture_output=True,
        )  # fmt: skip
