"""The live queue's poll in a real browser: an unchanged queue costs the server a 304, the browser
keeps showing (and ticking) its copy, and a change appears at the next poll."""

from __future__ import annotations

import re

import pytest

from dispatch.models import Role
from incidents.seed import seed_semarang
from tests.e2e.test_console_flow import _login
from tests.factories import MembershipFactory, UserFactory, create_incident

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _server_answers(monkeypatch, views) -> list[tuple[bool, int]]:
    """What the server answered each poll of a view module's screen, seen from the server (the
    browser reports a revalidated copy to the page, and to Playwright, as a 200): (the request
    revalidated a copy, 200 or 304)."""
    answers = []
    real_not_modified = views.not_modified

    def not_modified(request, etag):
        response = real_not_modified(request, etag)
        answers.append((request.headers.get("If-None-Match") is not None, 200 if response is None else 304))
        return response

    monkeypatch.setattr(views, "not_modified", not_modified)
    return answers


def test_an_unchanged_queue_is_revalidated_not_rendered(browser, live_server, settings, monkeypatch):
    from dispatch.models import Agency
    from incidents import views

    answers = _server_answers(monkeypatch, views)
    settings.QUEUE_REFRESH_SECONDS = 1
    seed_semarang()
    dispatcher = UserFactory(username="e2e-queue", first_name="Budi", last_name="")
    MembershipFactory(user=dispatcher, agency=Agency.objects.get(code="cc112"), role=Role.DISPATCHER)
    first = create_incident(actor=dispatcher)

    page = _login(browser, live_server, dispatcher, "id")
    page.goto(f"{live_server.url}/queue/")
    page.wait_for_selector(f"text={first.reference}")
    stamp = page.locator("[data-refreshed]").inner_text()
    page.wait_for_timeout(3500)

    # The browser kept the first answer and revalidated it; the server answered 304 (no rendering).
    assert answers[0] == (False, 200) and (True, 304) in answers[1:], answers
    assert first.reference in page.locator("#queue-rows").inner_text()  # the copy is still shown
    refreshed = page.locator("[data-refreshed]").inner_text()
    assert re.fullmatch(r"\d\d:\d\d:\d\d", refreshed) and refreshed != stamp  # stamped at each refresh

    second = create_incident(actor=dispatcher)
    page.wait_for_selector(f"text={second.reference}", timeout=5000)  # a change shows at the next poll
    assert (True, 200) in answers  # rendered again because it changed
    assert page.js_errors == []


def test_the_inbox_copy_a_304_hands_back_keeps_working_forms(browser, live_server, settings, monkeypatch):
    """The inbox's cached copy carries forms: after the server answered 304 and htmx swapped the
    browser's copy back in, acknowledging from it goes through (its CSRF token is still good)."""
    from dispatch import services as dispatch_services
    from dispatch import views
    from dispatch.models import Agency, Assignment

    answers = _server_answers(monkeypatch, views)
    settings.QUEUE_REFRESH_SECONDS = 1
    seed_semarang()
    damkar = Agency.objects.get(code="damkar")
    dispatcher = UserFactory(username="e2e-dispatch")
    MembershipFactory(user=dispatcher, agency=Agency.objects.get(code="cc112"), role=Role.DISPATCHER)
    staff = UserFactory(username="e2e-damkar", first_name="Sari", last_name="")
    MembershipFactory(user=staff, agency=damkar, role=Role.AGENCY_STAFF)
    incident = create_incident(actor=dispatcher)
    (assignment,) = dispatch_services.incident_dispatch(incident=incident, agencies=[damkar], actor=dispatcher)

    page = _login(browser, live_server, staff, "id")
    page.goto(f"{live_server.url}/inbox/")
    page.wait_for_selector(f"text={incident.reference}")
    page.wait_for_timeout(3500)
    assert any(status == 304 for _revalidated, status in answers), answers  # the groups on screen are the browser's revalidated copy

    page.click(f"#assignment-{assignment.pk} button[data-step='acknowledge']")
    page.wait_for_load_state("networkidle")
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ACKNOWLEDGED
    assert "/inbox/" in page.url and page.js_errors == []
