"""Conditional refreshes for the screens htmx polls every QUEUE_REFRESH_SECONDS (the live queue,
the agency inbox).

Thirty operators polling a 200-row queue every ten seconds render it three times a second, and
rendering is most of its cost; most refreshes would repeat the last answer. A view that polls
hashes what the partial shows (the rows' values, not the wall clock: the SLA clocks tick in the
browser) into an ETag, answers ``304 Not Modified`` when the browser already holds that version
(its HTTP cache revalidates the htmx request with ``If-None-Match``, and hands htmx the cached body),
and renders only when something changed.

    etag = content_etag(request, rows_fingerprint)
    return not_modified(request, etag) or with_etag(render(...), etag)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.translation import get_language

# Bump when a polled partial's template changes what it shows for the same data, so browsers
# holding the old rendering fetch the new one.
RENDERING = "1"


def content_etag(request: HttpRequest, parts: Iterable[object]) -> str:
    """A strong ETag over ``parts`` (the values the partial renders) and everything else the
    rendering depends on: the user, the language, the time zone, the query string and the CSRF
    secret (a partial's forms carry tokens of it: after a login rotates it, a copy from before
    would be refused on submit, so it must not be reused)."""
    if "CSRF_COOKIE" not in request.META:
        get_token(request)  # no cookie yet: make the secret now, the one the rendering's forms use
    digest = hashlib.blake2b(digest_size=16)
    context = (
        RENDERING,
        request.path,
        request.user.pk,
        get_language(),
        timezone.get_current_timezone_name(),
        request.META.get("CSRF_COOKIE"),
    )
    digest.update(repr(context).encode())
    digest.update(request.GET.urlencode().encode())
    for part in parts:
        digest.update(repr(part).encode())
    return f'"{digest.hexdigest()}"'


def not_modified(request: HttpRequest, etag: str) -> HttpResponse | None:
    """``304 Not Modified`` (with the ETag) when the request's ``If-None-Match`` holds ``etag``."""
    response = get_conditional_response(request, etag=etag)
    if response is not None:
        _cache_headers(response, etag)
    return response


def with_etag(response: HttpResponse, etag: str) -> HttpResponse:
    """Mark a rendered response so the browser keeps it and revalidates it on the next poll."""
    _cache_headers(response, etag)
    return response


def _cache_headers(response: HttpResponse, etag: str) -> None:
    response["ETag"] = etag
    # private: personal data, never in a shared cache; no-cache: always revalidated, never reused
    # without asking (a stale queue is worse than a slow one).
    patch_cache_control(response, private=True, no_cache=True)
