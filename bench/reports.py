"""Reporting benchmark (issue #7): monthly reports and a full-year CSV export on the bench database.

    python -m bench.generate --size 1000000                 # once: fills semarang112_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/semarang112_bench python -m bench.reports
    python -m bench.reports --month 2026-10 --agency damkar --repeat 7 --compare-raw

Scenarios (targets from the issue, on this machine):

* the monthly report for the whole region, as the command center's supervisor  — < 500 ms
* an agency's monthly report, as that agency's staff                           — < 200 ms
* a full-year CSV export of every incident, streamed through the export view   — memory < 200 MB

The figures are read from the reporting tables (``reporting.rollups``); if they have never been
built on this database the script builds them first (timed, ``--rollups rebuild`` to force).
``--compare-raw`` also times the same reports on the operational tables. The export runs in a
child process so its memory is its own: wall time and peak RSS (``resource``) in one run, the
Python heap peak (``tracemalloc``, which slows Python down) in a second one.

Nothing here changes incidents, calls or assignments. DEBUG is off (Django would otherwise keep
every query in memory). Output: one JSON document on stdout; ``--markdown`` prints a table too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).absolute().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/semarang112_bench"


def _setup() -> None:
    os.environ.setdefault("DATABASE_URL", os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "semarang112.settings")
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


# ------------------------------------------------------------------------------------------------
# The reports
# ------------------------------------------------------------------------------------------------
def _latest_full_month() -> str:
    from django.db.models import Max

    from incidents.models import Incident
    from reporting.filters import report_timezone

    latest = Incident.objects.aggregate(m=Max("received_at"))["m"]
    if latest is None:
        raise SystemExit("the database has no incidents: run python -m bench.generate first")
    first_of_month = latest.astimezone(report_timezone()).date().replace(day=1)
    previous = (first_of_month - timedelta(days=1)).replace(day=1)
    return previous.strftime("%Y-%m")


def _user(username: str):
    from django.contrib.auth import get_user_model

    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise SystemExit(f"no user {username!r} in this database (bench.generate creates bench-* users)") from None


def _time_report(username: str, params: dict, repeat: int, *, rollups: bool) -> dict:
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reporting import selectors
    from reporting.filters import parse_report_filters

    settings.REPORT_USE_ROLLUPS = rollups
    filters = parse_report_filters(params)
    timings, queries, report = [], 0, None
    for run in range(repeat + 1):  # the first run warms caches and is not counted
        user = _user(username)  # a fresh principal: its permissions are read again, as in a request
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            report = selectors.full_report(user, filters)
        elapsed = (time.perf_counter() - started) * 1000
        if run:
            timings.append(elapsed)
            queries = len(captured.captured_queries)
    return {
        "user": username,
        "source": report.source,
        "incidents": report.incidents.total,
        "calls": report.calls.total,
        "queries": queries,
        "runs_ms": [round(t, 1) for t in timings],
        "median_ms": round(statistics.median(timings), 1),
        "min_ms": round(min(timings), 1),
    }


def _ensure_rollups(mode: str) -> dict:
    from django.db import connection
    from django.db.utils import ProgrammingError

    from reporting.models import RollupState
    from reporting.rollups import rollups_rebuild, rollups_refresh

    try:
        built = RollupState.objects.filter(rebuilt_at__isnull=False).exists()
    except ProgrammingError:
        raise SystemExit(
            "the reporting tables are missing: migrate the bench database (python -m bench.generate migrates "
            "before loading; or DATABASE_URL=... python manage.py migrate)"
        ) from None
    if mode == "use" and not built:
        raise SystemExit("the reporting tables are not built: run with --rollups rebuild (or auto)")
    if mode == "rebuild" or (mode == "auto" and not built):
        started = time.perf_counter()
        result = rollups_rebuild()
        seconds = time.perf_counter() - started
        # A rebuild rewrites every row: vacuum (dead rows, visibility map) and analyze, as autovacuum
        # would shortly after, so the timings are not of a table twice its size.
        with connection.cursor() as cursor:
            for table in (
                "reporting_incidentfact",
                "reporting_assignmentfact",
                "reporting_callfact",
                "reporting_calldailystat",
            ):
                cursor.execute(f"VACUUM ANALYZE {table}")
        return {"rebuilt": True, "seconds": round(seconds, 1), **result.__dict__}
    started = time.perf_counter()
    result = rollups_refresh()
    return {
        "rebuilt": False,
        "refresh_seconds": round(time.perf_counter() - started, 2),
        **(result.__dict__ if result else {}),
    }


# ------------------------------------------------------------------------------------------------
# The export (child process)
# ------------------------------------------------------------------------------------------------
def _export(username: str, params: dict, trace: bool) -> dict:
    from django.test import RequestFactory

    from reporting import views

    if trace:
        import tracemalloc

        tracemalloc.start()
    baseline = _rss_mb()
    request = RequestFactory().get("/reports/export/incidents.csv", params)
    request.user = _user(username)
    started = time.perf_counter()
    response = views.export_incidents(request, "csv")
    lines = size = 0
    for chunk in response.streaming_content:
        lines += 1
        size += len(chunk)
    response.close()
    result = {
        "rows": lines - 1,
        "bytes": size,
        "seconds": round(time.perf_counter() - started, 1),
        "rss_before_mb": round(baseline, 1),
        "rss_peak_mb": round(_rss_mb(), 1),
    }
    if trace:
        import tracemalloc

        _current, peak = tracemalloc.get_traced_memory()
        result["tracemalloc_peak_mb"] = round(peak / 2**20, 1)
    return result


def _export_in_child(username: str, params: dict, trace: bool) -> dict:
    command = [
        sys.executable,
        "-m",
        "bench.reports",
        "--child-export",
        json.dumps({"user": username, "params": params}),
    ]
    if trace:
        command.append("--trace")
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=dict(os.environ), check=False)
    if done.returncode != 0:
        raise SystemExit(f"export child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _year_params() -> dict:
    from django.db.models import Max, Min

    from incidents.models import Incident
    from reporting.filters import report_timezone

    span = Incident.objects.aggregate(first=Min("received_at"), last=Max("received_at"))
    tz = report_timezone()
    return {
        "period": "custom",
        "from": span["first"].astimezone(tz).date().isoformat(),
        "to": span["last"].astimezone(tz).date().isoformat(),
    }


# ------------------------------------------------------------------------------------------------
def _markdown(result: dict) -> str:
    lines = ["| scenario | source | incidents | queries | median | min | target |", "|---|---|---:|---:|---:|---:|---|"]
    for key, target in (("region", "< 500 ms"), ("agency", "< 200 ms"), ("region_raw", ""), ("agency_raw", "")):
        if key in result:
            r = result[key]
            lines.append(
                f"| {key} ({r['user']}) | {r['source']} | {r['incidents']:,} | {r['queries']} | "
                f"{r['median_ms']:.0f} ms | {r['min_ms']:.0f} ms | {target} |"
            )
    if "export" in result:
        e = result["export"]
        lines.append("")
        lines.append(
            f"Full-year CSV export: {e['rows']:,} rows, {e['bytes'] / 2**20:.0f} MB in {e['seconds']} s; "
            f"peak RSS {e['rss_peak_mb']} MB (process before the export: {e['rss_before_mb']} MB)"
            + (
                f"; tracemalloc peak {result['export_trace']['tracemalloc_peak_mb']} MB"
                if "export_trace" in result
                else ""
            )
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--month", help="YYYY-MM (default: the last full month of the data)")
    parser.add_argument("--agency", default="damkar", help="agency code for the agency report (default damkar)")
    parser.add_argument("--region-user", default="bench-supervisor")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rollups", choices=["auto", "rebuild", "use"], default="auto")
    parser.add_argument("--compare-raw", action="store_true", help="also time the reports on the operational tables")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc export run")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--child-export", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    _setup()

    if args.child_export:
        job = json.loads(args.child_export)
        print(json.dumps(_export(job["user"], job["params"], args.trace)))
        return 0

    from django.db import connection

    month = args.month or _latest_full_month()
    params = {"period": "month", "date": month}
    agency_user = f"bench-{args.agency}"
    result: dict = {
        "database": connection.settings_dict["NAME"],
        "month": month,
        "rollups": _ensure_rollups(args.rollups),
    }
    result["region"] = _time_report(args.region_user, params, args.repeat, rollups=True)
    result["agency"] = _time_report(agency_user, params, args.repeat, rollups=True)
    if args.compare_raw:
        result["region_raw"] = _time_report(args.region_user, params, max(1, args.repeat // 2), rollups=False)
        result["agency_raw"] = _time_report(agency_user, params, max(1, args.repeat // 2), rollups=False)
    if not args.skip_export:
        year = _year_params()
        result["export"] = _export_in_child(args.region_user, year, trace=False)
        if not args.no_trace:
            result["export_trace"] = _export_in_child(args.region_user, year, trace=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM incidents_incident")
        result["incidents_in_database"] = cursor.fetchone()[0]
    print(json.dumps(result, indent=2))
    if args.markdown:
        print()
        print(_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
