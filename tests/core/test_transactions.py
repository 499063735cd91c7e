"""Services' atomic blocks: savepoints where a caller may go on, none inside an all-or-nothing block."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from incidents.models import Region
from semarang112.core.transactions import all_or_nothing, in_all_or_nothing, service_atomic
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


@service_atomic
def create_then_fail(code: str, *, fail: bool = True):
    CategoryFactory(code=code)
    if fail:
        Region.objects.create(code=None)  # NOT NULL: IntegrityError


def savepoints(queries) -> list[str]:
    return [q["sql"] for q in queries if "SAVEPOINT" in q["sql"].upper()]


def exists(code: str) -> bool:
    from incidents.models import Category

    return Category.objects.filter(code=code).exists()


def test_nested_in_a_plain_atomic_block_a_service_is_a_savepoint_the_caller_can_go_on_after():
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries, pytest.raises(IntegrityError):
            create_then_fail("svc-a")
        CategoryFactory(code="after-a")  # the caller goes on: only the service's work was undone

    assert savepoints(queries)
    assert not exists("svc-a")
    assert exists("after-a")


def test_inside_all_or_nothing_a_service_takes_no_savepoint():
    with all_or_nothing():
        assert in_all_or_nothing()
        with CaptureQueriesContext(connection) as queries:
            create_then_fail("svc-b", fail=False)

    assert savepoints(queries) == []
    assert exists("svc-b")
    assert not in_all_or_nothing()


def test_an_error_inside_all_or_nothing_rolls_back_everything():
    with pytest.raises(IntegrityError), all_or_nothing():
        CategoryFactory(code="before-c")
        create_then_fail("svc-c")

    assert not exists("before-c")
    assert not exists("svc-c")


def test_carrying_on_after_a_swallowed_error_inside_all_or_nothing_is_refused():
    with pytest.raises(TransactionManagementError), all_or_nothing():
        try:
            create_then_fail("svc-d")
        except IntegrityError:
            pass
        CategoryFactory(code="after-d")  # Django refuses: the transaction must roll back

    assert not exists("svc-d")
    assert not exists("after-d")


def test_a_plain_atomic_block_inside_all_or_nothing_keeps_its_savepoint_for_its_own_callers():
    with all_or_nothing():
        with transaction.atomic():  # not a service: Django's own rules
            with CaptureQueriesContext(connection) as queries:
                with transaction.atomic():
                    CategoryFactory(code="svc-e")
        assert in_all_or_nothing()

    assert savepoints(queries)
