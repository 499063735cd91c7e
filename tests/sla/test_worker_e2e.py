"""End to end with real processes: a Celery worker and beat on Redis, against the test database.

Skipped on SQLite, and when Redis is unreachable unless CI=true (then it fails). The worker and beat
are started with SLA_SWEEP_INTERVAL_SECONDS=1 and see the rows this test commits
(``transaction=True``). The kill test SIGKILLs a worker half-way through a sweep (made slow by
``tests/sla/slow_celery.py``), starts another, and checks that no breach was lost or duplicated.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from incidents.models import Notification, SlaEvent, SweepHeartbeat, TimelineEvent, WebhookDelivery, WebhookSubscription

from ..conftest import require_redis
from .conftest import receiver_start
from .test_webhooks import verify_like_a_receiver

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(settings.BASE_DIR)
K = TimelineEvent.Kind
E2E_REDIS_URL = os.environ.get("SLA_E2E_REDIS_URL", "redis://127.0.0.1:6379/12")


def _redis_or_skip() -> None:
    require_redis(E2E_REDIS_URL)


def _database_url() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"])
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Processes:
    """Celery processes of one test, each in its own process group, stopped at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.running = env, logs, []

    def start(self, name: str, *args: str, **extra_env: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", *args],
            cwd=BASE_DIR,
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log = log
        self.running.append(process)
        return process

    def worker(self, app: str = "semarang112", **extra_env: str) -> subprocess.Popen:
        return self.start(
            f"worker-{len(self.running)}",
            "-A",
            app,
            "worker",
            "--loglevel=INFO",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"e2e-{uuid.uuid4().hex[:8]}@%h",
            **extra_env,
        )

    def beat(self) -> subprocess.Popen:
        return self.start("beat", "-A", "semarang112", "beat", "--loglevel=INFO", "--max-interval=1", "--pidfile=")

    @staticmethod
    def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return

    def stop_all(self) -> None:
        for process in self.running:
            self.kill(process, signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill(process)
                process.wait(5)
            process.log.close()

    def tail(self) -> str:
        out = []
        for path in sorted(self.logs.glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-25:]
            out.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(out)


@pytest.fixture
def processes(transactional_db, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the worker processes must see the test database")
    _redis_or_skip()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "semarang112.settings",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": E2E_REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "SLA_SWEEP_INTERVAL_SECONDS": "1",
        "OUTBOX_FLUSH_INTERVAL_SECONDS": "1",
        "DB_CONN_MAX_AGE": "0",
        "PYTHONPATH": str(BASE_DIR),
        "PYTHONUNBUFFERED": "1",
    }
    running = Processes(env, tmp_path)
    yield running
    running.stop_all()


def wait_until(condition, *, timeout: float, processes: Processes, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{processes.tail()}")


def test_a_breach_is_recorded_notified_and_delivered_by_the_real_worker(processes, make_incident, cc_people):
    # given an integration listening for breaches on a local receiver
    receiver, server = receiver_start()
    try:
        subscription = WebhookSubscription.objects.create(name="cc", url=receiver.url, event_types=["sla.breach"])
        # and a fire received 57 s ago: its 60 s dispatch deadline passes 3 s from now
        incident = make_incident(received_at=timezone.now() - timedelta(seconds=57))
        due_at = incident.dispatch_due_at

        # when a real worker and beat run (sweep every second)
        processes.worker()
        processes.beat()

        # then the beat-scheduled sweep, in the worker, records the breach once it is due ...
        breach = wait_until(
            lambda: SlaEvent.objects.filter(incident=incident, target="dispatch", level="breach").first(),
            timeout=60,
            processes=processes,
            what="the dispatch breach",
        )
        assert breach.recorded_at >= due_at
        # ... with its timeline event and the command center supervisor's notification
        assert incident.timeline.filter(kind=K.SLA_BREACH, payload__sla_event_id=breach.pk).count() == 1
        assert Notification.objects.filter(sla_event=breach, recipient=cc_people.supervisor).count() == 1
        # ... and a signed webhook reaches the receiver, verifiable with the documented recipe
        (request,) = receiver.wait_for(1, timeout=30)
        assert request.headers["X-S112-Event-Type"] == "sla.breach"
        assert verify_like_a_receiver(subscription.secret, request.headers, request.body)
        assert request.json["sla"]["sla_event_id"] == breach.pk
        delivery = wait_until(
            lambda: WebhookDelivery.objects.filter(subscription=subscription, status="delivered").first(),
            timeout=15,
            processes=processes,
            what="the delivery to be recorded",
        )
        assert delivery.attempts.get().status_code == 200
        assert SweepHeartbeat.objects.filter(name="sla").exists()
    finally:
        server.shutdown()
        server.server_close()


def test_killing_the_worker_mid_sweep_loses_and_duplicates_nothing(processes, make_incident, cc_people):
    # given twelve fires whose dispatch warning and deadline have both passed
    incidents = [make_incident(received_at=timezone.now() - timedelta(minutes=2)) for _ in range(12)]
    expected = {(incident.pk, "dispatch", level) for incident in incidents for level in ("warning", "breach")}

    # when a worker whose sweep (batches of two incidents) pauses inside each batch's transaction
    # is killed half-way through
    slow = processes.worker(app="tests.sla.slow_celery", SLA_TEST_RECORD_DELAY="0.8", SLA_SWEEP_BATCH="2")
    processes.beat()
    wait_until(lambda: SlaEvent.objects.count() >= 4, timeout=60, processes=processes, what="the sweep to start")
    processes.kill(slow)
    slow.wait(10)
    recorded_before_the_kill = SlaEvent.objects.count()
    assert recorded_before_the_kill < len(expected), "the sweep finished before the kill; make it slower"

    # and another worker takes over
    processes.worker()
    wait_until(
        lambda: SlaEvent.objects.count() >= len(expected), timeout=60, processes=processes, what="every event"
    )
    time.sleep(6)  # past the visibility timeout: the killed worker's message may come back now

    # then every warning and breach exists exactly once ...
    events = list(SlaEvent.objects.values_list("pk", "incident_id", "target", "level"))
    assert {(incident_id, target, level) for _, incident_id, target, level in events} == expected
    assert len(events) == len(expected)
    # ... each with exactly one timeline event (none orphaned by the killed transaction)
    timeline = list(
        TimelineEvent.objects.filter(kind__in=[K.SLA_WARNING, K.SLA_BREACH]).values_list("payload__sla_event_id", flat=True)
    )
    assert sorted(timeline) == sorted(pk for pk, *_ in events)
    # ... and one notification per event and recipient
    pairs = list(Notification.objects.values_list("sla_event_id", "recipient_id"))
    assert len(pairs) == len(set(pairs))
    assert set(Notification.objects.filter(recipient=cc_people.dispatcher).values_list("sla_event_id", flat=True)) == {
        pk for pk, *_ in events
    }
