"""Rate limits per integration client, per staff user and per anonymous IP address.

Counters live in the default cache (Redis in production, see CACHES). Rates come from
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (env API_THROTTLE_*_RATE), read at request time so a
settings override applies at once; a client's own ``throttle_rate`` wins over the default.
A refused request is a 429 problem with Retry-After.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .authentication import ApiClientPrincipal


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class ClientRateThrottle(_SettingsRateThrottle):
    """All keys of one integration client share one budget."""

    scope = "client"

    def allow_request(self, request, view):
        principal = request.user
        if not isinstance(principal, ApiClientPrincipal):
            return True
        if principal.api_client.throttle_rate:
            self.rate = principal.api_client.throttle_rate
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.user.api_client.pk}


class StaffUserRateThrottle(_SettingsRateThrottle):
    scope = "user"

    def get_cache_key(self, request, view):
        user = request.user
        if isinstance(user, ApiClientPrincipal) or not user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}


class AnonIpRateThrottle(_SettingsRateThrottle):
    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
