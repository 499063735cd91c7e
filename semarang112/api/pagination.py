"""Keyset ("cursor") pagination: stable under inserts and as fast on page 1000 as on page 1.

DRF's CursorPagination positions on the first ordering field only and skips ties with an
OFFSET, which degrades to a scan when that field has few values (priority has four). Here the
cursor holds the whole sort key of the last row — always ending in the primary key, so it is
unique — and the next page is ``WHERE (k1, k2, id) > (v1, v2, v3)`` written as the equivalent
OR of ANDs, which works with any mix of ascending and descending fields.

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
from functools import reduce
from operator import or_

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
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


def _beyond(fields: tuple[str, ...], values: list, *, forward: bool) -> Q:
    """Rows strictly after (forward) or before the row whose sort key is ``values``."""
    clauses = []
    for index, field in enumerate(fields):
        name, descending = field.lstrip("-"), field.startswith("-")
        greater = descending != forward  # forward on an ascending field: greater than
        clause = Q(**{f"{name}__{'gt' if greater else 'lt'}": values[index]})
        for prev_field, prev_value in zip(fields[:index], values[:index], strict=True):
            clause &= Q(**{prev_field.lstrip("-"): prev_value})
        clauses.append(clause)
    return reduce(or_, clauses)


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
