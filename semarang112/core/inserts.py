"""Insert one new row with an INSERT statement compiled once per model (hot write paths).

``Model.objects.create()`` compiles a new ``INSERT`` for every row: a query object, a compiler,
each column quoted, each value checked for expressions. For the rows written on every emergency
report (the incident and its first timeline event) that statement never changes, and compiling it
was about a third of the ORM's cost of an intake. ``insert()`` compiles it once per model and
database with Django's own compiler, then does for each row what ``Model.save()`` does for a new
row, in the same order:

* ``pre_save`` signal, ``_prepare_related_fields_for_save`` (refuses unsaved related objects),
* each field's ``pre_save(obj, add=True)`` (``auto_now_add``, …) and ``get_db_prep_save`` — the
  compiler's own conversion of each value (not called where it is known to return the value as
  is: a string or None in a plain text column, None in a foreign key or timestamp),
* the one statement, the returned primary key (and any ``db_returning`` field) set on the object,
  ``_state`` marked saved,
* ``post_save`` signal with ``created=True``.

It falls back to ``obj.save(force_insert=True)`` wherever the shortcut would differ: a value that is
an expression, a database that cannot return columns from an INSERT, a model with parents (multi-
table inheritance), a proxy model, a primary key set by the caller, or fields whose value the
database computes (``db_default``, ``db_returning``). A model's
own ``save()`` override is not called: use ``insert()`` only where the model's ``save()`` adds
nothing for new rows (tests hold it to ``Model.save()``'s result, column for column).

``insert_pair()`` writes a new row and a new row that references it (an incident and its first
timeline event) with both compiled statements joined into one on PostgreSQL: one round trip where
two were, which under load was worth more than the statement itself (bench/RESULTS.md).

A field may hold an ``SqlValue``: an SQL expression the database evaluates in the INSERT itself
(an incident's reference number, drawn from a sequence in the same round trip as the row). The
statement returns the value written and it is set on the instance. Where the shortcut does not
apply, the expression is evaluated first with a ``SELECT`` and the row saved with its result.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connections, models, router
from django.db.models import signals
from django.db.models.sql import InsertQuery

from .postgres import prepared_cursor

M = TypeVar("M", bound=models.Model)

# Field classes whose get_db_prep_save() returns these values unchanged, on every database
# (Field.get_prep_value → to_python → the value; ForeignKey maps None to None): the common case of
# an intake's columns, without three calls per column. Exact classes only (a subclass may convert).
_STR_AS_IS = frozenset({models.CharField, models.TextField})
_NONE_AS_IS = frozenset({models.CharField, models.TextField, models.ForeignKey, models.DateTimeField})

class SqlValue:
    """A column value the database computes in the INSERT: ``sql`` is an SQL expression (a scalar
    subquery in parentheses will do) with ``%s`` placeholders for ``params``. The text becomes part of the compiled statement (prepared once per
    connection), so it must be the same for every row; only the parameters vary."""

    __slots__ = ("sql", "params")

    def __init__(self, sql: str, params: list | tuple = ()) -> None:
        self.sql = sql
        self.params = list(params)

    def __repr__(self) -> str:
        return f"SqlValue({self.sql!r}, {self.params!r})"


Statement = tuple[str, list[models.Field], list[tuple[models.Field, Any, list]]]
# The positions of a row's SqlValue fields and their SQL: part of a statement's identity.
Computed = tuple[tuple[int, str], ...]
_compiled: dict[tuple[type[models.Model], str, Computed], Statement | None] = {}


def _statement(model: type[models.Model], using: str, computed: Computed = ()) -> Statement | None:
    """(SQL, fields whose values it takes, fields it returns with their converters), or None where
    save() must be used. With ``computed``, those fields' placeholders are their SQL expressions
    and the fields are returned after the primary key."""
    key = (model, using, computed)
    if key in _compiled:
        return _compiled[key]
    if computed:
        _compiled[key] = statement = _computed_statement(model, using, computed)
        return statement
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


def _computed_statement(model, using: str, computed: Computed) -> Statement | None:
    base = _statement(model, using)
    if base is None:
        return None
    sql, fields, returning = base
    head, _, rest = sql.partition(" VALUES (")
    values, _, returned = rest.rpartition(") RETURNING ")
    if values != ", ".join(["%s"] * len(fields)):  # pragma: no cover - a backend with other placeholders
        return None
    placeholders = ["%s"] * len(fields)
    connection = connections[using]
    qn = connection.ops.quote_name
    extra = []
    for index, expression in computed:
        placeholders[index] = f"({expression})"
        field = fields[index]
        col = field.get_col(model._meta.db_table)
        extra.append((field, col, connection.ops.get_db_converters(col) + col.get_db_converters(connection)))
        returned += f", {qn(model._meta.db_table)}.{qn(field.column)}"
    return f"{head} VALUES ({', '.join(placeholders)}) RETURNING {returned}", fields, [*returning, *extra]


def _computed(values: list) -> Computed:
    return tuple((index, value.sql) for index, value in enumerate(values) if value.__class__ is SqlValue)


def _evaluate_sql_values(obj, using: str) -> None:
    """Where no compiled statement applies: each SqlValue of ``obj`` becomes its value, read with a
    SELECT (in the caller's transaction), so that ``save()`` writes plain values."""
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        if value.__class__ is SqlValue:
            with connections[using].cursor() as cursor:
                cursor.execute(f"SELECT {value.sql}", value.params)
                setattr(obj, field.attname, cursor.fetchone()[0])


def _params_with_sql_values(fields, values, computed: Computed, connection) -> list:
    """``_params()``, with each SqlValue's parameters in the place of its value."""
    plain = list(values)
    for index, _sql in computed:
        plain[index] = None
    params = _params(fields, plain, connection)
    for index, _sql in reversed(computed):
        params[index : index + 1] = values[index].params
    return params


def insert(obj: M, *, using: str | None = None) -> M:
    """Save the new ``obj`` with one INSERT, as ``obj.save(force_insert=True)`` would. Returns it."""
    model = type(obj)
    using = using or router.db_for_write(model, instance=obj)
    statement = _statement(model, using)
    if statement is None or obj.pk is not None:
        return _save(obj, using)
    fields = statement[1]
    connection = connections[using]
    signals.pre_save.send(sender=model, instance=obj, raw=False, using=using, update_fields=None)
    obj._prepare_related_fields_for_save(operation_name="save")
    values = [field.pre_save(obj, True) for field in fields]
    if any(hasattr(value, "resolve_expression") for value in values):
        return _save(obj, using)  # pragma: no cover - no caller passes expressions
    computed = _computed(values)
    if computed:
        statement = _statement(model, using, computed)
        if statement is None:  # pragma: no cover - a backend with other placeholders
            return _save(obj, using)
        params = _params_with_sql_values(fields, values, computed, connection)
    else:
        params = _params(fields, values, connection)
    sql, fields, returning = statement
    with prepared_cursor(connection) as cursor:  # parsed and planned once per connection
        cursor.execute(sql, params)
        row = cursor.fetchone()
    _saved(obj, returning, row, connection, using)
    signals.post_save.send(sender=model, instance=obj, created=True, update_fields=None, raw=False, using=using)
    return obj


def _save(obj: M, using: str) -> M:
    _evaluate_sql_values(obj, using)
    obj.save(force_insert=True, using=using)
    return obj


def insert_pair(parent: M, child: models.Model, *, link: str, using: str | None = None) -> M:
    """Save the new ``parent`` and a new ``child`` whose foreign key ``link`` points at it.

    On PostgreSQL one statement writes both (``WITH parent_row AS (INSERT … RETURNING id) INSERT
    INTO child … VALUES (…, (SELECT id FROM parent_row), …)``): one round trip instead of two, for
    the row written with every new incident (its first timeline event). Each row is what
    ``insert()`` would write, and both instances end up saved. The signals are those of two
    ``insert()`` calls, with one difference in order: both ``pre_save`` signals come before the
    statement, so the child's ``pre_save`` sees a parent without a primary key yet; then
    ``post_save`` of the parent, then of the child. Elsewhere (SQLite has no data-modifying CTE),
    and wherever ``insert()`` would fall back to ``save()``, it is ``insert(parent)`` then
    ``insert(child)``. Returns the parent.
    """
    parent_model, child_model = type(parent), type(child)
    using = using or router.db_for_write(parent_model, instance=parent)
    link_field = child_model._meta.get_field(link)
    statement = _pair_statement(parent_model, child_model, link_field, using)
    if statement is None or parent.pk is not None or child.pk is not None:
        insert(parent, using=using)
        insert(child, using=using)
        return parent
    parent_fields, child_fields, child_relations = statement[1:4]
    connection = connections[using]
    signals.pre_save.send(sender=parent_model, instance=parent, raw=False, using=using, update_fields=None)
    parent._prepare_related_fields_for_save(operation_name="save")
    parent_values = [field.pre_save(parent, True) for field in parent_fields]
    signals.pre_save.send(sender=child_model, instance=child, raw=False, using=using, update_fields=None)
    child._prepare_related_fields_for_save(operation_name="save", fields=child_relations)
    child_values = [field.pre_save(child, True) for field in child_fields]
    if any(hasattr(value, "resolve_expression") for value in parent_values + child_values):
        insert(parent, using=using)  # pragma: no cover - as insert(): no caller passes expressions
        insert(child, using=using)
        return parent
    computed = _computed(parent_values)
    if computed:
        statement = _pair_statement(parent_model, child_model, link_field, using, computed)
        if statement is None:  # pragma: no cover - a backend with other placeholders
            insert(parent, using=using)
            insert(child, using=using)
            return parent
        parent_params = _params_with_sql_values(parent_fields, parent_values, computed, connection)
    else:
        parent_params = _params(parent_fields, parent_values, connection)
    sql, _, _, _, parent_returning, child_returning = statement
    params = parent_params + _params(child_fields, child_values, connection)
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        child_id, *parent_row = cursor.fetchone()
    _saved(parent, parent_returning, parent_row, connection, using)
    child._prepare_related_fields_for_save(operation_name="save", fields=[link_field])  # takes the parent's key
    _saved(child, child_returning, [child_id], connection, using)
    signals.post_save.send(sender=parent_model, instance=parent, created=True, update_fields=None, raw=False, using=using)
    signals.post_save.send(sender=child_model, instance=child, created=True, update_fields=None, raw=False, using=using)
    return parent


# SQL, the parent's fields, the child's fields but the link, the child's other concrete fields (checked
# for unsaved related objects before the statement), the parent's and the child's returning fields.
PairStatement = tuple[str, list[models.Field], list[models.Field], list[models.Field], list, list]
_compiled_pairs: dict[tuple, PairStatement | None] = {}


def _pair_statement(parent_model, child_model, link_field, using: str, computed: Computed = ()) -> PairStatement | None:
    """The ``PairStatement`` of a parent and child model (the parent's ``computed`` fields returned
    after its primary key), or None where two INSERTs are needed."""
    key = (parent_model, child_model, link_field.name, using, computed)
    if key in _compiled_pairs:
        return _compiled_pairs[key]
    statement = None
    parent, child = _statement(parent_model, using, computed), _statement(child_model, using)
    connection = connections[using]
    if (
        connection.vendor == "postgresql"
        and parent is not None
        and child is not None
        and link_field.many_to_one
        and link_field.remote_field.model is parent_model
        and link_field.target_field is parent_model._meta.pk
    ):
        parent_sql, parent_fields, parent_returning = parent
        child_sql, child_fields, child_returning = child
        head, _, rest = child_sql.partition(" VALUES (")
        values, _, returning = rest.rpartition(") RETURNING ")
        if values == ", ".join(["%s"] * len(child_fields)) and link_field in child_fields:
            qn = connection.ops.quote_name
            placeholders = [
                f"(SELECT {qn(parent_model._meta.pk.column)} FROM parent_row)" if field is link_field else "%s"
                for field in child_fields
            ]
            # The parent's returned columns after its key: each read back from parent_row.
            parent_extra = "".join(
                f", (SELECT {qn(field.column)} FROM parent_row)" for field, _col, _conv in parent_returning[1:]
            )
            sql = (
                f"WITH parent_row AS ({parent_sql}) {head} VALUES ({', '.join(placeholders)}) "
                f"RETURNING {returning}, {qn(child_model._meta.db_table)}.{qn(link_field.column)}{parent_extra}"
            )
            statement = (
                sql,
                parent_fields,
                [field for field in child_fields if field is not link_field],
                [field for field in child_model._meta.concrete_fields if field is not link_field],
                parent_returning,
                child_returning,
            )
    _compiled_pairs[key] = statement
    return statement


def _params(fields, values, connection) -> list:
    return [
        value if (value is None and field.__class__ in _NONE_AS_IS) or (value.__class__ is str and field.__class__ in _STR_AS_IS)
        else field.get_db_prep_save(value, connection=connection)
        for field, value in zip(fields, values, strict=True)
    ]


def _saved(obj, returning, row, connection, using: str) -> None:
    """Set the returned values (converted as the compiler converts them) and mark ``obj`` saved."""
    for (field, col, converters), value in zip(returning, row, strict=True):
        for converter in converters:
            value = converter(value, col, connection)
        setattr(obj, field.attname, value)
    obj._state.adding = False
    obj._state.db = using
