"""Where an intake request's CPU goes, in one process, without a load generator.

    python -m bench.profile_intake --requests 2000              # CPU per request, API vs floor
    python -m bench.profile_intake --requests 300 --pyinstrument /tmp/intake.html
    python -m bench.profile_intake --requests 1000 --cprofile /tmp/intake.pstats   # CPU by function
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python -m bench.profile_intake --requests 50 --api-only  # run twice, N and 2N: the
                                                                 # difference is per request

The requests are the intake scenario's own (``bench.intake``: an integration client's report with
its API key and a fresh Idempotency-Key; the floor's one raw INSERT), sent through Django's WSGI
handler in this process against the bench database (run ``python -m bench.generate`` first).
API and floor requests alternate in small batches so that the machine's drift (this VM's speed
moves by ±20 % within an hour) hits both alike. For each it reports this process's CPU and the
PostgreSQL backends' CPU (from ``/proc/<backend pid>/stat``; the request's connection and, where
opened, the reference numbers' ``counters`` connection) per request, and the ratio of their sums, which is what bounds intake ÷ floor under gunicorn on a machine with no spare core.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from pathlib import Path

from bench import db, intake

TICK = os.sysconf("SC_CLK_TCK")


def _backend_cpu(pid: int) -> float:
    """utime + stime of a process, in seconds (Linux: fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _environ(method: str, path: str, headers: dict, body: str) -> dict:
    payload = body.encode()
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8765",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(payload),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(payload)),
    }
    for name, value in headers.items():
        if name.lower() == "content-type":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="API requests (and as many floor requests)")
    parser.add_argument("--batch", type=int, default=50, help="requests per batch before switching kind")
    parser.add_argument("--api-only", action="store_true", help="no floor requests (for callgrind)")
    parser.add_argument("--pyinstrument", metavar="HTML", help="profile the API requests with pyinstrument")
    parser.add_argument(
        "--cprofile", metavar="PSTATS", help="profile the API requests' CPU time (not wall time) with cProfile"
    )
    args = parser.parse_args(argv)

    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.floor_settings"  # the product's URLs + the floor
    db.setup_django()
    from django.core.wsgi import get_wsgi_application
    from django.db import connection, connections

    from bench.floor_views import CREATE_TABLE

    application = get_wsgi_application()
    prepared = intake._prepare()
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE)
    make_api = intake._api_request_factory(prepared["key"], prepared["districts"])
    rng = random.Random(1)
    statuses: dict[int, int] = {}

    def send(request) -> None:
        def start_response(status, headers, exc_info=None):
            code = int(status.split()[0])
            statuses[code] = statuses.get(code, 0) + 1

        for _chunk in application(_environ(*request), start_response):
            pass

    for _ in range(20):  # warm-up: connections, caches, compiled statements
        send(make_api(rng))
        send(intake._floor_request(rng))
    statuses.clear()
    # Every backend the requests use: the default connection and, where opened, the counters one.
    backends = [conn.connection.info.backend_pid for conn in connections.all(initialized_only=True) if conn.connection]
    if not backends:  # pragma: no cover - CONN_MAX_AGE 0 would close them between requests
        sys.exit("the database connections did not persist between requests (CONN_MAX_AGE)")

    def postgres_cpu() -> float:
        return sum(_backend_cpu(pid) for pid in backends)

    profiler = None
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
    elif args.cprofile:
        import cProfile

        # process_time: this process's CPU only, so waits on PostgreSQL and Redis count for nothing.
        profiler = cProfile.Profile(time.process_time)

    totals = {"api": [0.0, 0.0, 0], "floor": [0.0, 0.0, 0]}  # python s, postgres s, count
    remaining = args.requests
    while remaining > 0:
        batch = min(args.batch, remaining)
        kinds = ("api",) if args.api_only else ("api", "floor")
        for kind in kinds:
            requests = [make_api(rng) if kind == "api" else intake._floor_request(rng) for _ in range(batch)]
            if profiler and kind == "api":
                profiler.enable() if args.cprofile else profiler.start()
            python0, postgres0 = time.process_time(), postgres_cpu()
            for request in requests:
                send(request)
            python1, postgres1 = time.process_time(), postgres_cpu()
            if profiler and kind == "api":
                profiler.disable() if args.cprofile else profiler.stop()
            total = totals[kind]
            total[0] += python1 - python0
            total[1] += postgres1 - postgres0
            total[2] += batch
        remaining -= batch

    print(f"statuses: {dict(sorted(statuses.items()))}")
    for kind, (python, postgres, count) in totals.items():
        if count:
            print(
                f"{kind:5}: {count} requests, per request python {python / count * 1000:.3f} ms, "
                f"postgres {postgres / count * 1000:.3f} ms, together {(python + postgres) / count * 1000:.3f} ms"
            )
    if totals["floor"][2]:
        api = sum(totals["api"][:2]) / totals["api"][2]
        floor = sum(totals["floor"][:2]) / totals["floor"][2]
        print(f"CPU ratio floor ÷ api (the bound on intake ÷ floor): {floor / api:.3f}")
    if profiler and args.cprofile:
        import pstats

        profiler.dump_stats(args.cprofile)
        pstats.Stats(args.cprofile).sort_stats("tottime").print_stats(40)
    elif profiler:
        Path(args.pyinstrument).write_text(profiler.output_html())
        print(profiler.output_text(unicode=False, color=False, show_all=False)[:12000])


if __name__ == "__main__":
    main()
