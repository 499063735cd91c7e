"""Insert one new row with an INSERT statement compiled once per model (hot write paths).

``Model.objects.create()`` compiles a new ``INSERT`` for every row: a query object, a compiler,
each column quoted, each value checked for expressions. For the rows written on every emergency
report (the incident and its first timeline event) that statement never changes, and compiling it
was about a third of the ORM's cost of an intake. ``insert()`` compiles it once per model and
database with Django's own compiler, then does for each row what ``Model.save()`` does for a new
row, in the same order:

* ``pre_save`` signal, ``_prepare_related_fields_for_save`` (refuses unsaved related objects),
* each field's ``pre_save(obj, add=True)`` (``auto_now_add``, …) and ``get_db_prep_save`` — the
  compiler's own conversion of each value,
* the one statement, the returned primary key (and any ``db_returning`` field) set on the object,
  ``_state`` marked saved,
* ``post_save`` signal with ``created=True``.

It falls back to ``obj.save(force_insert=True)`` wherever the shortcut would differ: a value that is
an expression, a database that cannot return columns from an INSERT, a model with parents (multi-
table inheritance), a proxy model, a primary key set by the caller, or fields whose value the
database computes (``db_default``, ``db_returning``). A model's
own ``save()`` override is not called: use ``insert()`` only where the model's ``save()`` adds
nothing for new rows (tests hold it to ``Model.save()``'s result, column for column).
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connections, models, router
from django.db.models import signals
from django.db.models.sql import InsertQuery

from .postgres import prepared_cursor

M = TypeVar("M", bound=models.Model)

Statement = tuple[str, list[models.Field], list[tuple[models.Field, Any, list]]]
_compiled: dict[tuple[type[models.Model], str], Statement | None] = {}


def _statement(model: type[models.Model], using: str) -> Statement | None:
    """(SQL, fields whose values it takes, fields it returns with their converters), or None where
    save() must be used."""
    key = (model, using)
    if key in _compiled:
        return _compiled[key]
    connection = connections[using]
    opts = model._meta
    returning = list(opts.db_returning_fields)
    # Model.save()'s columns for a new row whose primary key the database assigns.
    fields = [field for field in opts.local_concrete_fields if not field.generated and field is not opts.auto_field]
    statement = None
    if (
        connection.features.can_return_columns_from_insert
        and not opts.parents
        and not opts.proxy
        and opts.order_with_respect_to is None
        and opts.auto_field is not None
        and returning == [opts.auto_field]
        and not any(field.has_db_default() for field in fields)
    ):
        query = InsertQuery(model)
        query.insert_values(fields, [model()], raw=False)
        compiler = query.get_compiler(using=using)
        compiler.returning_fields = returning
        ((sql, params),) = compiler.as_sql()
        if len(params) == len(fields):  # no extra parameters of the RETURNING clause (Oracle)
            # The returned values are converted as the compiler converts them (per column).
            cols = [field.get_col(opts.db_table) for field in returning]
            converted = [
                (field, col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
                for field, col in zip(returning, cols, strict=True)
            ]
            statement = (sql, fields, converted)
    _compiled[key] = statement
    return statement


def insert(obj: M, *, using: str | None = None) -> M:
    """Save the new ``obj`` with one INSERT, as ``obj.save(force_insert=True)`` would. Returns it."""
    model = type(obj)
    using = using or router.db_for_write(model, instance=obj)
    statement = _statement(model, using)
    if statement is None or obj.pk is not None:
        obj.save(force_insert=True, using=using)
        return obj
    sql, fields, returning = statement
    connection = connections[using]
    signals.pre_save.send(sender=model, instance=obj, raw=False, using=using, update_fields=None)
    obj._prepare_related_fields_for_save(operation_name="save")
    values = [field.pre_save(obj, True) for field in fields]
    if any(hasattr(value, "resolve_expression") for value in values):
        obj.save(force_insert=True, using=using)  # pragma: no cover - no caller passes expressions
        return obj
    params = [field.get_db_prep_save(value, connection=connection) for field, value in zip(fields, values, strict=True)]
    with prepared_cursor(connection) as cursor:  # parsed and planned once per connection
        cursor.execute(sql, params)
        row = cursor.fetchone()
    for (field, col, converters), value in zip(returning, row, strict=True):
        for converter in converters:
            value = converter(value, col, connection)
        setattr(obj, field.attname, value)
    obj._state.adding = False
    obj._state.db = using
    signals.post_save.send(sender=model, instance=obj, created=True, update_fields=None, raw=False, using=using)
    return obj
