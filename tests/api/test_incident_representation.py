"""The incident list's direct ``to_representation`` says exactly what DRF's field-by-field path says.

``IncidentSerializer.to_representation`` writes the dict itself (a 50-row page spent most of its
time in DRF's per-field machinery); ``field_by_field_representation`` is the generic rendering of
the declared fields. Every key, in order, with the same values and the same JSON, for incidents in
many shapes: with and without place and coordinates, masked and not, assigned to several
agencies, merged, resolved, read in Indonesian and in English, in local time and in UTC —
through the list's queryset (prefetched) and the detail's.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from dispatch import services as dispatch_services
from incidents import services
from incidents.api.serializers import IncidentSerializer
from incidents.api.views import IncidentViewSet
from incidents.selectors import incident_get_for_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def shapes(make_incident, seeded, dispatcher, operator):
    """Incidents in as many shapes as the representation has branches."""
    damkar, psc, satpol = seeded.agency("damkar"), seeded.agency("dinkes-psc"), seeded.agency("satpol-pp")
    plain = make_incident(caller_name="Budi Santoso", caller_number="081234567890")
    placed = make_incident(latitude=Decimal("-7.0245123"), longitude=Decimal("110.4203"), priority=1)
    nowhere = make_incident(district=None, village=None, caller_name="", caller_number="")
    dispatched = make_incident()
    dispatch_services.incident_dispatch(incident=dispatched, agencies=[damkar, psc], actor=dispatcher)
    shared = make_incident(caller_name="Siti", caller_number="0247654321")
    dispatch_services.incident_dispatch(incident=shared, agencies=[satpol], actor=dispatcher)
    dispatch_services.incident_share(incident=shared, agency=damkar, level="view", actor=dispatcher)
    resolved = make_incident()
    dispatch_services.incident_dispatch(incident=resolved, agencies=[damkar], actor=dispatcher)
    services.incident_resolve(incident=resolved, actor=dispatcher)
    duplicate = make_incident()
    services.incident_merge(incident=duplicate, into=plain, actor=dispatcher)
    return [plain, placed, nowhere, dispatched, shared, resolved, duplicate]


def _request(user):
    request = APIRequestFactory().get("/api/v1/incidents/")
    request.user = user
    return request


def _list_rows(user):
    view = IncidentViewSet()
    view.action, view.request, view.kwargs, view.format_kwarg = "list", _request(user), {}, None
    return list(view.get_queryset().order_by("-received_at", "-id"))


def _assert_same(serializer, incident):
    fast = serializer.to_representation(incident)
    generic = serializer.field_by_field_representation(incident)
    assert list(fast) == list(generic) == list(IncidentSerializer.Meta.fields)
    assert fast == generic, {k: (fast[k], generic[k]) for k in fast if fast[k] != generic[k]}
    assert JSONRenderer().render(fast) == JSONRenderer().render(generic)


@pytest.mark.parametrize("zone", ["Asia/Jakarta", "UTC"])  # UTC: DRF writes "Z"
@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("who", ["dispatcher", "agency_user"])
def test_list_rows_render_as_the_declared_fields_do(shapes, request, who, language, zone):
    user = request.getfixturevalue(who)
    serializer = IncidentSerializer(context={"request": _request(user)})
    rows = _list_rows(user)
    assert rows

    with translation.override(language), timezone.override(zone):
        for incident in rows:
            _assert_same(serializer, incident)
    if zone == "UTC":
        with timezone.override(zone):
            assert serializer.to_representation(rows[0])["received_at"].endswith("Z")


def test_the_agency_sees_caller_data_only_where_it_is_assigned(shapes, agency_user):
    serializer = IncidentSerializer(context={"request": _request(agency_user)})
    rows = {row.pk: serializer.to_representation(row) for row in _list_rows(agency_user)}
    dispatched, shared = shapes[3], shapes[4]

    assert rows[dispatched.pk]["personal_data_masked"] is False
    assert rows[shared.pk]["personal_data_masked"] is True
    assert rows[shared.pk]["caller_name"] == "S***"
    assert rows[shared.pk]["caller_number"] == "+622****321"  # stored as +62247654321


def test_the_detail_renders_as_the_declared_fields_do(shapes, dispatcher):
    serializer = IncidentSerializer(context={"request": _request(dispatcher)})
    for incident in shapes:
        _assert_same(serializer, incident_get_for_user(dispatcher, pk=incident.pk))


def test_an_incident_just_written_renders_as_the_declared_fields_do(shapes, dispatcher):
    # Not re-read: enum members and Python numbers as the services left them.
    serializer = IncidentSerializer(context={"request": _request(dispatcher)})
    for incident in shapes:
        _assert_same(serializer, incident)
        json.loads(JSONRenderer().render(serializer.to_representation(incident)))
