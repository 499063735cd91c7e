"""Fixed data for the report figures, built through the real services at fixed instants.

``february`` builds February 2025 in Kota Semarang (plus one incident on each side of the month)
and returns the cases by name; the expectations in the tests are computed by hand from the
offsets below. Times are local (WIB, UTC+7).

    case  received (WIB)        category  district    agency      dispatch ack  on scene (s after received)
    F1    Mon 03 Feb 08:30:00   fire      Candisari   damkar      30       90   300   (from call c1)
    F2    Tue 04 Feb 14:00:00   fire      Tembalang   damkar      45       120  420
    F3    Mon 10 Feb 20:15:00   fire      Candisari   damkar      60       150  540
    F4    Fri 14 Feb 02:00:00   fire      Tugu        damkar      90       200  660
    F5    Fri 28 Feb 23:59:59   fire      Candisari   damkar      120      400  900
    M1    Wed 05 Feb 10:00:00   medical   Tembalang   dinkes-psc  20       40   120   (from call c2)
    B1    Thu 20 Feb 16:00:00   flood     Genuk       bpbd        100      -    -     (still dispatched)
    X1    Fri 07 Feb 11:00:00   other     Mijen       -           -        -    -     (app; cancelled)
    J1    Fri 31 Jan 23:59:00   fire      Candisari   damkar      60       120  480   (January)
    R1    Sat 01 Mar 00:00:00   fire      Candisari   damkar      60       120  480   (March)

Calls (112 phone unless noted), started → answered:
    c1 03 Feb 08:29:52 +8 s emergency (F1)   c2 05 Feb 09:59:48 +12 s emergency (M1)
    c3 06 Feb 22:00:00 +16 s prank           c4 06 Feb 23:30:00 +25 s prank
    c5 07 Feb 03:00:00 +5 s silent           c6 08 Feb 12:00:00 +19 s information
    c7 09 Feb 13:00:00 +10 s wrong number    c8 09 Feb 13:30:00 never answered, silent
    c9 10 Feb 09:00:00 +3 s information (citizen app)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from dispatch import services as dispatch_services
from dispatch.models import Role
from incidents import services
from incidents.models import Call, Channel, Incident
from reporting.models import RollupState
from reporting.rollups import rollups_rebuild, rollups_refresh
from tests.factories import MembershipFactory, UserFactory

WIB = ZoneInfo("Asia/Jakarta")


def wib(*args: int) -> datetime:
    return datetime(*args, tzinfo=WIB)


def at(moment: datetime):
    """Freeze the clock at ``moment`` (the services stamp milestones with timezone.now())."""
    return time_machine.travel(moment, tick=False)


@dataclass
class CaseBuilder:
    seeded: object
    operator: object
    dispatcher: object
    cases: dict[str, Incident] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)

    def call(
        self,
        name: str,
        started: datetime,
        answer_after: float | None,
        outcome: str = Call.Outcome.PENDING,
        *,
        channel: str = Channel.PHONE_112,
        number: str = "",
    ) -> Call:
        answered = started + timedelta(seconds=answer_after) if answer_after is not None else None
        with at(answered or started):
            call = services.call_create(
                actor=self.operator,
                region=self.seeded.region,
                channel=channel,
                caller_number=number,
                started_at=started,
                answered_at=answered,
                ended_at=(answered or started) + timedelta(seconds=30),
                outcome=outcome,
            )
        self.calls[name] = call
        return call

    def incident(
        self,
        name: str,
        received: datetime,
        *,
        category: str = "fire",
        district: str = "Candisari",
        agency: str | None = None,
        dispatch: float | None = None,
        ack: float | None = None,
        on_scene: float | None = None,
        channel: str = Channel.PHONE_112,
        call: Call | None = None,
        end: str | None = None,
    ) -> Incident:
        """One case; ``dispatch``/``ack``/``on_scene`` are seconds after ``received``."""
        with at(received):
            incident = services.incident_create(
                actor=self.operator,
                category=self.seeded.category(category),
                description=f"Kasus uji {name}",
                region=None if call else self.seeded.region,
                district=self.seeded.district(district),
                channel=channel,
                caller_name="Budi Santoso",
                caller_number="081234567890",
                received_at=None if call else received,
                call=call,
            )
        assignment = None
        if dispatch is not None:
            with at(received + timedelta(seconds=dispatch)):
                (assignment,) = dispatch_services.incident_dispatch(
                    incident=incident, agencies=[self.seeded.agency(agency)], actor=self.dispatcher
                )
        if ack is not None:
            with at(received + timedelta(seconds=ack)):
                dispatch_services.assignment_acknowledge(assignment=assignment, actor=self.dispatcher)
        if on_scene is not None:
            with at(received + timedelta(seconds=on_scene)):
                dispatch_services.assignment_on_scene(assignment=assignment, actor=self.dispatcher)
        if end == "cancelled":
            with at(received + timedelta(minutes=5)):
                services.incident_cancel(incident=incident, actor=self.operator, reason="Penelepon membatalkan.")
        incident = Incident.objects.get(pk=incident.pk)
        self.cases[name] = incident
        return incident


@pytest.fixture(params=["raw", "rollups"])
def source(request, settings) -> str:
    """Every figure test runs twice: on the operational tables and on the reporting tables."""
    settings.REPORT_USE_ROLLUPS = request.param == "rollups"
    return request.param


@pytest.fixture
def sync_rollups(source):
    """``sync_rollups()`` after changing data: brings the reporting tables up to date (rollup runs)."""

    def sync() -> None:
        if source == "rollups":
            if RollupState.objects.filter(rebuilt_at__isnull=False).exists():
                rollups_refresh()
            else:
                rollups_rebuild()

    return sync


@pytest.fixture
def builder(seeded, operator, dispatcher) -> CaseBuilder:
    return CaseBuilder(seeded=seeded, operator=operator, dispatcher=dispatcher)


@pytest.fixture
def february(builder: CaseBuilder, sync_rollups) -> CaseBuilder:
    b = builder
    c1 = b.call("c1", wib(2025, 2, 3, 8, 29, 52), 8)
    c2 = b.call("c2", wib(2025, 2, 5, 9, 59, 48), 12)
    b.incident("F1", wib(2025, 2, 3, 8, 30), agency="damkar", dispatch=30, ack=90, on_scene=300, call=c1)
    b.incident("F2", wib(2025, 2, 4, 14, 0), district="Tembalang", agency="damkar", dispatch=45, ack=120, on_scene=420)
    b.incident("F3", wib(2025, 2, 10, 20, 15), agency="damkar", dispatch=60, ack=150, on_scene=540)
    b.incident("F4", wib(2025, 2, 14, 2, 0), district="Tugu", agency="damkar", dispatch=90, ack=200, on_scene=660)
    b.incident("F5", wib(2025, 2, 28, 23, 59, 59), agency="damkar", dispatch=120, ack=400, on_scene=900)
    b.incident(
        "M1",
        wib(2025, 2, 5, 10, 0),
        category="medical",
        district="Tembalang",
        agency="dinkes-psc",
        dispatch=20,
        ack=40,
        on_scene=120,
        call=c2,
    )
    b.incident("B1", wib(2025, 2, 20, 16, 0), category="flood", district="Genuk", agency="bpbd", dispatch=100)
    b.incident("X1", wib(2025, 2, 7, 11, 0), category="other", district="Mijen", channel=Channel.APP, end="cancelled")
    b.incident("J1", wib(2025, 1, 31, 23, 59), agency="damkar", dispatch=60, ack=120, on_scene=480)
    b.incident("R1", wib(2025, 3, 1, 0, 0), agency="damkar", dispatch=60, ack=120, on_scene=480)
    b.call("c3", wib(2025, 2, 6, 22, 0), 16, Call.Outcome.PRANK, number="081111111111")
    b.call("c4", wib(2025, 2, 6, 23, 30), 25, Call.Outcome.PRANK, number="081111111112")
    b.call("c5", wib(2025, 2, 7, 3, 0), 5, Call.Outcome.SILENT)
    b.call("c6", wib(2025, 2, 8, 12, 0), 19, Call.Outcome.INFORMATION)
    b.call("c7", wib(2025, 2, 9, 13, 0), 10, Call.Outcome.WRONG_NUMBER)
    b.call("c8", wib(2025, 2, 9, 13, 30), None, Call.Outcome.SILENT)
    b.call("c9", wib(2025, 2, 10, 9, 0), 3, Call.Outcome.INFORMATION, channel=Channel.APP)
    sync_rollups()
    return b


@pytest.fixture
def damkar_supervisor(seeded):
    return MembershipFactory(
        user=UserFactory(username="damkar-spv"), agency=seeded.agency("damkar"), role=Role.AGENCY_SUPERVISOR
    ).user


@pytest.fixture
def satpol_supervisor(seeded):
    return MembershipFactory(
        user=UserFactory(username="satpol-spv"), agency=seeded.agency("satpol-pp"), role=Role.AGENCY_SUPERVISOR
    ).user


@pytest.fixture
def auditor(seeded):
    return MembershipFactory(
        user=UserFactory(username="auditor"), agency=seeded.agency("cc112"), role=Role.AUDITOR
    ).user
