"""Transactions in which any error rolls back everything, and the services' blocks inside them.

A service that changes state is atomic (``@service_atomic``): called on its own it is the
transaction; called inside another ``atomic`` block it is a savepoint, so that a caller that
catches its error (a form in the admin, say) can go on with the rest of its transaction.

Some callers never go on: the API's idempotent intake lets every error leave the request, and
with it its whole transaction (the idempotency record included) rolls back. There a savepoint is
two round trips to PostgreSQL per report (``SAVEPOINT``, ``RELEASE SAVEPOINT``) that can never be
used. ``all_or_nothing()`` opens such a transaction; the ``@service_atomic`` blocks inside it take
no savepoint (Django's ``atomic(savepoint=False)``: an error marks the whole transaction for
rollback). Catching an error inside it and carrying on is refused by Django
(``TransactionManagementError`` on the next query), so the promise is checked, not assumed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from django.db import DEFAULT_DB_ALIAS, transaction

P = ParamSpec("P")
T = TypeVar("T")

_FLAG = "semarang112_all_or_nothing"  # on the (per-thread) connection object


@contextmanager
def all_or_nothing(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """An atomic block whose services take no savepoints: every error rolls back all of it."""
    connection = transaction.get_connection(using)
    with transaction.atomic(using=using):
        previous = getattr(connection, _FLAG, False)
        setattr(connection, _FLAG, True)
        try:
            yield
        finally:
            setattr(connection, _FLAG, previous)


def in_all_or_nothing(using: str = DEFAULT_DB_ALIAS) -> bool:
    connection = transaction.get_connection(using)
    return connection.in_atomic_block and getattr(connection, _FLAG, False)


def service_atomic(func: Callable[P, T]) -> Callable[P, T]:
    """``transaction.atomic`` for a service: a savepoint when nested, except in ``all_or_nothing``."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with transaction.atomic(savepoint=not in_all_or_nothing()):
            return func(*args, **kwargs)

    return wrapper
