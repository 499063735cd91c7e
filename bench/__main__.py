"""One command for the whole benchmark suite (issue #8):

    python -m bench --size 100000          # generate, then every scenario that exists
    python -m bench --size 1000000
    python -m bench --size 100000 --skip-generate --only queue

Writes ``bench/results/<UTC timestamp>-<size>.json`` and rewrites the generated part of
``bench/RESULTS.md`` from the latest result of each size. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import db, report

SCENARIOS = ("generate", "intake", "queue", "sla", "reports")
BENCH_DIR = Path(__file__).absolute().parent
RESULTS_DIR = BENCH_DIR / "results"


def machine_facts(url: str) -> dict:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:")), 0)
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "unknown",
    )
    git = lambda *a: subprocess.run(["git", *a], cwd=db.REPO, capture_output=True, text=True).stdout.strip()  # noqa: E731
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "postgresql": db.server_facts(url),
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "dirty_files": len(
            [line for line in git("status", "--porcelain", "--untracked-files=no").splitlines() if line]
        ),
    }


def wait_quiet(limit_s: float, threshold: float, say) -> float:
    """Wait (at most ``limit_s``) until the 1-minute load average drops under ``threshold``."""
    deadline = time.monotonic() + limit_s
    load = os.getloadavg()[0]
    if load >= threshold and limit_s > 0:
        say(f"  waiting for a quiet machine (load {load:.2f} >= {threshold})...")
    while load >= threshold and time.monotonic() < deadline:
        time.sleep(10)
        load = os.getloadavg()[0]
    return load


def _external(module: str, size: int, say, label: str) -> dict:
    """Run a scenario someone else owns (bench/<module>.py) with a small contract.

    Environment: BENCH_DATABASE_URL, BENCH_SIZE, BENCH_RESULTS_JSON (a path the script may write
    its figures to, as JSON). Its output is shown and kept; its exit status is recorded.
    """
    if not (BENCH_DIR / f"{module}.py").exists():
        return {"status": "missing", "note": f"bench/{module}.py does not exist yet"}
    out = RESULTS_DIR / f".{module}-{size}.json"
    out.unlink(missing_ok=True)
    env = db.bench_env(BENCH_SIZE=str(size), BENCH_RESULTS_JSON=str(out), BENCH_DATABASE_URL=db.bench_url())
    env["DJANGO_SETTINGS_MODULE"] = "semarang112.settings"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{module}"], cwd=db.REPO, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    for line in (proc.stdout + proc.stderr).splitlines()[-40:]:
        say(f"  | {line}")
    result = {
        "status": "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})",
        "seconds": round(elapsed, 1),
        "stdout_tail": proc.stdout.splitlines()[-60:],
        "stderr_tail": proc.stderr.splitlines()[-20:],
    }
    if out.exists():
        try:
            result["figures"] = json.loads(out.read_text())
        except ValueError:
            result["figures_error"] = "BENCH_RESULTS_JSON was not valid JSON"
        out.unlink()
    else:  # a script that prints one JSON document instead
        try:
            result["figures"] = json.loads(proc.stdout)
        except ValueError:
            pass
    return result


def api_available() -> bool:
    return (
        importlib.util.find_spec("incidents.api") is not None
        and importlib.util.find_spec("semarang112.api.urls") is not None
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="incidents to generate (default 100000)")
    parser.add_argument("--seed", type=int, default=112)
    parser.add_argument("--skip-generate", action="store_true", help="reuse the bench database as it is")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument("--runs", type=int, default=200, help="timed runs per queue-list case")
    parser.add_argument("--levels", default="4,8,16,32", help="intake concurrency steps")
    parser.add_argument("--step-seconds", type=float, default=15.0, help="intake seconds per step")
    parser.add_argument("--slices", type=int, default=3, help="floor/API alternations per intake step")
    parser.add_argument("--profile", action="store_true", help="py-spy the gunicorn workers during intake at c=16")
    parser.add_argument("--wait-quiet", type=float, default=0, help="wait up to N s for load average < 1.0 first")
    parser.add_argument("--label", default="", help="a word stored with the results (e.g. before-fix)")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite bench/RESULTS.md")
    args = parser.parse_args(argv)
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    url = db.bench_url()
    say = lambda *a: print(*a, flush=True)  # noqa: E731
    RESULTS_DIR.mkdir(exist_ok=True)
    started = datetime.now(UTC)
    results: dict = {
        "started_at": started.isoformat(timespec="seconds"),
        "size": args.size,
        "label": args.label,
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "database": db.database_name(url),
        "scenarios": {},
    }
    t0 = time.perf_counter()
    say(f"bench: {args.size} incidents, database {db.database_name(url)}")

    def load_note(name: str) -> dict:
        return {"load_before": round(wait_quiet(args.wait_quiet, 1.0, say), 2)}

    if "generate" in only and not args.skip_generate:
        say("[1/5] data generation")
        from bench.generate import generate

        note = load_note("generate")
        results["scenarios"]["generate"] = {**note, **generate(args.size, seed=args.seed, url=url)}
    else:
        results["scenarios"]["generate"] = {"status": "skipped (existing database reused)"}
    results["machine"] = machine_facts(url)

    db.setup_django(url)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM incidents_incident")
        results["incidents_in_database"] = cursor.fetchone()[0]
    connection.close()

    if "queue" in only:
        say("[2/5] queue list")
        from bench import queue_list

        note = load_note("queue")
        results["scenarios"]["queue"] = {**note, **queue_list.run(runs=args.runs, say=say)}
        connection.close()

    if "sla" in only:
        say("[3/5] SLA sweep (bench/sla_sweep.py, owned by the SLA issue)")
        note = load_note("sla")
        results["scenarios"]["sla"] = {**note, **_external("sla_sweep", args.size, say, "sla")}

    if "reports" in only:
        say("[4/5] reports")
        if (BENCH_DIR / "reports.py").exists():
            results["scenarios"]["reports"] = _external("reports", args.size, say, "reports")
        else:
            results["scenarios"]["reports"] = {"status": "not yet implemented: reporting issue #7"}
            say("  not yet implemented: reporting issue #7")

    if "intake" in only:
        say("[5/5] intake under gunicorn")
        if api_available():
            from bench import intake

            note = load_note("intake")
            levels = [int(level) for level in args.levels.split(",") if level.strip()]
            results["scenarios"]["intake"] = {
                **note,
                **intake.run(levels, seconds=args.step_seconds, profile=args.profile, say=say, slices=args.slices),
            }
        else:
            results["scenarios"]["intake"] = {"status": "pending: the REST API (POST /api/v1/incidents/) is not there"}
            say("  pending: the REST API is not there yet")

    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["total_seconds"] = round(time.perf_counter() - t0, 1)
    results["load_after"] = round(os.getloadavg()[0], 2)
    name = f"{started:%Y%m%dT%H%M%SZ}-{args.size}{'-' + args.label if args.label else ''}.json"
    path = RESULTS_DIR / name
    path.write_text(json.dumps(results, indent=2, default=str))
    say(f"results: {path.relative_to(db.REPO)} ({results['total_seconds']} s)")
    if not args.no_report:
        report.write(RESULTS_DIR, BENCH_DIR / "RESULTS.md")
        say("bench/RESULTS.md updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
