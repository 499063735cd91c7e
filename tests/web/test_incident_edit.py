"""Incident page: editing the details and the category, sharing until a time, the timeline's labels."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dispatch import services as dispatch_services
from dispatch.models import IncidentShare
from incidents import services, sla
from incidents.models import Incident

pytestmark = pytest.mark.django_db


def _edit_data(incident: Incident, **changes) -> dict:
    """The edit form as the page fills it in, with ``changes`` typed over it."""
    data = {
        "version": incident.version,
        "priority": incident.priority,
        "description": incident.description,
        "address": incident.address,
        "district": incident.district_id or "",
        "village": incident.village_id or "",
        "latitude": "" if incident.latitude is None else incident.latitude,
        "longitude": "" if incident.longitude is None else incident.longitude,
        "caller_name": incident.caller_name,
        "caller_number": incident.caller_number,
    }
    data.update(changes)
    return data


def _page(client, incident, lang="en") -> str:
    return client.get(reverse("incidents:detail", args=[incident.pk]), HTTP_ACCEPT_LANGUAGE=lang).content.decode()


# ------------------------------------------------------------------------------------------------
# Editing the details
# ------------------------------------------------------------------------------------------------
def test_an_operator_edits_the_details_from_the_incident_page(login, seeded, incident, operator):
    client = login(operator)
    page = _page(client, incident)
    assert reverse("incidents:edit", args=[incident.pk]) in page
    form = client.get(reverse("incidents:edit", args=[incident.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert form.status_code == 200
    assert f'name="version" value="{incident.version}"' in form.content.decode()

    response = client.post(
        reverse("incidents:edit", args=[incident.pk]),
        _edit_data(
            incident,
            priority=2,
            address="Jl. Teuku Umar 14, depan minimarket",
            description="Kebakaran rumah warga.\r\nDua orang terjebak di lantai dua.",
            latitude="-7.0244",
            longitude="110.4206",
        ),
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse("incidents:detail", args=[incident.pk])
    html = response.content.decode()
    assert f"Details of {incident.reference} saved." in html
    before = incident.version
    incident.refresh_from_db()
    assert incident.version == before + 1
    assert incident.priority == 2
    assert incident.address == "Jl. Teuku Umar 14, depan minimarket"
    assert incident.description == "Kebakaran rumah warga.\nDua orang terjebak di lantai dua."
    assert str(incident.latitude) == "-7.024400"
    event = incident.timeline.get(kind="updated")
    assert set(event.payload["changes"]) == {"priority", "address", "description", "latitude", "longitude"}
    # The timeline names what changed, in the reader's language.
    assert "Details updated" in html and "priority" in html and "address" in html
    assert "Rincian diperbarui" in _page(client, incident, "id")


def test_saving_without_changes_changes_nothing(login, incident, operator):
    response = login(operator).post(
        reverse("incidents:edit", args=[incident.pk]), _edit_data(incident), HTTP_ACCEPT_LANGUAGE="en", follow=True
    )
    assert "Nothing was changed." in response.content.decode()
    version = incident.version
    incident.refresh_from_db()
    assert incident.version == version
    assert not incident.timeline.filter(kind="updated").exists()


def test_a_stale_edit_says_so_and_overwrites_nothing(login, incident, operator, dispatcher):
    page_version = incident.version
    # Someone else saves while the operator still has the form open.
    services.incident_update(
        incident=incident, actor=dispatcher, data={"address": "Jl. Sultan Agung 1"}, expected_version=page_version
    )

    response = login(operator).post(
        reverse("incidents:edit", args=[incident.pk]),
        _edit_data(incident, version=page_version, address="Jl. Teuku Umar 12", priority=3),
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 409, response.content
    html = response.content.decode()
    assert f"Incident {incident.reference} was changed by someone else while you were editing it" in html
    assert "nothing was saved" in html
    assert reverse("incidents:detail", args=[incident.pk]) in html  # the reload link
    incident.refresh_from_db()
    assert incident.address == "Jl. Sultan Agung 1" and incident.priority == 1
    assert incident.version == page_version + 1


def test_a_stale_edit_is_explained_in_indonesian(login, incident, operator, dispatcher):
    page_version = incident.version
    services.incident_update(incident=incident, actor=dispatcher, data={"priority": 2}, expected_version=page_version)
    response = login(operator).post(
        reverse("incidents:edit", args=[incident.pk]),
        _edit_data(incident, version=page_version, address="Jl. Lain"),
        HTTP_ACCEPT_LANGUAGE="id",
    )
    assert response.status_code == 409
    assert f"Kejadian {incident.reference} diubah oleh orang lain" in response.content.decode()


def test_form_and_service_errors_show_on_the_form(login, seeded, make_incident, operator, supervisor):
    incident = make_incident()
    client = login(operator)
    response = client.post(
        reverse("incidents:edit", args=[incident.pk]),
        _edit_data(incident, description="  ", latitude="-7.02", longitude=""),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "A description is required." in html
    assert "Give both latitude and longitude, or neither." in html
    # A service refusal (a cancelled incident cannot be edited) is a form error, not a 500.
    services.incident_cancel(incident=incident, actor=supervisor, reason="Penelepon membatalkan")
    incident.refresh_from_db()
    response = client.post(
        reverse("incidents:edit", args=[incident.pk]), _edit_data(incident, address="x"), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 409
    assert "A closed incident cannot be edited." in response.content.decode()
    # ... and the incident page offers no edit at all.
    assert reverse("incidents:edit", args=[incident.pk]) not in _page(client, incident)


def test_a_village_of_another_district_is_refused(login, seeded, incident, operator):
    response = login(operator).post(
        reverse("incidents:edit", args=[incident.pk]),
        _edit_data(incident, district=seeded.district("Tugu").pk),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    incident.refresh_from_db()
    assert incident.district == seeded.district("Candisari")


def test_masked_caller_data_is_never_written_back(incident):
    """Whoever may edit but not see the caller gets no caller fields; the stored ones stay."""
    from incidents.forms import IncidentEditForm

    form = IncidentEditForm(incident=incident, personal_data=False)
    assert "caller_number" not in form.fields and "caller_name" not in form.fields
    assert "caller_number" in IncidentEditForm(incident=incident, personal_data=True).fields


def test_agency_staff_may_not_edit(login, seeded, incident, dispatcher, agency_user):
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    client = login(agency_user)
    assert reverse("incidents:edit", args=[incident.pk]) not in _page(client, incident)
    response = client.post(
        reverse("incidents:edit", args=[incident.pk]), _edit_data(incident, address="x"), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:detail", args=[incident.pk])
    assert "You are not allowed to do this (incident.update)." in _page(client, incident)
    response = client.post(
        reverse("incidents:category", args=[incident.pk]),
        {"version": incident.version, "category": seeded.category("flood").pk},
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.address == "Jl. Teuku Umar 12" and incident.category == seeded.category("fire")


@pytest.mark.parametrize(
    ("method", "name"),
    [("get", "incidents:edit"), ("post", "incidents:edit"), ("post", "incidents:category")],
)
def test_another_agencys_staff_get_404(login, seeded, incident, dispatcher, other_agency_user, method, name):
    """OWASP API1: editing an incident of no concern to the agency is the same 404 as a missing one."""
    dispatch_services.incident_dispatch(incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher)
    client = login(other_agency_user)
    data = _edit_data(incident, address="x", category=seeded.category("flood").pk)
    response = getattr(client, method)(reverse(name, args=[incident.pk]), data)
    assert response.status_code == 404, response.content
    response = getattr(client, method)(reverse(name, args=[999999]), data)
    assert response.status_code == 404
    incident.refresh_from_db()
    assert incident.address == "Jl. Teuku Umar 12"


# ------------------------------------------------------------------------------------------------
# Changing the category
# ------------------------------------------------------------------------------------------------
def test_changing_the_category_reruns_routing_and_the_timeline_names_both(login, seeded, incident, dispatcher):
    client = login(dispatcher)
    response = client.post(
        reverse("incidents:category", args=[incident.pk]),
        {"version": incident.version, "category": seeded.category("flood").pk, "note": "Ternyata banjir."},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    html = response.content.decode()
    assert f"Category of {incident.reference} changed to Flood." in html
    incident.refresh_from_db()
    assert incident.category == seeded.category("flood")
    assert "Fire → Flood" in html
    assert "Kebakaran → Banjir" in _page(client, incident, "id")


def test_a_stale_category_change_changes_nothing(login, seeded, incident, dispatcher, operator):
    page_version = incident.version
    services.incident_verify(incident=incident, actor=operator)
    response = login(dispatcher).post(
        reverse("incidents:category", args=[incident.pk]),
        {"version": page_version, "category": seeded.category("flood").pk},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 409
    assert "was changed by someone else while you were editing it" in response.content.decode()
    incident.refresh_from_db()
    assert incident.category == seeded.category("fire")
    assert not incident.timeline.filter(kind="category_changed").exists()


def test_a_stale_category_change_is_explained_in_indonesian(login, seeded, incident, operator, dispatcher):
    page_version = incident.version
    services.incident_update(incident=incident, actor=dispatcher, data={"priority": 2}, expected_version=page_version)
    response = login(operator).post(
        reverse("incidents:category", args=[incident.pk]),
        {"version": page_version, "category": seeded.category("flood").pk},
        HTTP_ACCEPT_LANGUAGE="id",
    )
    assert response.status_code == 409
    assert f"Kejadian {incident.reference} diubah oleh orang lain" in response.content.decode()
    incident.refresh_from_db()
    assert (incident.category, incident.version) == (seeded.category("fire"), page_version + 1)
    assert not incident.timeline.filter(kind="category_changed").exists()


def test_the_same_category_is_a_form_error(login, seeded, incident, dispatcher):
    response = login(dispatcher).post(
        reverse("incidents:category", args=[incident.pk]),
        {"version": incident.version, "category": seeded.category("fire").pk},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "This is already the incident&#x27;s category." in response.content.decode()


# ------------------------------------------------------------------------------------------------
# Sharing until a time
# ------------------------------------------------------------------------------------------------
def test_a_share_with_an_expiry(login, seeded, incident, dispatcher):
    client = login(dispatcher)
    assert 'name="expires_at"' in _page(client, incident)
    until = timezone.localtime() + timedelta(hours=6)
    response = client.post(
        reverse("incidents:action", args=[incident.pk, "share"]),
        {"agency": seeded.agency("basarnas").pk, "level": "assist", "expires_at": until.strftime("%Y-%m-%dT%H:%M")},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    html = response.content.decode()
    assert "Share: done." in html
    share = IncidentShare.objects.get(incident=incident, agency=seeded.agency("basarnas"))
    assert share.expires_at == until.replace(second=0, microsecond=0)
    assert f"until {until:%d} " in html  # in the shares box and on the timeline


def test_a_share_expiry_in_the_past_is_refused(login, seeded, incident, dispatcher):
    past = timezone.localtime() - timedelta(minutes=5)
    response = login(dispatcher).post(
        reverse("incidents:action", args=[incident.pk, "share"]),
        {"agency": seeded.agency("basarnas").pk, "level": "view", "expires_at": past.strftime("%Y-%m-%dT%H:%M")},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert "The expiry must be in the future." in response.content.decode()
    assert not IncidentShare.objects.filter(incident=incident).exists()


def test_a_share_without_expiry_lasts_the_maximum(login, seeded, incident, dispatcher):
    before = timezone.now()
    login(dispatcher).post(
        reverse("incidents:action", args=[incident.pk, "share"]),
        {"agency": seeded.agency("basarnas").pk, "level": "view", "expires_at": ""},
    )
    expires = IncidentShare.objects.get(incident=incident).expires_at
    assert before + timedelta(days=30) <= expires <= timezone.now() + timedelta(days=30)


def test_a_share_longer_than_the_maximum_is_refused(login, seeded, incident, dispatcher, settings):
    settings.INCIDENT_SHARE_MAX_DAYS = 7
    late = timezone.localtime() + timedelta(days=7, hours=1)
    response = login(dispatcher).post(
        reverse("incidents:action", args=[incident.pk, "share"]),
        {"agency": seeded.agency("basarnas").pk, "level": "view", "expires_at": late.strftime("%Y-%m-%dT%H:%M")},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert "A share can last at most 7 days." in response.content.decode()
    assert not IncidentShare.objects.filter(incident=incident).exists()


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "At most 7 days from now; empty: 7 days."),
        ("id", "Paling lama 7 hari dari sekarang; kosong: 7 hari."),
    ],
)
def test_the_share_form_shows_the_maximum(login, incident, dispatcher, settings, lang, text):
    settings.INCIDENT_SHARE_MAX_DAYS = 7
    assert text in _page(login(dispatcher), incident, lang)


# ------------------------------------------------------------------------------------------------
# Timeline labels
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lang", "expected", "raw"),
    [
        (
            "en",
            [
                "Created",
                "Received",
                "Agency dispatched",
                "Requested",
                "Requested → Acknowledged",
                "Verified → Dispatched",
            ],
            ["received →", "→ dispatched", "requested →", "→ acknowledged"],
        ),
        (
            "id",
            [
                "Dibuat",
                "Diterima",
                "Instansi ditugaskan",
                "Diminta → Dikonfirmasi terima",
                "Terverifikasi → Ditugaskan",
            ],
            ["received", "→ dispatched", "requested →", "→ acknowledged"],
        ),
    ],
)
def test_the_timeline_shows_labels_not_codes(login, seeded, incident, dispatcher, agency_user, lang, expected, raw):
    services.incident_verify(incident=incident, actor=dispatcher)
    (assignment,) = dispatch_services.incident_dispatch(
        incident=incident, agencies=[seeded.agency("damkar")], actor=dispatcher
    )
    dispatch_services.assignment_acknowledge(assignment=assignment, actor=agency_user)
    html = _page(login(dispatcher), incident, lang)
    timeline = html[html.index('class="timeline"') :]
    for text in expected:
        assert text in timeline, text
    for code in raw:
        assert code not in timeline, code


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", ["SLA breach", "Breach", "On scene target breached (due", "Dispatch target breached (due"]),
        ("id", ["Pelanggaran SLA", "Pelanggaran", "Tiba di lokasi: target terlampaui (batas", "Penugasan: target"]),
    ],
)
def test_sla_events_on_the_timeline_are_in_the_readers_language(login, incident, dispatcher, lang, expected):
    sla.sla_sweep(now=incident.received_at + timedelta(hours=6))
    html = _page(login(dispatcher), incident, lang)
    timeline = html[html.index('class="timeline"') :]
    for text in expected:
        assert text in timeline, text
    assert "→ breach" not in timeline and "→ warning" not in timeline
