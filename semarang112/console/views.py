"""Console-wide views: the role's home screen and the language switch."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .language import language_save, supported
from .menu import home_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(home_for(request.user))


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Switch the language and keep it: for the user (every browser), the session and the cookie."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    if supported(language):
        language_save(request=request, response=response, language=language)
        translation.activate(language)
    return response
