"""Percentiles in the database: PostgreSQL's percentile_cont and the SQLite aggregate agree with the definition."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db.models import F, Q

from incidents import services
from incidents.models import Call
from reporting.db import Percentiles, Seconds, percentile_cont

from .conftest import at, wib

FRACTIONS = (0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0)


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.9, 7.0),
        ([1.0, 2.0], 0.5, 1.5),
        ([1.0, 2.0, 3.0, 4.0], 0.9, 3.7),  # rank 2.7: 3 + 0.7 × (4 − 3)
        ([10.0, 20.0, 30.0], 0.0, 10.0),
        ([10.0, 20.0, 30.0], 1.0, 30.0),
    ],
)
def test_percentile_cont_definition(values, fraction, expected):
    assert percentile_cont(values, fraction) == (pytest.approx(expected) if expected is not None else None)


def test_fractions_are_checked():
    with pytest.raises(ValueError):
        Percentiles(F("answered_at"), (0.5, 1.5))


@pytest.mark.django_db
def test_the_database_agrees_with_the_definition(seeded, operator):
    rng = random.Random(112)
    expected: dict[str, list[float]] = {"prank": [], "information": []}
    start = wib(2025, 2, 1, 8, 0)
    for n in range(41):
        outcome = "prank" if n % 3 == 0 else "information"
        started = start + timedelta(minutes=n)
        # Fractions of a second too: the database works in microseconds.
        answer = round(rng.uniform(0.5, 45.0), 6) if n % 7 else None
        with at(started + timedelta(seconds=60)):
            services.call_create(
                actor=operator,
                started_at=started,
                answered_at=started + timedelta(seconds=answer) if answer is not None else None,
                outcome=outcome,
            )
        if answer is not None:
            expected[outcome].append(answer)
    seconds = Seconds(F("answered_at"), F("started_at"))

    overall = Call.objects.aggregate(p=Percentiles(seconds, FRACTIONS))["p"]
    grouped = {
        row["outcome"]: row["p"]
        for row in Call.objects.values("outcome").annotate(p=Percentiles(seconds, FRACTIONS)).order_by()
    }
    filtered = Call.objects.aggregate(p=Percentiles(seconds, FRACTIONS, filter=Q(outcome="prank")))["p"]
    empty = Call.objects.filter(outcome="silent").aggregate(p=Percentiles(seconds, (0.5,)))["p"]

    everything = sorted(expected["prank"] + expected["information"])
    assert overall == pytest.approx([percentile_cont(everything, f) for f in FRACTIONS], abs=1e-6)
    for outcome, values in expected.items():
        assert grouped[outcome] == pytest.approx([percentile_cont(sorted(values), f) for f in FRACTIONS], abs=1e-6)
    assert filtered == pytest.approx(grouped["prank"], abs=1e-6)
    assert empty is None  # NULL for no rows, as PostgreSQL answers
