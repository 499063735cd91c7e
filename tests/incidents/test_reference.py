"""Incident reference numbers: SMG-YYMMDD-NNNN, local (WIB) date, daily sequence per region prefix."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction

from incidents import references, services
from incidents.models import Incident, ReferenceCounter
from tests.factories import RegionFactory, create_incident

WIB = ZoneInfo("Asia/Jakarta")
REFERENCE = re.compile(r"^SMG-\d{6}-\d{4}$")


@pytest.fixture
def at(time_machine):
    """``at(datetime)``: stop the clock there (incident_create refuses received times in the future)."""

    def move(moment: datetime) -> datetime:
        time_machine.move_to(moment, tick=False)
        return moment

    return move


def test_reference_format_and_first_number_of_the_day(make_incident, at):
    at(datetime(2025, 3, 10, 9, 0, tzinfo=WIB))

    incident = make_incident()

    assert REFERENCE.match(incident.reference), incident.reference
    assert incident.reference == "SMG-250310-0001"


def test_reference_uses_the_local_jakarta_date(make_incident, at):
    # given it is already 26 March in Semarang (01:30 WIB) but still 25 March in UTC
    received = at(datetime(2025, 3, 25, 18, 30, tzinfo=UTC))

    incident = make_incident(received_at=received)

    assert incident.reference == "SMG-250326-0001"


def test_reference_date_is_the_received_date_not_the_entry_date(make_incident, at):
    # given a walk-in report entered at 00:10 WIB about something received at 23:55 the day before
    at(datetime(2025, 3, 26, 0, 10, tzinfo=WIB))

    incident = make_incident(received_at=datetime(2025, 3, 25, 23, 55, tzinfo=WIB))

    assert incident.reference == "SMG-250325-0001"


def test_sequence_counts_up_within_a_day_and_restarts_the_next_day(make_incident, at):
    at(datetime(2025, 3, 10, 23, 58, tzinfo=WIB))
    same_day = [make_incident().reference for _ in range(3)]

    at(datetime(2025, 3, 11, 0, 1, tzinfo=WIB))
    next_day = make_incident().reference

    assert same_day == ["SMG-250310-0001", "SMG-250310-0002", "SMG-250310-0003"]
    assert next_day == "SMG-250311-0001"
    assert ReferenceCounter.objects.get(prefix="SMG", day="2025-03-10").last_value == 3


def test_sequence_is_per_region_prefix(make_incident, at, operator):
    at(datetime(2025, 3, 10, 9, 0, tzinfo=WIB))
    kendal = RegionFactory(code="3324", name="Kabupaten Kendal", reference_prefix="KDL")

    semarang = [make_incident().reference for _ in range(2)]
    other = create_incident(actor=operator, region=kendal).reference

    assert semarang == ["SMG-250310-0001", "SMG-250310-0002"]
    assert other == "KDL-250310-0001"


def test_a_rolled_back_creation_leaves_no_duplicate_number(make_incident, at):
    # the counter moves with the transaction that took the number: a gap or a reuse of the
    # rolled-back number are both fine, a duplicate is not
    at(datetime(2025, 3, 10, 9, 0, tzinfo=WIB))
    first = make_incident().reference
    try:
        with transaction.atomic():
            make_incident()
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass

    later = make_incident().reference

    assert first == "SMG-250310-0001"
    assert later in ("SMG-250310-0002", "SMG-250310-0003")
    assert Incident.objects.filter(reference=later).count() == 1


def test_reference_next_directly(region):
    when = datetime(2030, 12, 31, 23, 59, tzinfo=WIB)

    numbers = [references.reference_next(region=region, when=when) for _ in range(2)]

    assert numbers == ["SMG-301231-0001", "SMG-301231-0002"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "counters"])
def test_references_are_unique_under_concurrent_creation(seeded, operator, run_in_threads):
    # the product's path: numbers from the autocommit "counters" connection
    # given 8 operators creating 10 incidents each at the same moment
    category = seeded.category("fire")
    threads, per_thread = 8, 10

    def create_many():
        return [
            services.incident_create(actor=operator, category=category, description="Kebakaran.").reference
            for _ in range(per_thread)
        ]

    results = run_in_threads(*[create_many for _ in range(threads)])

    # then every incident got its own number and the sequence has no duplicates
    errors = [exc for _refs, exc in results if exc is not None]
    assert errors == []
    references = [ref for refs, _exc in results for ref in refs]
    assert len(references) == len(set(references)) == threads * per_thread
    assert Incident.objects.count() == threads * per_thread
    # (all created the same local day unless the test straddles midnight WIB)
    days = {ref.split("-")[1] for ref in references}
    if len(days) == 1:
        # consecutive, without gaps (where the day's count starts depends on what ran before: the
        # counters connection commits on its own)
        numbers = sorted(int(ref.rsplit("-", 1)[1]) for ref in references)
        assert numbers == list(range(numbers[0], numbers[0] + threads * per_thread))


def test_counter_survives_ten_thousand(region):
    # the sequence is zero-padded to 4 digits and keeps counting beyond 9999 (no wrap-around)
    day = datetime(2025, 3, 10, 12, 0, tzinfo=WIB)
    ReferenceCounter.objects.create(prefix="SMG", day=day.date(), last_value=9999)

    assert references.reference_next(region=region, when=day) == "SMG-250310-10000"
    assert references.reference_next(region=region, when=day + timedelta(days=1)) == "SMG-250311-0001"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "counters"])
def test_an_open_intake_does_not_hold_up_the_next_number(seeded, operator, run_in_threads):
    # given one intake that has taken its number and is still open (not committed)
    from django.conf import settings

    assert settings.REFERENCE_COUNTER_DATABASE == "counters"
    category = seeded.category("fire")
    started, release = threading.Event(), threading.Event()

    def slow_intake():
        with transaction.atomic():
            incident = services.incident_create(actor=operator, category=category, description="Kebakaran.")
            started.set()
            release.wait(10)
        return incident.reference

    def quick_intake():
        started.wait(10)
        try:
            # when a second operator reports meanwhile, it is not blocked by the first (a lock wait
            # would hit this timeout and fail) and gets the next number
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                return services.incident_create(actor=operator, category=category, description="Banjir.").reference
        finally:
            release.set()

    (first, first_error), (second, second_error) = run_in_threads(slow_intake, quick_intake)

    assert (first_error, second_error) == (None, None)
    assert int(second.rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "counters"])
def test_a_rolled_back_intake_leaves_a_gap_not_a_duplicate(seeded, operator):
    category = seeded.category("fire")
    first = services.incident_create(actor=operator, category=category, description="Satu.").reference
    with pytest.raises(RuntimeError), transaction.atomic():
        services.incident_create(actor=operator, category=category, description="Dua.")
        raise RuntimeError("rolled back after the number was taken")

    third = services.incident_create(actor=operator, category=category, description="Tiga.").reference

    assert int(third.rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 2
    assert Incident.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "counters"])
def test_a_dropped_counters_connection_is_reopened_without_losing_the_intake(seeded, operator):
    """The counters connection skips Django's per-request health check; a server restart that
    dropped it costs one reconnect, not a failed intake."""
    from django.db import connections

    category = seeded.category("fire")
    references._known.clear()  # the first intake opens the counters connection
    first = services.incident_create(actor=operator, category=category, description="Satu.").reference
    references._known.clear()  # as a process that has not yet read the day's starting point
    counters = connections["counters"]
    assert counters.settings_dict["CONN_HEALTH_CHECKS"] is False
    with connection.cursor() as cursor:  # the server ends the counters session, as a restart would
        cursor.execute("SELECT pg_terminate_backend(%s)", [counters.connection.info.backend_pid])

    second = services.incident_create(actor=operator, category=category, description="Dua.").reference

    assert int(second.rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 1
    assert Incident.objects.count() == 2


# ------------------------------------------------------------------------------------------------
# PostgreSQL: the number drawn from the prefix's sequence inside the incident's INSERT
# ------------------------------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "counters"])
def test_the_number_costs_no_statement_of_its_own(seeded, operator):
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    category = seeded.category("fire")
    services.incident_create(actor=operator, category=category, description="Satu.")  # reads the day's base

    with CaptureQueriesContext(connection) as default, CaptureQueriesContext(connections["counters"]) as counters:
        incident = services.incident_create(actor=operator, category=category, description="Dua.")

    assert len(counters) == 0
    assert not any("nextval" in query["sql"] and "INSERT" not in query["sql"] for query in default)
    assert REFERENCE.match(incident.reference), incident.reference
    # the instance holds what the row holds
    assert Incident.objects.get(pk=incident.pk).reference == incident.reference


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "counters"])
def test_the_sequence_continues_the_numbers_the_table_counter_issued_that_day(region, at):
    # given the day's numbers up to 0041 came from the table counter (before the sequence existed,
    # or from a process that had not read the day's base)
    when = at(datetime(2025, 3, 10, 9, 0, tzinfo=WIB))
    ReferenceCounter.objects.create(prefix="SMG", day=when.date(), last_value=41)
    references._known.clear()

    numbers = [references.reference_next(region=region, when=when) for _ in range(2)]

    assert numbers == ["SMG-250310-0042", "SMG-250310-0043"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "counters"])
def test_a_new_day_and_a_new_prefix_start_at_one_whatever_the_sequence_has_issued(region, at):
    kendal = RegionFactory(code="3324", name="Kabupaten Kendal", reference_prefix="KDL")
    first_day = at(datetime(2025, 3, 10, 9, 0, tzinfo=WIB))
    for _ in range(3):
        references.reference_next(region=region, when=first_day)

    next_day = references.reference_next(region=region, when=first_day + timedelta(days=1))
    other_prefix = references.reference_next(region=kendal, when=first_day + timedelta(days=1))
    backdated = references.reference_next(region=region, when=first_day)

    assert next_day == "SMG-250311-0001"
    assert other_prefix == "KDL-250311-0001"
    # a report entered late for an earlier day keeps that day's numbers unique (it may skip some)
    assert backdated > "SMG-250310-0003" and backdated.startswith("SMG-250310-")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "counters"])
def test_processes_that_read_the_day_base_at_once_agree_on_it(region, at, run_in_threads):
    # given eight processes (threads with their own connections, none with the base read yet)
    # taking the first numbers of a day at the same moment
    when = at(datetime(2025, 3, 12, 9, 0, tzinfo=WIB))
    with connection.cursor() as cursor:  # and the prefix's sequence not created yet
        cursor.execute(f"DROP SEQUENCE IF EXISTS {references.sequence_name('SMG')}")
    references._known.clear()

    def first_numbers():
        references._known.clear()
        return [references.reference_next(region=region, when=when) for _ in range(5)]

    results = run_in_threads(*[first_numbers for _ in range(8)])

    assert [exc for _refs, exc in results if exc is not None] == []
    numbers = [ref for refs, _exc in results for ref in refs]
    assert len(set(numbers)) == 40
    assert ReferenceCounter.objects.filter(prefix="SMG", day=when.date()).count() == 1


def test_the_sequence_name_is_a_safe_identifier_for_any_prefix():
    assert references.sequence_name("SMG") == '"incidents_reference_SMG"'
    assert references.sequence_name('A"; X') == '"incidents_reference_x41223b2058"'
