"""The whole console flow in a real browser, in Indonesian and once in English.

A call-taker records a call and creates the incident; a dispatcher dispatches it to two
agencies; the fire service acknowledges, goes en route and reaches the scene; the supervisor sees
the on-scene SLA clock stopped, resolves and closes the incident.
"""

from __future__ import annotations

import re

import pytest

from dispatch.models import Role
from incidents.models import Incident
from incidents.seed import seed_semarang
from semarang112.console.models import UserPreference
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# One label per language that only shows when the page really is translated.
LABELS = {
    "id": {
        "intake": "Penerimaan panggilan",
        "create": "Simpan panggilan dan buat kejadian",
        "met": "Tercapai",
        "closed": "Ditutup",
        "updated": "Rincian diperbarui",
        "acknowledged": "Diminta → Dikonfirmasi terima",
    },
    "en": {
        "intake": "Call intake",
        "create": "Save call and create incident",
        "met": "Met",
        "closed": "Closed",
        "updated": "Details updated",
        "acknowledged": "Requested → Acknowledged",
    },
}
SEARCH = {"id": "kebakaran", "en": "fire"}


@pytest.fixture
def people(db):
    from dispatch.models import Agency

    seed_semarang()

    def member(username, agency, role, first_name):
        user = UserFactory(username=username, first_name=first_name, last_name="")
        MembershipFactory(user=user, agency=Agency.objects.get(code=agency), role=role)
        return user

    return {
        "operator": member("e2e-operator", "cc112", Role.CALL_TAKER, "Sari"),
        "dispatcher": member("e2e-dispatcher", "cc112", Role.DISPATCHER, "Budi"),
        "supervisor": member("e2e-supervisor", "cc112", Role.SUPERVISOR, "Dewi"),
        "damkar": member("e2e-damkar", "damkar", Role.AGENCY_STAFF, "Agus"),
    }


def _login(browser, live_server, user, language):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="id-ID", timezone_id="Asia/Jakarta")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("form[action='/login/'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login/" not in page.url, page.content()[:2000]
    page.js_errors = errors
    return page


@pytest.mark.parametrize("language", ["id", "en"])
def test_call_to_closed_incident(browser, live_server, people, screenshots, language):
    labels = LABELS[language]

    # --- The call-taker: one form records the call and creates the incident --------------------
    page = _login(browser, live_server, people["operator"], language)
    if language == "en":
        page.click("form.lang-switch button[value=en]")  # persisted for the user
        page.wait_for_load_state("networkidle")
        # The others chose English earlier (stored preference, applied at their login).
        for name in ("dispatcher", "supervisor", "damkar"):
            UserPreference.objects.update_or_create(user=people[name], defaults={"language": "en"})
    assert page.url.endswith("/intake/")
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator("h1").first.inner_text().startswith(labels["intake"])
    assert page.evaluate("document.activeElement.id") == "id_caller_number"  # autofocus
    page.keyboard.type("0812 3456 7890")
    page.locator("#caller-info").get_by_text("+6281234567890").wait_for()
    page.fill("#id_caller_name", "Bu Siti")
    page.fill("#category-search", SEARCH[language])
    page.wait_for_function(
        "document.getElementById('id_category').selectedOptions[0]?.dataset.search?.includes('fire')"
    )
    page.fill("#id_description", "Rumah warga terbakar, api membesar / house on fire")
    page.fill("#id_address", "Jl. Teuku Umar 12")
    page.select_option("#id_district", label="Candisari")
    page.locator("#id_village option", has_text="Jatingaleh").wait_for(state="attached")
    page.select_option("#id_village", label="Jatingaleh")
    page.fill("#id_latitude", "-7.020100")
    page.fill("#id_longitude", "110.430200")
    page.locator("#duplicates").get_by_text(re.compile(".")).first.wait_for()
    screenshots(page, language, "01-intake-filled")
    page.get_by_role("button", name=labels["create"]).click()
    page.wait_for_url(re.compile(r"/incidents/\d+/$"))
    incident = Incident.objects.get(caller_number="+6281234567890")
    assert incident.reference in page.locator("h1").inner_text()
    assert incident.calls.count() == 1
    screenshots(page, language, "02-incident-created")
    # The caller rings back with a better landmark: edit the details in place (htmx loads the form).
    page.click("#edit-link")
    page.locator("#edit-form").wait_for()
    page.fill("#edit-address", "Jl. Teuku Umar 12, depan Masjid Al-Ikhlas")
    screenshots(page, language, "02b-incident-edit")
    page.click("#edit-form button[type=submit]")
    page.wait_for_url(re.compile(rf"/incidents/{incident.pk}/$"))
    incident.refresh_from_db()
    assert incident.address == "Jl. Teuku Umar 12, depan Masjid Al-Ikhlas"
    assert labels["updated"] in page.locator("ol.timeline").inner_text()
    assert not page.js_errors, page.js_errors
    page.context.close()

    # --- The dispatcher: queue, then one action for two agencies --------------------------------
    page = _login(browser, live_server, people["dispatcher"], language)
    page.goto(f"{live_server.url}/queue/")
    page.get_by_role("link", name=incident.reference).wait_for()
    screenshots(page, language, "03-queue")
    page.goto(f"{live_server.url}/dispatch/{incident.pk}/")
    assert page.is_checked("#agency-damkar") and page.is_checked("#agency-dinkes-psc")  # routing suggestion
    screenshots(page, language, "04-dispatch-board")
    page.click("#dispatch-form button[type=submit]")
    page.wait_for_url(re.compile(rf"/incidents/{incident.pk}/$"))
    incident.refresh_from_db()
    assert incident.status == "dispatched"
    assert sorted(incident.assignments.values_list("agency__code", flat=True)) == ["damkar", "dinkes-psc"]
    screenshots(page, language, "05-dispatched")
    page.goto(f"{live_server.url}/map/")  # no tile server here: markers on a plain background
    page.locator("#map-list a", has_text=incident.reference).wait_for()
    assert page.locator("#map path.leaflet-interactive").count() >= 1
    screenshots(page, language, "05b-map")
    page.goto(f"{live_server.url}/queue/?wall=1")
    page.get_by_role("link", name=incident.reference).wait_for()
    screenshots(page, language, "05c-queue-wall-screen")
    assert not page.js_errors, page.js_errors
    page.context.close()

    # --- The fire service: acknowledge, en route, on scene from its inbox -----------------------
    page = _login(browser, live_server, people["damkar"], language)
    assert page.url.endswith("/inbox/")
    assignment = incident.assignments.get(agency__code="damkar")
    row = f"#assignment-{assignment.pk}"
    page.locator(row).wait_for()
    screenshots(page, language, "06-inbox-new")
    for step in ("acknowledge", "en_route", "on_scene"):
        page.click(f"{row} button[data-step={step}]")
        page.wait_for_load_state("networkidle")
        page.locator(f"{row} button[data-step]").first.wait_for()
    assignment.refresh_from_db()
    assert assignment.status == "on_scene"
    screenshots(page, language, "07-inbox-on-scene")
    page.context.close()

    # --- The supervisor: the on-scene clock has stopped; resolve and close ----------------------
    page = _login(browser, live_server, people["supervisor"], language)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    response_clock = page.locator("[data-clock][data-stop]").last
    assert labels["met"] in response_clock.inner_text()
    assert response_clock.get_attribute("data-state") == "met"
    assert labels["acknowledged"] in page.locator("ol.timeline").inner_text()  # labels, not codes
    screenshots(page, language, "08-supervisor-clock-stopped")
    page.click(f"form[action='/incidents/{incident.pk}/resolve/'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.click(f"form[action='/incidents/{incident.pk}/close/'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    incident.refresh_from_db()
    assert incident.status == "closed"
    assert labels["closed"] in page.locator("main").inner_text()
    screenshots(page, language, "09-closed")
    assert not page.js_errors, page.js_errors
    page.context.close()
