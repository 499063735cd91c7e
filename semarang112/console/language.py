"""The console language: saved per user (UserPreference), mirrored in the session and cookie.

Reading it costs no query per request: the login signal copies the saved choice into the
session, and the middleware activates it from there.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

SESSION_KEY = "console_language"


def supported(language: str | None) -> bool:
    return bool(language) and language in dict(settings.LANGUAGES)


def language_save(*, request: HttpRequest, response: HttpResponse, language: str) -> None:
    """Persist ``language`` for the user (if logged in), their session and the browser cookie."""
    from .models import UserPreference

    if not supported(language):
        return
    if request.user.is_authenticated:
        UserPreference.objects.update_or_create(user=request.user, defaults={"language": language})
        request.session[SESSION_KEY] = language
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE or 365 * 24 * 3600,
        path=settings.LANGUAGE_COOKIE_PATH,
        samesite="Lax",
        secure=settings.LANGUAGE_COOKIE_SECURE,
    )


class UserLanguageMiddleware:
    """After authentication: a logged-in user's saved language wins over the browser's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        language = session.get(SESSION_KEY) if session is not None else None
        if supported(language) and getattr(request, "user", None) is not None and request.user.is_authenticated:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
