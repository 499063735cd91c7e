"""Rate limits per integration client, per staff user and per anonymous IP address.

Counters live in the default cache (Redis in production, see CACHES). Rates come from
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (env API_THROTTLE_*_RATE), read at request time so a
settings override applies at once; a client's own ``throttle_rate`` wins over the default.
A refused request is a 429 problem with Retry-After.

The count is a sliding window approximated from two fixed windows (the current one and the one
before, weighted by how much of it still overlaps the last ``duration`` seconds), as described by
Cloudflare ("How we built rate limiting capable of scaling to millions of domains", 2017). DRF's
``SimpleRateThrottle`` keeps the timestamp of every request of the last period in one cache value
and rewrites it on each request: its cost grows with the rate (a 24,000/min national client meant
pickling 24,000 floats per request) and concurrent workers overwrite each other's lists. Here every
request costs one atomic increment and one read, in one round trip on Redis (one small Lua script,
see ``window_hit``); a refused request gives its increment back, so hammering does not extend the
block.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import NoScriptError
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from .authentication import ApiClientPrincipal

logger = logging.getLogger(__name__)
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` → (600, 60). The same grammar as DRF (the unit's first letter counts)."""
    number, period = rate.split("/")
    return int(number), PERIODS[period.strip()[0]]


def _redis_client(cache: RedisCache):
    """The redis-py client of the cache's write server, made once per cache object (per thread).

    RedisCacheClient.get_client() (Django's accessor) builds a new ``redis.Redis`` around the shared
    connection pool on every call, which costs more than the pipeline's round trip.
    """
    client = getattr(cache, "_throttle_client", None)
    if client is None:
        client = cache._throttle_client = cache._cache.get_client(write=True)
    return client


# INCR + EXPIRE of this window's counter and GET of the previous one, atomically, as one command:
# redis-py's pipeline of the same three commands cost about half again as much client CPU per
# request (measured: 93 µs against 60 µs). Sent by its SHA1; a Redis that has not seen it yet (a
# restart empties the script cache) is sent the text once. (Lua's ``false`` is Redis's nil.)
_WINDOW_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return {count, redis.call('GET', KEYS[2])}
"""
_WINDOW_HIT_SHA = hashlib.sha1(_WINDOW_HIT_SCRIPT.encode()).hexdigest()


def window_hit(key: str, window: int, ttl: int) -> tuple[int, int]:
    """Count one request in ``window``: (count of this window including it, count of the one before)."""
    cache = caches["default"]
    current, previous = f"{key}:{window}", f"{key}:{window - 1}"
    if isinstance(cache, RedisCache):
        current, previous = cache.make_and_validate_key(current), cache.make_and_validate_key(previous)
        client = _redis_client(cache)
        try:
            count, before = client.evalsha(_WINDOW_HIT_SHA, 2, current, previous, ttl)
        except NoScriptError:
            count, before = client.eval(_WINDOW_HIT_SCRIPT, 2, current, previous, ttl)
        return int(count), int(before or 0)
    # Other caches (local memory in development and tests): add() creates the counter atomically.
    if not cache.add(current, 1, ttl):
        try:
            count = cache.incr(current)
        except ValueError:  # expired between add() and incr()
            cache.add(current, 1, ttl)
            count = 1
    else:
        count = 1
    return count, int(cache.get(previous) or 0)


def window_release(key: str, window: int) -> None:
    """Give back the increment of a refused request."""
    try:
        caches["default"].decr(f"{key}:{window}")
    except ValueError:  # the window has just expired: nothing to give back
        pass


class _WindowRateThrottle(BaseThrottle):
    scope = ""
    cache_format = "throttle:%(scope)s:%(ident)s"

    def __init__(self):
        self._wait: float | None = None

    def get_rate(self, request) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        rate = self.get_rate(request)
        key = self.get_cache_key(request, view) if rate else None
        if key is None:
            return True
        try:
            limit, duration = parse_rate(rate)
        except (ValueError, KeyError, IndexError):
            # Only a value stored before ApiClient.throttle_rate was validated can get here.
            logger.error("unreadable throttle rate %r for %s; using the default", rate, key)
            limit, duration = parse_rate(api_settings.DEFAULT_THROTTLE_RATES[self.scope])
        window, elapsed = divmod(time.time(), duration)
        current, previous = window_hit(key, int(window), 2 * duration)
        overlap = 1 - elapsed / duration  # share of the previous window still inside the last period
        if previous * overlap + current <= limit:
            return True
        window_release(key, int(window))
        self._wait = self._seconds_until_allowed(limit, duration, elapsed, current - 1, previous)
        return False

    @staticmethod
    def _seconds_until_allowed(limit: int, duration: int, elapsed: float, current: int, previous: int) -> float:
        """When one more request fits: the previous window's weight must fall enough, or this window end."""
        if current + 1 > limit:  # this window alone is full
            return duration - elapsed
        # previous * (1 - t / duration) + current + 1 <= limit  →  t >= duration * (1 - (limit - current - 1) / previous)
        at = duration * (1 - (limit - current - 1) / previous)
        return max(at - elapsed, 0.0)

    def wait(self) -> float | None:
        return None if self._wait is None else max(1.0, math.ceil(round(self._wait, 6)))


class ClientRateThrottle(_WindowRateThrottle):
    """All keys of one integration client share one budget."""

    scope = "client"

    def get_rate(self, request) -> str | None:
        principal = request.user
        if isinstance(principal, ApiClientPrincipal) and principal.api_client.throttle_rate:
            return principal.api_client.throttle_rate
        return super().get_rate(request)

    def get_cache_key(self, request, view):
        principal = request.user
        if not isinstance(principal, ApiClientPrincipal):
            return None
        return self.cache_format % {"scope": self.scope, "ident": principal.api_client.pk}


class StaffUserRateThrottle(_WindowRateThrottle):
    scope = "user"

    def get_cache_key(self, request, view):
        user = request.user
        if isinstance(user, ApiClientPrincipal) or not user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}


class AnonIpRateThrottle(_WindowRateThrottle):
    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
