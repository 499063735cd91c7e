"""Scenario 1: intake — POST /api/v1/incidents/ under gunicorn, against a floor in the same run.

The runner starts gunicorn itself (``bench.floor_settings``: the product's settings and URLs plus
``POST /bench/floor/``, one raw INSERT), then drives it with wrk (``bench/wrk_intake.lua``; Debian's
``wrk`` package) at rising concurrency, a fixed duration per step. Without wrk on the PATH, or with
``BENCH_CLIENT=httpx``, an asyncio + httpx client in this process drives it instead; it costs about
a third of a core at these rates, which the server then lacks, so its figures are lower. Each step
alternates floor and API in ``SLICES`` (3) slices of a third of the step each (floor, API, floor,
API, ...), so that the machine's drift hits both alike; a step's figures sum its slices (latency
percentiles: the worst slice's). Every API request is a real integration-client report:
``Authorization: Api-Key``, a fresh ``Idempotency-Key``, a body that goes through validation,
routing suggestion, the timeline and the on-commit work of ``incident_create``.

Rows against answers (``_rows_check``): rows are counted around each step. wrk stops with up to one
request per connection in flight and never reads those answers (the server completes them), so a
step's rows may exceed its 201s by at most its connections per slice, never fall short; and every incident
of the run must have the completed idempotency record holding its 201 (httpx waits for every
answer, so there the counts are equal).

Server setting (documented in RESULTS.md): gunicorn ``--workers 5`` sync workers by default
(``BENCH_GUNICORN_WORKERS`` / ``BENCH_GUNICORN_CLASS`` / ``BENCH_GUNICORN_THREADS`` to change),
DEBUG off, Redis as cache (throttle counters) and Celery broker (no worker consumes during the
run; the queue is purged afterwards). The bench client's ``throttle_rate`` is raised to
100000/s so that the throttle is exercised (one Redis command per request) but never refuses.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from bench import db

HOST, PORT = "127.0.0.1", int(os.environ.get("BENCH_PORT", "8765"))
BASE = f"http://{HOST}:{PORT}"
CONCURRENCY = [4, 8, 16, 32]
STEP_SECONDS = 15.0
SLICES = 3  # per step: floor and API alternate, seconds / SLICES each
WARMUP_SECONDS = 3.0
SETTLE_SECONDS = 1.0
WRK = shutil.which("wrk")
WRK_SCRIPT = Path(__file__).absolute().parent / "wrk_intake.lua"
HEADLINE_CONCURRENCY = 16  # the reference figures were taken at 16 connections
TARGET = {"throughput": 400.0, "p99_ms": 100.0, "errors": 0, "floor_ratio": 0.25}

CATEGORIES = ["medical", "traffic-accident", "fire", "flood", "fallen-tree", "crime", "animal-snake", "social", "other"]
DESCRIPTIONS = [
    "Kebakaran rumah warga, api mulai membesar",
    "Tabrakan motor dan mobil, satu korban luka",
    "Pohon tumbang menutup jalan",
    "Warga pingsan di pinggir jalan",
    "Banjir setinggi lutut di permukiman",
]


def gunicorn_command() -> list[str]:
    workers = os.environ.get("BENCH_GUNICORN_WORKERS", "5")
    worker_class = os.environ.get("BENCH_GUNICORN_CLASS", "sync")
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "semarang112.wsgi",
        "--bind", f"{HOST}:{PORT}",
        "--workers", workers,
        "--worker-class", worker_class,
        "--log-level", "warning",
        "--backlog", "2048",
        "--timeout", "60",
    ]  # fmt: skip
    if worker_class == "gthread":
        command += ["--threads", os.environ.get("BENCH_GUNICORN_THREADS", "4")]
    return command


def server_setting() -> str:
    cls = os.environ.get("BENCH_GUNICORN_CLASS", "sync")
    text = f"gunicorn {os.environ.get('BENCH_GUNICORN_WORKERS', '5')} {cls} workers"
    if cls == "gthread":
        text += f" x {os.environ.get('BENCH_GUNICORN_THREADS', '4')} threads"
    return text


class Server:
    def __init__(self, url: str):
        self.url = url
        self.process: subprocess.Popen | None = None
        self.log = open(Path(db.REPO) / "bench" / "results" / "gunicorn.log", "w")  # noqa: SIM115

    def __enter__(self) -> Server:
        env = db.bench_env(self.url, DJANGO_SETTINGS_MODULE="bench.floor_settings")
        self.process = subprocess.Popen(
            gunicorn_command(), cwd=db.REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited ({self.process.returncode}); see bench/results/gunicorn.log")
            try:
                response = httpx.get(f"{BASE}/bench/floor/", timeout=2)  # 405: the app is loaded
                if response.status_code == 405:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit("gunicorn did not answer within 60 s")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


# ------------------------------------------------------------------------------------------------
# Load generator
# ------------------------------------------------------------------------------------------------
def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered))) - 1))]


async def _drive(concurrency: int, seconds: float, make_request, record: bool = True) -> dict:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    stop_at = time.perf_counter() + seconds
    cpu_start = time.process_time()

    async with httpx.AsyncClient(base_url=BASE, limits=limits, timeout=30) as client:

        async def worker(index: int) -> None:
            rng = random.Random(index)
            while time.perf_counter() < stop_at:
                method, path, headers, body = make_request(rng)
                start = time.perf_counter()
                try:
                    response = await client.request(method, path, headers=headers, content=body)
                    key = str(response.status_code)
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                latencies.append((time.perf_counter() - start) * 1000)
                statuses[key] = statuses.get(key, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    ok = statuses.get("201", 0)
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "requests": len(latencies),
        "created_201": ok,
        "errors": len(latencies) - ok,
        "statuses": statuses,
        "throughput_per_s": round(ok / elapsed, 1),
        "p50_ms": round(_percentile(ordered, 0.50), 2),
        "p95_ms": round(_percentile(ordered, 0.95), 2),
        "p99_ms": round(_percentile(ordered, 0.99), 2),
        "max_ms": round(ordered[-1], 2) if ordered else None,
        "client_cpu_s": round(time.process_time() - cpu_start, 2),
    }


def client_name() -> str:
    choice = os.environ.get("BENCH_CLIENT", "wrk" if WRK else "httpx")
    if choice == "wrk" and not WRK:
        raise SystemExit("BENCH_CLIENT=wrk but wrk is not installed (apt-get install wrk)")
    return choice


def _wrk_version() -> str:
    out = subprocess.run([WRK, "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).split("\n")[0].strip()


def _drive_wrk(concurrency: int, seconds: float, mode: str, key: str = "", districts: list[int] = ()) -> dict:
    """One step with wrk: two threads (one per core), ``concurrency`` connections, ``seconds`` long."""
    command = [WRK, "-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", f"{seconds:g}s", "--timeout", "30s",
               "-s", str(WRK_SCRIPT), BASE, "--", mode, key, ",".join(map(str, districts))]  # fmt: skip
    cpu_before = os.times()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu_after = os.times()
    line = next((line for line in out.splitlines() if line.startswith("WRK_RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{out}")
    raw = json.loads(line.removeprefix("WRK_RESULT "))
    elapsed = raw["duration_us"] / 1e6
    statuses = raw["statuses"]
    socket_errors = {name: n for name, n in raw["socket_errors"].items() if n and name != "status"}
    statuses.update({f"socket_{name}": n for name, n in socket_errors.items()})
    ok = statuses.get("201", 0)
    answered = sum(n for status, n in raw["statuses"].items() if status.isdigit())
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "requests": answered + sum(socket_errors.values()),
        "created_201": ok,
        "errors": answered + sum(socket_errors.values()) - ok,
        "statuses": statuses,
        "throughput_per_s": round(ok / elapsed, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p95_ms": round(raw["p95_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "client_cpu_s": round(
            (cpu_after.children_user + cpu_after.children_system) - (cpu_before.children_user + cpu_before.children_system), 2
        ),
    }


def _merge(parts: list[dict]) -> dict:
    """One step's slices of one kind as one step: counts summed, throughput over their total time;
    latency percentiles are the worst slice's (wrk reports percentiles, not histograms to merge)."""
    if len(parts) == 1:
        return parts[0]
    merged = dict(parts[0])
    for name in ("seconds", "requests", "created_201", "errors", "client_cpu_s"):
        merged[name] = round(sum(part[name] for part in parts), 2)
    statuses: dict[str, int] = {}
    for part in parts:
        for status, n in part["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    merged["statuses"] = statuses
    merged["throughput_per_s"] = round(merged["created_201"] / merged["seconds"], 1) if merged["seconds"] else 0.0
    for name in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
        merged[name] = max(part[name] for part in parts)
    merged["slices"] = [{"seconds": part["seconds"], "throughput_per_s": part["throughput_per_s"]} for part in parts]
    return merged


def _api_request_factory(key: str, districts: list[int]):
    headers_base = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}

    def make(rng: random.Random):
        import json

        body = {
            "category": rng.choice(CATEGORIES),
            "description": rng.choice(DESCRIPTIONS),
            "address": f"Jl. Pemuda No. {rng.randint(1, 200)}",
            "district": rng.choice(districts),
            "latitude": round(-7.0 + rng.uniform(-0.05, 0.05), 6),
            "longitude": round(110.42 + rng.uniform(-0.08, 0.08), 6),
            "caller_name": "Bench",
            "caller_number": f"08{rng.randint(11, 99)}{rng.randint(10_000_000, 99_999_999)}",
        }
        headers = dict(headers_base)
        headers["Idempotency-Key"] = str(uuid.uuid4())
        return "POST", "/api/v1/incidents/", headers, json.dumps(body)

    return make


def _floor_request(rng: random.Random):
    body = '{"category": "fire", "description": "floor"}'
    return "POST", "/bench/floor/", {"Content-Type": "application/json"}, body


# ------------------------------------------------------------------------------------------------
# The scenario
# ------------------------------------------------------------------------------------------------
def _prepare() -> dict:
    """Bench API client and key, the floor table, and the counts to compare with afterwards."""
    from django.db import connection

    from bench.floor_views import CREATE_TABLE, TABLE
    from incidents.models import District, Incident
    from semarang112.api.models import ApiClient
    from semarang112.api.services import api_key_create

    client, _created = ApiClient.objects.update_or_create(
        name="bench-intake",
        defaults={"scopes": ["incidents:create"], "is_active": True, "throttle_rate": "100000/s"},
    )
    _key, raw = api_key_create(client=client, name="bench")
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE)
        cursor.execute(f"TRUNCATE {TABLE}")
    return {
        "key": raw,
        "districts": list(District.objects.values_list("pk", flat=True)),
        "incident_max_id": Incident.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        "client_id": client.pk,
    }


def _rows_check(steps: list[dict], since_id: int, client_id: int, slices: int = 1) -> dict:
    """Rows against 201s, per step and over the run, and every new incident against its stored 201.

    wrk stops with up to one request per connection in flight and never reads those answers: the
    server still completes them, so a step may hold up to ``concurrency`` more rows than 201s it
    counted per slice, never fewer. Every incident of the run must have the completed idempotency record
    that holds its 201 (written in its transaction): no row without an answer, no answer without
    a row.
    """
    from django.db import connection

    # Two plain reads and a set difference: joining on the id inside the stored JSON defeats the
    # planner (nested loops over every record: minutes once the table holds tens of thousands).
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM incidents_incident WHERE id > %s", [since_id])
        incidents = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT (response_body ->> 'id')::bigint FROM api_idempotencyrecord "
            "WHERE scope = %s AND state = 'completed' AND status_code = 201 AND (response_body ->> 'id')::bigint > %s",
            [f"client:{client_id}", since_id],
        )
        answered = {row[0] for row in cursor.fetchall()}
    without_record, total = len(incidents - answered), len(incidents)
    per_step = [
        {
            "concurrency": step["concurrency"],
            "intake_rows": step["intake"]["rows_created"],
            "intake_201": step["intake"]["created_201"],
            "intake_unread_at_stop": step["intake"]["rows_created"] - step["intake"]["created_201"],
            "floor_rows": step["floor"]["rows_created"],
            "floor_201": step["floor"]["created_201"],
        }
        for step in steps
    ]
    ok = all(0 <= s["intake_unread_at_stop"] <= s["concurrency"] * slices for s in per_step) and all(
        0 <= s["floor_rows"] - s["floor_201"] <= s["concurrency"] * slices for s in per_step
    )
    return {
        "per_step": per_step,
        "incident_rows_created": sum(s["intake_rows"] for s in per_step),
        "intake_201": sum(s["intake_201"] for s in per_step),
        "rows_within_in_flight": ok,
        "incidents_of_the_run": total,
        "incidents_without_a_stored_201": without_record,
        "intake_rows_match": ok and without_record == 0,
    }


def _count_created(since_id: int) -> tuple[int, int]:
    from django.db import connection

    from bench.floor_views import TABLE

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM incidents_incident WHERE id > %s", [since_id])
        (incidents,) = cursor.fetchone()
        cursor.execute(f"SELECT count(*) FROM {TABLE}")
        (floor,) = cursor.fetchone()
    return incidents, floor


def _purge_broker() -> int:
    """Drop the messages the run queued on the bench broker (nothing consumes them)."""
    try:
        import redis

        client = redis.Redis.from_url(db.bench_env()["CELERY_BROKER_URL"])
        keys = [key for pattern in ("celery*", "_kombu*") for key in client.scan_iter(match=pattern)]
        queued = sum(client.llen(key) for key in keys if client.type(key) == b"list")
        if keys:
            client.delete(*keys)
        return queued
    except Exception as exc:  # noqa: BLE001 - the figures do not depend on it
        print(f"  (could not purge the bench broker: {exc})")
        return -1


def run(
    levels: list[int] | None = None,
    seconds: float = STEP_SECONDS,
    profile: bool = False,
    say=print,
    slices: int = SLICES,
) -> dict:
    db.setup_django()
    if not port_free():
        raise SystemExit(f"port {PORT} is busy; set BENCH_PORT")
    levels = levels or CONCURRENCY
    _purge_broker()
    prep = _prepare()
    if client_name() == "wrk":
        def floor_step(level, secs):
            return _drive_wrk(level, secs, "floor")

        def api_step(level, secs):
            return _drive_wrk(level, secs, "api", prep["key"], prep["districts"])
    else:
        api_request = _api_request_factory(prep["key"], prep["districts"])

        def floor_step(level, secs):
            return asyncio.run(_drive(level, secs, _floor_request))

        def api_step(level, secs):
            return asyncio.run(_drive(level, secs, api_request))

    steps = []
    profile_file = None
    since_id = prep["incident_max_id"]
    with Server(db.bench_url()) as server:
        # Warm every worker up (imports, connections, caches) before anything is recorded.
        floor_step(max(levels), WARMUP_SECONDS)
        api_step(max(levels), WARMUP_SECONDS)
        time.sleep(SETTLE_SECONDS)
        for level in levels:
            before = _count_created(since_id)
            floor_parts, api_parts = [], []
            for index in range(slices):
                # Floor and API alternate in short slices: this VM's speed drifts by ±20 % within
                # minutes, and the ratio must not depend on which of the two ran in a faster minute.
                floor_parts.append(floor_step(level, seconds / slices))
                spy = None
                if profile and level == HEADLINE_CONCURRENCY and index == 0:
                    profile_file = Path(db.REPO) / "bench" / "results" / f"intake-profile-c{level}.txt"
                    spy = _start_profiler(server, seconds / slices, profile_file)
                api_parts.append(api_step(level, seconds / slices))
                if spy is not None:
                    spy.wait(timeout=seconds + 60)
            time.sleep(SETTLE_SECONDS)  # requests wrk left in flight at its stop finish
            after = _count_created(since_id)
            floor, api = _merge(floor_parts), _merge(api_parts)
            floor["rows_created"], api["rows_created"] = after[1] - before[1], after[0] - before[0]
            ratio = round(api["throughput_per_s"] / floor["throughput_per_s"], 3) if floor["throughput_per_s"] else None
            steps.append({"concurrency": level, "floor": floor, "intake": api, "intake_over_floor": ratio})
            say(
                f"  c={level:<3} floor {floor['throughput_per_s']:7.1f}/s p99 {floor['p99_ms']:6.1f} ms err {floor['errors']}"
                f" | intake {api['throughput_per_s']:6.1f}/s p50 {api['p50_ms']:6.1f} p95 {api['p95_ms']:6.1f}"
                f" p99 {api['p99_ms']:6.1f} ms err {api['errors']} | ratio {ratio}"
                f" | rows-201s {api['rows_created'] - api['created_201']}"
            )
    queued = _purge_broker()
    result = {
        "server": server_setting(),
        "gunicorn_command": " ".join(gunicorn_command()[1:]),
        "client": (
            f"{_wrk_version()}, 2 threads, bench/wrk_intake.lua"
            if client_name() == "wrk"
            else f"asyncio + httpx {httpx.__version__}, one process, keep-alive where the server allows it"
        ),
        "step_seconds": seconds,
        "slices_per_step": slices,
        "steps": steps,
        "rows_check": _rows_check(steps, since_id, prep["client_id"], slices),
        "profile": str(profile_file.relative_to(db.REPO)) if profile_file else None,
        "celery_messages_queued": queued,
    }
    result["headline"] = _headline(steps)
    say(f"  rows: {result['rows_check']}")
    return result


def _headline(steps: list[dict]) -> dict:
    """The best sustained intake step that meets p99 and zero errors, and the ratio at c=16."""
    good = [s for s in steps if s["intake"]["p99_ms"] < TARGET["p99_ms"] and s["intake"]["errors"] == 0]
    best = max(good, key=lambda s: s["intake"]["throughput_per_s"]) if good else None
    at16 = next((s for s in steps if s["concurrency"] == HEADLINE_CONCURRENCY), None)
    floor_best = max(s["floor"]["throughput_per_s"] for s in steps) if steps else None
    headline = {
        "best_intake_step": best["concurrency"] if best else None,
        "best_intake_throughput_per_s": best["intake"]["throughput_per_s"] if best else None,
        "best_intake_p99_ms": best["intake"]["p99_ms"] if best else None,
        "floor_best_throughput_per_s": floor_best,
        "ratio_at_c16": at16["intake_over_floor"] if at16 else None,
        "ratio_best_over_best_floor": round(best["intake"]["throughput_per_s"] / floor_best, 3)
        if best and floor_best
        else None,
    }
    headline["meets_targets"] = bool(
        best
        and best["intake"]["throughput_per_s"] >= TARGET["throughput"]
        and (headline["ratio_at_c16"] or 0) >= TARGET["floor_ratio"]
    )
    return headline


def _start_profiler(server: Server, seconds: float, out: Path) -> subprocess.Popen | None:
    """py-spy over the gunicorn master and its workers for one step (text, top functions)."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        return None
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(server.process.pid), "--subprocesses", "--duration", str(int(seconds)),
         "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def port_free() -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, PORT)) != 0
