"""Writes for units and volunteers that dispatch.services does not have yet.

Stand-in: these belong in ``dispatch/services.py`` (owned by the dispatch engineers); the API
calls them from here until they move. Same conventions: atomic, row lock, update_fields.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from dispatch.models import FieldUnit, Volunteer
from incidents.services import Actor


@transaction.atomic
def unit_set_status(*, unit: FieldUnit, status: str, actor: Actor | AbstractBaseUser | None) -> FieldUnit:
    """Available / assigned / off duty, as the unit's own agency reports it."""
    unit = FieldUnit.objects.select_for_update().get(pk=unit.pk)
    if unit.status != status:
        unit.status = status
        unit.save(update_fields=["status"])
    return unit


@transaction.atomic
def volunteer_set_availability(
    *, volunteer: Volunteer, is_available: bool, actor: Actor | AbstractBaseUser | None
) -> Volunteer:
    volunteer = Volunteer.objects.select_for_update().get(pk=volunteer.pk)
    if volunteer.is_available != is_available:
        volunteer.is_available = is_available
        volunteer.save(update_fields=["is_available"])
    return volunteer
