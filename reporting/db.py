"""Database expressions the figures need: interval seconds and percentiles.

Percentiles are computed in the database. On PostgreSQL that is the ordered-set aggregate
``percentile_cont`` (https://www.postgresql.org/docs/15/functions-aggregate.html, table 9.62);
the array form sorts each group once for all requested fractions. SQLite has no percentile
function, so ``register_sqlite_functions`` adds an application-defined aggregate that collects
the values, sorts them and interpolates exactly as ``percentile_cont`` does (linear
interpolation between the two nearest ranks). The same query runs on both; tests check they agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from django.db import models

SQLITE_PERCENTILES_FUNCTION = "semarang112_percentile_cont"


def percentile_cont(sorted_values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's ``percentile_cont`` over already sorted values; None for no values.

    The value at position ``fraction * (n - 1)`` (0-based), interpolated linearly between the
    neighbouring ranks.
    """
    if not sorted_values:
        return None
    position = fraction * (len(sorted_values) - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    low_value = float(sorted_values[lower])
    if upper == lower:
        return low_value
    return low_value + (float(sorted_values[upper]) - low_value) * (position - lower)


def _check_fractions(fractions: Iterable[float]) -> tuple[float, ...]:
    checked = tuple(float(f) for f in fractions)
    if not checked or any(not 0.0 <= f <= 1.0 for f in checked):
        raise ValueError(f"Percentile fractions must lie in [0, 1], not {fractions!r}")
    return checked


class FloatListField(models.Field):
    """Read-only output field for a list of floats (or None) coming back from an aggregate.

    PostgreSQL returns ``double precision[]`` as a list; the SQLite aggregate returns a
    comma-separated string with empty items for "no value".
    """

    def get_internal_type(self) -> str:
        return "FloatListField"

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        if isinstance(value, str):
            return [float(item) if item else None for item in value.split(",")]
        return [None if item is None else float(item) for item in value]


class Percentiles(models.Aggregate):
    """``Percentiles(expression, (0.5, 0.9, 0.95))`` → [p50, p90, p95]; NULL inputs are ignored.

    With no non-NULL input the result is None (PostgreSQL returns NULL). Accepts ``filter=``
    like any aggregate (``FILTER (WHERE …)`` on both databases).
    """

    function = "percentile_cont"
    name = "Percentiles"
    template = "%(function)s(ARRAY[%(fractions)s]::double precision[]) WITHIN GROUP (ORDER BY %(expressions)s)"
    arity = 1

    def __init__(self, expression, fractions: Iterable[float], **extra):
        self.fractions = _check_fractions(fractions)
        # Validated floats rendered with repr(): no user text reaches the SQL.
        extra["fractions"] = ",".join(repr(f) for f in self.fractions)
        super().__init__(expression, output_field=FloatListField(), **extra)

    def as_sql(self, compiler, connection, **extra_context):
        if connection.vendor == "sqlite":
            return self.as_sqlite(compiler, connection, **extra_context)
        if connection.vendor != "postgresql":  # pragma: no cover - only the two supported databases
            raise NotImplementedError("Percentiles needs PostgreSQL or SQLite")
        return super().as_sql(compiler, connection, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        # On a copy: Aggregate.as_sql reads the template from the instance when it adds FILTER.
        clone = self.copy()
        clone.function = SQLITE_PERCENTILES_FUNCTION
        clone.template = "%(function)s(%(expressions)s, '%(fractions)s')"
        return super(Percentiles, clone).as_sql(compiler, connection, **extra_context)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.source_expressions[0]!r}, {self.fractions!r})"


class Seconds(models.Func):
    """``end - start`` in seconds as a float; NULL when either side is NULL."""

    arity = 2
    output_field = models.FloatField()

    def __init__(self, end, start, **extra):
        super().__init__(end, start, **extra)

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM (%(expressions)s))::double precision", arg_joiner=" - "
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django's own helper for datetime subtraction on SQLite; returns microseconds.
        return self.as_sql(compiler, connection, template="(django_timestamp_diff(%(expressions)s) / 1000000.0)")


class _SqlitePercentiles:
    """The SQLite side of ``Percentiles``: collect, sort, interpolate."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fractions: str = ""

    def step(self, value, fractions: str) -> None:
        self.fractions = fractions
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> str | None:
        if not self.values:
            return None
        self.values.sort()
        results = (percentile_cont(self.values, float(f)) for f in self.fractions.split(","))
        return ",".join(repr(value) for value in results)


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: add the percentile aggregate to every SQLite connection."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate(SQLITE_PERCENTILES_FUNCTION, 2, _SqlitePercentiles)


class AnyOf(models.Func):
    """``expression IN (ids)`` with the ids as ONE text parameter, for long id lists.

    PostgreSQL: ``expression = ANY(%s::bigint[])`` with the array literal ``{1,2,3}`` (a Python list
    would be quoted element by element on the client: slow for thousands of ids); SQLite:
    ``IN (SELECT value FROM json_each(%s))``.
    """

    output_field = models.BooleanField()
    conditional = True

    def __init__(self, expression, ids, **extra):
        self.ids_text = ",".join(str(int(pk)) for pk in ids)
        super().__init__(expression, **extra)

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"{sql} = ANY(%s::bigint[])", (*params, "{" + self.ids_text + "}")
        return f"{sql} IN (SELECT value FROM json_each(%s))", (*params, "[" + self.ids_text + "]")
