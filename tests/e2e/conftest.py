"""End-to-end tests: Playwright (Python) driving Debian's Chromium against pytest-django's live server.

Playwright's own browser download does not work on these machines; ``apt-get install chromium``
provides /usr/bin/chromium (.ci/run installs it). Without it the tests are skipped, except on CI
(``CI=true``), where a missing browser is a failure. Screenshots of every step go to
``artifacts/screenshots/<language>/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The sync Playwright API runs an event loop in this thread; the test's own ORM calls are still
# plain synchronous code (Django would otherwise refuse them as "async context").
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _unavailable_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements-dev.txt)"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _unavailable_reason()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"End-to-end tests cannot run on CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def screenshots():
    """``shot(page, language, name)`` saves a full-page PNG under artifacts/screenshots/<language>/."""

    def shot(page, language: str, name: str) -> Path:
        folder = SCREENSHOTS / language
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shot
