"""Call intake: one form records the call and, for an emergency, opens the incident."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from incidents import services
from incidents.models import Call, CallerNumber, Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_op(login, operator):
    return login(operator)


def _post(client, **data):
    with translation.override("en"):
        return client.post(reverse("incidents:intake"), data, HTTP_ACCEPT_LANGUAGE="en")


def _form(seeded, **overrides):
    data = {
        "caller_number": "0812 1111 2222",
        "caller_name": "Siti",
        "channel": "phone_112",
        "category": seeded.category("fire").pk,
        "description": "Rumah terbakar",
        "address": "Jl. Pemuda 1",
        "district": seeded.district("Candisari").pk,
        "village": seeded.village("Jatingaleh").pk,
        "latitude": "-7.020000",
        "longitude": "110.430000",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_the_form_is_keyboard_first(client_op):
    page = client_op.get(reverse("incidents:intake")).content.decode()
    assert "autofocus" in page
    assert 'data-filter-select="id_category"' in page  # category search
    assert 'data-shortcut="P"' in page  # outcome shortcuts
    for field in ("id_caller_number", "id_category", "id_description", "id_district", "id_village", "id_latitude"):
        assert f'for="{field}"' in page, field  # every field has a label


def test_an_emergency_call_creates_the_incident_in_one_step(client_op, seeded, operator):
    response = _post(client_op, **_form(seeded))
    incident = Incident.objects.get()
    assert response.status_code == 302, response.content
    assert response["Location"] == reverse("incidents:detail", args=[incident.pk])
    call = Call.objects.get()
    assert call.incident == incident and call.outcome == Call.Outcome.EMERGENCY
    assert call.operator == operator
    assert incident.caller_number == "+6281211112222"
    assert incident.village == seeded.village("Jatingaleh")
    assert incident.latitude is not None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"category": ""}, "category", "Choose a category to create an incident."),
        ({"description": "  "}, "description", "Describe what happened to create an incident."),
        ({"longitude": ""}, "longitude", "Give both latitude and longitude, or neither."),
        ({"latitude": "123"}, "latitude", "Ensure this value is less than or equal to 90."),
        ({"latitude": "abc"}, "latitude", "Enter a number."),
        ({"caller_number": "abc"}, "caller_number", "Enter a phone number"),
        ({"category": "999999"}, "category", "Select a valid choice."),
    ],
)
def test_bad_input_shows_the_error_on_the_field(client_op, seeded, overrides, field, message):
    response = _post(client_op, **_form(seeded, **overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert field in response.context["form"].errors
    assert not Incident.objects.exists() and not Call.objects.exists()


def test_a_village_of_another_district_is_refused(client_op, seeded):
    response = _post(client_op, **_form(seeded, district=seeded.district("Tugu").pk))
    assert response.status_code == 400
    assert "village" in response.context["form"].errors
    assert not Incident.objects.exists()


def test_a_service_error_is_shown_not_swallowed(client_op, seeded):
    fire = seeded.category("fire")
    fire.is_active = False
    fire.save(update_fields=["is_active"])
    response = _post(client_op, **_form(seeded))
    assert response.status_code == 400
    assert not Incident.objects.exists() and not Call.objects.exists()  # the call rolled back too


@pytest.mark.parametrize("outcome", ["prank", "silent", "information", "wrong_number"])
def test_outcome_buttons_record_the_call_without_a_case(client_op, seeded, outcome):
    response = _post(client_op, caller_number="0812 9999 0000", outcome=outcome, channel="phone_112")
    assert response.status_code == 302, response.content
    call = Call.objects.get()
    assert call.outcome == outcome and call.incident is None
    assert not Incident.objects.exists()


def test_attach_to_an_open_incident_in_one_click(client_op, incident):
    response = _post(client_op, caller_number="0813 0000 1111", channel="phone_112", attach_to=incident.pk)
    assert response.status_code == 302, response.content
    call = Call.objects.get(caller_number="+6281300001111")
    assert call.incident == incident and call.outcome == Call.Outcome.DUPLICATE
    assert Incident.objects.count() == 1


def test_attach_to_a_closed_incident_shows_the_error(client_op, incident, supervisor):
    services.incident_verify(incident=incident, actor=supervisor)
    services.incident_resolve(incident=incident, actor=supervisor)
    response = _post(client_op, channel="phone_112", attach_to=incident.pk)
    assert response.status_code == 400
    assert "is no longer open" in response.content.decode()


def test_caller_lookup_shows_earlier_calls_incidents_and_the_prank_flag(client_op, incident, operator):
    for _ in range(3):
        services.call_create(actor=operator, caller_number=incident.caller_number, outcome=Call.Outcome.PRANK)
    assert CallerNumber.objects.get(number=incident.caller_number).is_flagged
    with translation.override("en"):
        page = client_op.get(
            reverse("incidents:intake_caller"), {"caller_number": "0812-3456-7890"}, HTTP_ACCEPT_LANGUAGE="en"
        )
    html = page.content.decode()
    assert "Flagged as prank caller" in html
    assert incident.reference in html
    assert html.count("Prank") >= 3


def test_villages_follow_the_district(client_op, seeded):
    html = client_op.get(
        reverse("incidents:intake_villages"), {"district": seeded.district("Candisari").pk}
    ).content.decode()
    assert "Jatingaleh" in html and "Mangkang Wetan" not in html


def test_duplicate_suggestions_same_category_same_village_or_near(client_op, seeded, make_incident):
    near = make_incident(latitude="-7.020000", longitude="110.430000")
    same_village = make_incident()
    far = make_incident(district=seeded.district("Tugu"), village=None, latitude="-6.990000", longitude="110.300000")
    other_category = make_incident(category=seeded.category("medical"))
    url = reverse("incidents:intake_duplicates")
    html = client_op.get(
        url,
        {
            "category": seeded.category("fire").pk,
            "village": seeded.village("Jatingaleh").pk,
            "latitude": "-7.021",
            "longitude": "110.431",
        },
    ).content.decode()
    assert near.reference in html and same_village.reference in html
    assert far.reference not in html and other_category.reference not in html
    assert f'name="attach_to" value="{near.pk}"' in html
    # By distance alone (no village): only the one within the radius.
    html = client_op.get(
        url, {"category": seeded.category("fire").pk, "latitude": "-7.0201", "longitude": "110.4301"}
    ).content.decode()
    assert near.reference in html and far.reference not in html


def test_call_intake_is_for_the_command_center_only(login, agency_user):
    client = login(agency_user)
    assert client.get(reverse("incidents:intake")).status_code == 403
    assert client.post(reverse("incidents:intake"), {"outcome": "prank"}).status_code == 403
    assert client.get(reverse("incidents:intake_caller"), {"caller_number": "0812"}).status_code == 403


def test_the_call_start_time_comes_from_the_page(client_op, seeded):
    from datetime import timedelta

    from django.utils import timezone

    opened = timezone.now() - timedelta(minutes=2)
    _post(client_op, **_form(seeded, started_at=opened.isoformat()))
    assert abs((Call.objects.get().started_at - opened).total_seconds()) < 1


@pytest.mark.parametrize("stamp", ["garbage", "28/11/2026 03:50", "2999-01-01T00:00:00+07:00"])
def test_a_bad_start_time_never_refuses_the_call(client_op, seeded, stamp):
    response = _post(client_op, **_form(seeded, started_at=stamp))
    assert response.status_code == 302, response.content
