"""Test data builders shared by every test package.

Two kinds of builders live here:

* factory-boy factories for **reference data** that has no write service of its own (regions,
  districts, villages, categories, agencies, users, memberships, routing rules, units).
  ``RegionFactory()``, ``CategoryFactory(parent=...)``, ``MembershipFactory(role=Role.DISPATCHER)``.
* plain functions that build **cases through the real services** (``create_incident``,
  ``dispatch_to``, ``incident_in_status``, ``assignment_in_status``), so every test that needs an
  incident in some state exercises the same write path as production. Never create an
  ``Incident``, ``Assignment``, ``Call`` or ``TimelineEvent`` with ``objects.create`` in a test
  that is not about the model itself.

The service builders work with or without the seed data: without it they fall back to factory
objects (a default region with the configured code, a fresh category and agency).
"""

from __future__ import annotations

from typing import Any

import factory
from django.conf import settings
from django.contrib.auth import get_user_model

from dispatch import services as dispatch_services
from dispatch.models import Agency, Assignment, FieldUnit, Membership, Role, RoutingRule
from incidents import services
from incidents.models import Category, District, Incident, Priority, Region, Village

#: Password of every user made by ``UserFactory`` (for ``client.login``).
DEFAULT_PASSWORD = "semarang-112-test-password"


# ------------------------------------------------------------------------------------------------
# Reference data
# ------------------------------------------------------------------------------------------------
class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"9{n:03d}")
    name = factory.Sequence(lambda n: f"Kabupaten Uji {n}")
    reference_prefix = factory.Sequence(lambda n: f"T{n:03d}")


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District

    region = factory.SubFactory(RegionFactory)
    code = factory.Sequence(lambda n: f"D{n:05d}")
    name = factory.Sequence(lambda n: f"Kecamatan {n}")


class VillageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Village

    district = factory.SubFactory(DistrictFactory)
    code = factory.Sequence(lambda n: f"V{n:06d}")
    name = factory.Sequence(lambda n: f"Kelurahan {n}")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    code = factory.Sequence(lambda n: f"category-{n}")
    name_id = factory.Sequence(lambda n: f"Kategori {n}")
    name_en = factory.Sequence(lambda n: f"Category {n}")
    parent = None
    default_priority = Priority.P2


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"agency-{n}")
    name = factory.Sequence(lambda n: f"Agency {n}")
    kind = Agency.Kind.CITY_AGENCY
    email = factory.LazyAttribute(lambda o: f"{o.code}@agency.example.org")
    region = None


class UserFactory(factory.django.DjangoModelFactory):
    """A user with ``DEFAULT_PASSWORD``. ``UserFactory(is_staff=True)`` for admin access."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(DEFAULT_PASSWORD)


class FieldUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FieldUnit

    agency = factory.SubFactory(AgencyFactory)
    code = factory.Sequence(lambda n: f"UNIT-{n}")
    name = factory.Sequence(lambda n: f"Unit {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    """A user's role in an agency; by default a new user as agency staff of a new agency.

    Like the admin (``membership_record_change``), it puts the user in the agency's group, which
    per-incident shares are granted to. ``MembershipFactory(sync_groups=False)`` skips that.
    """

    class Meta:
        model = Membership
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    agency = factory.SubFactory(AgencyFactory)
    role = Role.AGENCY_STAFF

    @factory.post_generation
    def sync_groups(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            dispatch_services.membership_sync_groups(user=obj.user)


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    """Category → agency for every district; pass ``district=`` for a district-specific rule."""

    class Meta:
        model = RoutingRule

    category = factory.SubFactory(CategoryFactory)
    district = None
    agency = factory.SubFactory(AgencyFactory)
    order = 1


# ------------------------------------------------------------------------------------------------
# Cases, built through the services
# ------------------------------------------------------------------------------------------------
def default_region() -> Region:
    """The configured default region: the seeded Kota Semarang, or a stand-in with the same code."""
    return RegionFactory(code=settings.DEFAULT_REGION_CODE, name="Kota Semarang", reference_prefix="SMG")


def create_incident(*, actor=None, category: Category | None = None, **kwargs: Any) -> Incident:
    """``incidents.services.incident_create`` with defaults for everything a test does not care about."""
    if kwargs.get("region") is None and kwargs.get("call") is None:
        kwargs["region"] = default_region()
    kwargs.setdefault("description", "Rumah terbakar di dekat pasar, asap tebal.")
    return services.incident_create(actor=actor, category=category or CategoryFactory(), **kwargs)


def dispatch_to(incident: Incident, *agencies: Agency, actor=None, note: str = "") -> list[Assignment]:
    """Dispatch ``incident`` to ``agencies`` (a new agency if none given) via the service."""
    return dispatch_services.incident_dispatch(
        incident=incident, agencies=list(agencies) or [AgencyFactory()], actor=actor, note=note
    )


def reload(obj):
    """A fresh copy from the database (``refresh_from_db`` would keep cached relations)."""
    return type(obj).objects.get(pk=obj.pk)


def incident_in_status(
    status: str,
    *,
    actor=None,
    agency: Agency | None = None,
    **create_kwargs: Any,
) -> Incident:
    """An incident brought to ``status`` by the services, the way a real case gets there.

    ``dispatched`` and ``on_scene`` incidents have one assignment to ``agency`` (a new agency by
    default); ``resolved`` and ``closed`` go received → verified → resolved(→ closed); ``merged``
    is merged into a second, open incident of the same region.
    """
    S = Incident.Status
    incident = create_incident(actor=actor, **create_kwargs)
    if status == S.RECEIVED:
        pass
    elif status == S.VERIFIED:
        services.incident_verify(incident=incident, actor=actor)
    elif status in (S.DISPATCHED, S.ON_SCENE):
        (assignment,) = dispatch_to(incident, agency or AgencyFactory(), actor=actor)
        if status == S.ON_SCENE:
            dispatch_services.assignment_acknowledge(assignment=assignment, actor=actor)
            dispatch_services.assignment_on_scene(assignment=assignment, actor=actor)
    elif status in (S.RESOLVED, S.CLOSED):
        services.incident_verify(incident=incident, actor=actor)
        services.incident_resolve(incident=incident, actor=actor)
        if status == S.CLOSED:
            services.incident_close(incident=incident, actor=actor)
    elif status == S.CANCELLED:
        services.incident_cancel(incident=incident, actor=actor, reason="Caller cancelled.")
    elif status == S.FALSE_ALARM:
        services.incident_mark_false_alarm(incident=incident, actor=actor, reason="Nothing there.")
    elif status == S.MERGED:
        target = create_incident(actor=actor, region=incident.region, category=incident.category)
        services.incident_merge(incident=incident, into=target, actor=actor)
    else:  # pragma: no cover - guards against a new status without a recipe here
        raise ValueError(f"No recipe for incident status {status!r}")
    incident = reload(incident)
    assert incident.status == status, incident.status
    return incident


def assignment_in_status(status: str, *, actor=None, incident: Incident | None = None, agency=None) -> Assignment:
    """An assignment brought to ``status`` by the services (on a new dispatched incident by default)."""
    A = Assignment.Status
    if incident is None:
        incident = create_incident(actor=actor)
    (assignment,) = dispatch_to(incident, agency or AgencyFactory(), actor=actor)
    steps = {
        A.REQUESTED: [],
        A.ACKNOWLEDGED: [dispatch_services.assignment_acknowledge],
        A.EN_ROUTE: [dispatch_services.assignment_acknowledge, dispatch_services.assignment_en_route],
        A.ON_SCENE: [dispatch_services.assignment_acknowledge, dispatch_services.assignment_on_scene],
        A.COMPLETED: [
            dispatch_services.assignment_acknowledge,
            dispatch_services.assignment_on_scene,
            dispatch_services.assignment_complete,
        ],
    }
    if status == A.DECLINED:
        dispatch_services.assignment_decline(assignment=assignment, actor=actor, reason="No unit free.")
    elif status == A.CANCELLED:
        dispatch_services.assignment_cancel(assignment=assignment, actor=actor, reason="Re-routed.")
    else:
        for step in steps[status]:
            step(assignment=assignment, actor=actor)
    assignment = reload(assignment)
    assert assignment.status == status, assignment.status
    return assignment
