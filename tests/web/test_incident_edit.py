"""Incident page: sharing until a time, the timeline's labels."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dispatch import services as dispatch_services
from dispatch.models import IncidentShare
from incidents import services, sla

pytestmark = pytest.mark.django_db


def _page(client, incident, lang="en") -> str:
    return client.get(reverse("incidents:detail", args=[incident.pk]), HTTP_ACCEPT_LANGUAGE=lang).content.decode()


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


def test_a_share_without_expiry_lasts_until_revoked(login, seeded, incident, dispatcher):
    login(dispatcher).post(
        reverse("incidents:action", args=[incident.pk, "share"]),
        {"agency": seeded.agency("basarnas").pk, "level": "view", "expires_at": ""},
    )
    assert IncidentShare.objects.get(incident=incident).expires_at is None


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
