"""Keyset ("cursor") pagination: stable under inserts and as fast on page 1000 as on page 1.

DRF's CursorPagination positions on the first ordering field only and skips ties with an
OFFSET, which degrades to a scan when that field has few values (priority has four). Here the
cursor holds the whole sort key of the last row — always ending in the primary key, so it is
unique — and the next page is the row-value comparison ``WHERE (k1, k2, id) > (v1, v2, v3)``.
PostgreSQL reads a row comparison as an index condition on a B-tree index over (k1, k2, id) and
starts the scan at the cursor; the equivalent OR of ANDs (``k1 > v1 OR (k1 = v1 AND ...)``) is only
a filter, so a deep page walked and discarded every row before the cursor (45,000 at 1,000,000
incidents, bench/RESULTS.md). A row comparison needs one direction, so an ordering that mixes
ascending and descending fields is split into runs of one direction, compared run by run.

A view declares ``keyset_orderings = {"public name": ("field", "-field", ..., "id")}`` and
``keyset_default``; clients choose with ``?ordering=``. ``?page_size=`` is capped by
API_MAX_PAGE_SIZE.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import BooleanField, Expression, F, Q, Value
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import replace_query_param

DEFAULT_ORDERINGS = {"id": ("id",), "-id": ("-id",)}


def _jsonable(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class RowComparison(Expression):
    """``(f1, f2, ...) < (v1, v2, ...)`` (or ``>``, ``<=``, ``>=``) in a WHERE clause.

    The values are converted by each field's own ``to_python`` when the expression is added to a
    query, so a cursor value the field cannot take raises ``ValidationError`` (or ``TypeError``,
    or ``ValueError`` for None) in ``filter()``, as a lookup would.
    """

    conditional = True
    OPERATORS = ("<", ">", "<=", ">=")

    def __init__(self, fields: tuple[str, ...], operator: str, values: list):
        if operator not in self.OPERATORS or len(fields) != len(values) or not fields:
            raise ValueError("RowComparison needs an operator and as many values as fields")
        super().__init__(output_field=BooleanField())
        self.operator = operator
        self.lhs = [F(name) for name in fields]
        self.rhs = list(values)

    def get_source_expressions(self):
        return [*self.lhs, *(v for v in self.rhs if hasattr(v, "resolve_expression"))]

    def set_source_expressions(self, exprs):
        width = len(self.lhs)
        self.lhs = list(exprs[:width])
        if len(exprs) > width:
            self.rhs = list(exprs[width:])

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        clone = self.copy()
        clone.lhs = [f.resolve_expression(query, allow_joins, reuse, summarize, for_save) for f in self.lhs]
        rhs = []
        for column, value in zip(clone.lhs, self.rhs, strict=True):
            if hasattr(value, "resolve_expression"):  # resolved before (a lookup resolves its lhs again)
                rhs.append(value.resolve_expression(query, allow_joins, reuse, summarize, for_save))
                continue
            field = column.output_field
            value = field.to_python(value)
            if value is None:  # a row comparison with NULL matches nothing; a lookup refuses None
                raise ValueError("a row comparison needs values, not None")
            rhs.append(Value(field.get_prep_value(value), output_field=field))
        clone.rhs = rhs
        return clone

    def as_sql(self, compiler, connection):
        parts, params = [], []
        for expression in (*self.lhs, *self.rhs):
            sql, expression_params = compiler.compile(expression)
            parts.append(sql)
            params.extend(expression_params)
        width = len(self.lhs)
        return f"({', '.join(parts[:width])}) {self.operator} ({', '.join(parts[width:])})", params


def _runs(fields: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Consecutive fields of one direction: ("priority", "-received_at", "-id") → two runs."""
    runs: list[list[str]] = []
    for field in fields:
        if runs and runs[-1][-1].startswith("-") == field.startswith("-"):
            runs[-1].append(field)
        else:
            runs.append([field])
    return [tuple(run) for run in runs]


def _beyond(fields: tuple[str, ...], values: list, *, forward: bool) -> Q:
    """Rows strictly after (forward) or before the row whose sort key is ``values``.

    One run of fields of the same direction is one row comparison, ``(a, b, id) > (x, y, z)``.
    Several runs: the first run strictly beyond, or equal to it and the rest beyond — guarded by
    the first run's non-strict comparison, which the planner can use as an index condition.
    """
    if len(values) != len(fields):
        raise ValueError("a cursor needs one value per ordering field")
    runs = _runs(fields)

    def compare(run: tuple[str, ...], run_values: list, *, strict: bool) -> Q:
        greater = run[0].startswith("-") != forward  # forward on an ascending field: greater than
        operator = (">" if greater else "<") + ("" if strict else "=")
        return Q(RowComparison(tuple(name.lstrip("-") for name in run), operator, run_values))

    def beyond(start: int, run_index: int) -> Q:
        run = runs[run_index]
        run_values = values[start : start + len(run)]
        strictly = compare(run, run_values, strict=True)
        if run_index == len(runs) - 1:
            return strictly
        equal = Q(**{name.lstrip("-"): value for name, value in zip(run, run_values, strict=True)})
        return strictly | (equal & beyond(start + len(run), run_index + 1))

    condition = beyond(0, 0)
    if len(runs) > 1:
        condition = compare(runs[0], values[: len(runs[0])], strict=False) & condition
    return condition


def _reverse(fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(field[1:] if field.startswith("-") else f"-{field}" for field in fields)


class KeysetPagination(BasePagination):
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"

    def get_page_size(self, request) -> int:
        default = api_settings.PAGE_SIZE or 25
        raw = request.query_params.get(self.page_size_query_param)
        try:
            size = int(raw) if raw is not None else default
        except ValueError:
            raise exceptions.ValidationError({self.page_size_query_param: [_("A whole number is required.")]}) from None
        if size < 1:
            raise exceptions.ValidationError({self.page_size_query_param: [_("Must be at least 1.")]})
        return min(size, settings.API_MAX_PAGE_SIZE)

    @staticmethod
    def orderings(view) -> tuple[dict[str, tuple[str, ...]], str]:
        orderings = getattr(view, "keyset_orderings", None) or DEFAULT_ORDERINGS
        return orderings, getattr(view, "keyset_default", None) or next(iter(orderings))

    def get_ordering(self, request, view) -> tuple[str, tuple[str, ...]]:
        orderings, default = self.orderings(view)
        name = request.query_params.get(self.ordering_query_param) or default
        if name not in orderings:
            raise exceptions.ValidationError(
                {self.ordering_query_param: [_("Choose one of: %(choices)s.") % {"choices": ", ".join(orderings)}]}
            )
        return name, orderings[name]

    def decode_cursor(self, request, ordering: str, width: int):
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(raw.encode("ascii") + b"==").decode())
            direction, name, values = data["d"], data["o"], data["v"]
        except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
            data = None
        if data is None or direction not in ("n", "p") or name != ordering or not isinstance(values, list):
            raise exceptions.ValidationError({self.cursor_query_param: [_("Invalid cursor.")]})
        if len(values) != width:
            raise exceptions.ValidationError({self.cursor_query_param: [_("Invalid cursor.")]})
        return direction, values

    def encode_cursor(self, direction: str, values: list) -> str:
        payload = json.dumps({"d": direction, "o": self.ordering, "v": [_jsonable(v) for v in values]})
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        page_size = self.get_page_size(request)
        self.ordering, fields = self.get_ordering(request, view)
        cursor = self.decode_cursor(request, self.ordering, len(fields))
        forward = cursor is None or cursor[0] == "n"
        if cursor is not None:
            try:
                queryset = queryset.filter(_beyond(fields, cursor[1], forward=forward))
            except (ValueError, TypeError, DjangoValidationError):  # a value the field cannot take
                raise exceptions.ValidationError({self.cursor_query_param: [_("Invalid cursor.")]}) from None
        rows = list(queryset.order_by(*(fields if forward else _reverse(fields)))[: page_size + 1])
        more = len(rows) > page_size
        rows = rows[:page_size]
        if not forward:
            rows.reverse()
        self.has_next = more if forward else True
        self.has_previous = cursor is not None if forward else more
        self.fields = fields
        self.first_key = self._key(rows[0], fields) if rows else None
        self.last_key = self._key(rows[-1], fields) if rows else None
        if not rows and cursor is not None:
            self.has_next = self.has_previous = False
        return rows

    @staticmethod
    def _key(row, fields) -> list:
        values = []
        for field in fields:
            obj = row
            for part in field.lstrip("-").split("__"):
                obj = getattr(obj, part)
            values.append(obj)
        return values

    def _link(self, direction: str, values) -> str | None:
        if values is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, self.encode_cursor(direction, values))

    def get_next_link(self):
        return self._link("n", self.last_key) if self.has_next else None

    def get_previous_link(self):
        if not self.has_previous:
            return None
        return self._link("p", self.first_key)

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {"type": "string", "format": "uri", "nullable": True},
                "previous": {"type": "string", "format": "uri", "nullable": True},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        orderings, default = self.orderings(view)
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque cursor from the `next` or `previous` link of the last page.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (default {api_settings.PAGE_SIZE}, at most {settings.API_MAX_PAGE_SIZE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": settings.API_MAX_PAGE_SIZE},
            },
            {
                "name": self.ordering_query_param,
                "required": False,
                "in": "query",
                "description": f"Sort order (default `{default}`); `-` means descending.",
                "schema": {"type": "string", "enum": list(orderings), "default": default},
            },
        ]
