"""Fixtures of the SLA engine's tests.

    ``clock``            the controllable clock (time-machine), stopped at ``T0`` (10:00 in Semarang);
                         ``clock.at(minutes=8)`` moves to T0 + 8 min and returns that time
    ``sweep``            ``sweep(**kwargs)`` runs ``incidents.sla.sla_sweep`` and its on-commit work
    ``agency_supervisor``  agency supervisor of the fire service (damkar)
    ``cc_people``        the command center's dispatcher and supervisor, and damkar's supervisor
    ``receiver``         a local HTTP server recording webhook requests; ``receiver.responses`` is
                         the list of (status, delay seconds) it answers with, in order (then 200)

Celery runs eagerly in every test of this package except the end-to-end ones (marked ``slow``),
which start real worker and beat processes.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dispatch.models import Role
from incidents import sla
from tests.factories import MembershipFactory, UserFactory

T0 = dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _celery_eager_unless_end_to_end(request):
    if request.node.get_closest_marker("slow") is not None:
        yield
        return
    request.getfixturevalue("celery_eager")
    yield


class Clock:
    def __init__(self, machine) -> None:
        self._machine = machine

    def at(self, *, seconds: float = 0, minutes: float = 0, hours: float = 0) -> dt.datetime:
        moment = T0 + dt.timedelta(seconds=seconds, minutes=minutes, hours=hours)
        self._machine.move_to(moment, tick=False)
        return moment


@pytest.fixture
def clock(time_machine) -> Clock:
    time_machine.move_to(T0, tick=False)
    return Clock(time_machine)


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    def run(**kwargs) -> sla.SweepResult:
        with django_capture_on_commit_callbacks(execute=True):
            return sla.sla_sweep(**kwargs)

    return run


@pytest.fixture
def agency_supervisor(seeded):
    return MembershipFactory(
        user=UserFactory(username="damkar-spv"), agency=seeded.agency("damkar"), role=Role.AGENCY_SUPERVISOR
    ).user


@dataclass
class CommandCenter:
    dispatcher: object
    supervisor: object
    damkar_supervisor: object


@pytest.fixture
def cc_people(dispatcher, supervisor, agency_supervisor) -> CommandCenter:
    return CommandCenter(dispatcher=dispatcher, supervisor=supervisor, damkar_supervisor=agency_supervisor)


# ------------------------------------------------------------------------------------------------
# A webhook receiver
# ------------------------------------------------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    responses: list[tuple[int, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        raise AssertionError(f"receiver got {len(self.requests)} request(s), expected {count}")


def receiver_start(receiver_factory=Receiver) -> tuple[Receiver, ThreadingHTTPServer]:
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            receiver = state["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                receiver.requests.append(Received(self.path, {k: v for k, v in self.headers.items()}, body))
                status, delay = receiver.responses.pop(0) if receiver.responses else (200, 0)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up (timeout test)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = receiver_factory(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/112")
    state["receiver"] = receiver
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server


@pytest.fixture
def receiver():
    receiver, server = receiver_start()
    yield receiver
    server.shutdown()
    server.server_close()
