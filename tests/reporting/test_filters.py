"""One parser for report filters: periods in local (Asia/Jakarta) dates, codes for places and categories."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from reporting.filters import parse_report_filters

pytestmark = pytest.mark.django_db


def test_month_runs_from_local_midnight_to_local_midnight(seeded):
    filters = parse_report_filters({"period": "month", "date": "2025-02"})

    assert (filters.start_date, filters.end_date) == (date(2025, 2, 1), date(2025, 2, 28))
    # 1 February 00:00 WIB is 31 January 17:00 UTC.
    assert filters.start == datetime(2025, 1, 31, 17, 0, tzinfo=UTC)
    assert filters.end == datetime(2025, 2, 28, 17, 0, tzinfo=UTC)
    assert filters.label in ("Februari 2025", "February 2025")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"period": "day", "date": "2025-03-01"}, (date(2025, 3, 1), date(2025, 3, 1))),
        ({"period": "week", "date": "2025-03-05"}, (date(2025, 3, 3), date(2025, 3, 9))),  # ISO week, Mon–Sun
        ({"period": "week", "date": "2025-W10"}, (date(2025, 3, 3), date(2025, 3, 9))),
        ({"period": "month", "date": "2024-02-17"}, (date(2024, 2, 1), date(2024, 2, 29))),
        ({"period": "year", "date": "2025"}, (date(2025, 1, 1), date(2025, 12, 31))),
        ({"period": "custom", "from": "2025-03-01", "to": "2025-04-01"}, (date(2025, 3, 1), date(2025, 4, 1))),
    ],
)
def test_periods(seeded, params, expected):
    filters = parse_report_filters(params)

    assert (filters.start_date, filters.end_date) == expected
    assert parse_report_filters(filters.query_params()) == filters  # the URL reproduces the report


def test_defaults_to_the_current_local_month(seeded):
    # 31 March 2025 18:00 UTC is already 1 April in Jakarta.
    with time_machine.travel(datetime(2025, 3, 31, 18, 0, tzinfo=UTC), tick=False):
        filters = parse_report_filters({})

    assert (filters.period, filters.start_date) == ("month", date(2025, 4, 1))


def test_comparison_periods(seeded):
    february = parse_report_filters({"period": "month", "date": "2025-02"})
    week = parse_report_filters({"period": "week", "date": "2025-03-05"})
    leap_day = parse_report_filters({"period": "day", "date": "2024-02-29"})

    assert (february.previous().start_date, february.previous().end_date) == (date(2025, 1, 1), date(2025, 1, 31))
    assert (february.year_before().start_date, february.year_before().end_date) == (date(2024, 2, 1), date(2024, 2, 29))
    assert week.previous().start_date == date(2025, 2, 24)
    assert week.year_before().start_date.weekday() == 0  # 52 weeks back: still a Monday
    assert leap_day.year_before().start_date == date(2023, 2, 28)


def test_codes_and_category_descendants(seeded):
    filters = parse_report_filters(
        {
            "region": "3374",
            "district": "3374060",
            "category": "natural-disaster",
            "agency": "bpbd",
            "channel": "phone_112",
        }
    )

    assert filters.region == seeded.region
    assert filters.district.name == "Candisari"
    assert filters.agency.code == "bpbd"
    codes = {c.code for c in type(filters.category).objects.filter(pk__in=filters.category_ids)}
    assert codes == {"natural-disaster", "flood", "landslide", "tidal-flood", "other-disaster"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "fortnight"}, "period"),
        ({"period": "month", "date": "2025-13"}, "date"),
        ({"period": "day", "date": "kemarin"}, "date"),
        ({"period": "custom", "from": "2025-03-01"}, "to"),
        ({"period": "custom", "from": "2025-03-10", "to": "2025-03-01"}, "to"),
        ({"period": "custom", "from": "2020-01-01", "to": "2025-01-01"}, "to"),
        ({"category": "no-such-category"}, "category"),
        ({"agency": "no-such-agency"}, "agency"),
        ({"channel": "pigeon"}, "channel"),
    ],
)
def test_invalid_parameters_name_their_field(seeded, params, field):
    with pytest.raises(ValidationError) as caught:
        parse_report_filters(params)

    assert field in caught.value.message_dict, caught.value.message_dict


def test_district_must_be_in_the_region(seeded):
    from tests.factories import RegionFactory

    other = RegionFactory(code="3371", name="Kota Magelang", reference_prefix="MGL")

    with pytest.raises(ValidationError) as caught:
        parse_report_filters({"region": other.code, "district": "3374060"})

    assert "district" in caught.value.message_dict
