"""Rate limits: a sliding window from two fixed windows, O(1) per request, on Redis in production.

The behaviour tests run on the tests' local-memory cache and move the throttle's clock; the Redis
tests run the same requests through the real Redis script (skipped when Redis is unreachable,
failed on CI).
"""

from __future__ import annotations

import os

import pytest
from django.core.cache import caches
from django.core.exceptions import ValidationError

from semarang112.api import throttling
from semarang112.api.models import ApiClient

from ..conftest import require_redis
from .conftest import problem

LIST = "/api/v1/categories/"
REDIS_URL = os.environ.get("THROTTLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, starting 10 s into a minute window."""

    class Clock:
        now = 60 * 1_000_000 + 10.0

        def advance(self, seconds: float) -> None:
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr(throttling.time, "time", lambda: clock.now)
    return clock


@pytest.fixture
def three_per_minute(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"client": "3/min", "user": "2/min", "anon": "2/min"}}


def statuses(client, n: int) -> list[int]:
    return [client.get(LIST).status_code for _ in range(n)]


def test_the_previous_window_counts_by_its_overlap(integration, seeded, clock, three_per_minute):
    client = integration()
    assert statuses(client, 4) == [200, 200, 200, 429]

    clock.advance(60)  # next window, 10 s in: 3 × 50/60 = 2.5 still count
    assert statuses(client, 1) == [429]

    clock.advance(30)  # 40 s in: 3 × 20/60 = 1 counts, room for two
    assert statuses(client, 3) == [200, 200, 429]

    clock.advance(120)  # two windows later nothing counts: the full budget again
    assert statuses(client, 4) == [200, 200, 200, 429]


def test_refused_requests_do_not_use_the_budget(integration, seeded, clock, three_per_minute):
    client = integration()
    statuses(client, 3)
    assert statuses(client, 20) == [429] * 20

    clock.advance(100)  # 50 s into the next window: 3 × 10/60 = 0.5 of the refused window counts
    assert statuses(client, 3) == [200, 200, 429]


def test_retry_after_says_when_a_request_fits_again(integration, seeded, clock, three_per_minute):
    client = integration()
    statuses(client, 3)

    response = client.get(LIST)

    problem(response, 429, "throttled")
    assert int(response["Retry-After"]) == 50  # the window ends 50 s from now
    clock.advance(50)
    # 3 × 60/60 still counts at the very start of the next window: wait until 1/3 of it passed
    response = client.get(LIST)
    assert response.status_code == 429
    assert int(response["Retry-After"]) == 20
    clock.advance(20)
    assert client.get(LIST).status_code == 200


def test_the_cost_per_request_does_not_grow_with_the_rate(integration, seeded, clock):
    """One small counter per window, whatever the rate (DRF's throttle stored one timestamp a request)."""
    client = integration(throttle_rate="24000/min")
    statuses(client, 50)

    cache = caches["default"]
    key = f"throttle:client:{client.api_client.pk}"
    window = int(clock.now // 60)
    assert cache.get(f"{key}:{window}") == 50


@pytest.mark.django_db
@pytest.mark.parametrize("rate", ["100/min", "5/s", "2/sec", "24000/minute", "1/hour", "10/day"])
def test_valid_client_rates(rate):
    ApiClient(name="c", scopes=[], throttle_rate=rate).full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize("rate", ["abc", "100", "100/week", "0/min", "-1/min", "1.5/min", "100/ min"])
def test_a_client_rate_the_throttle_cannot_read_is_refused(rate):
    with pytest.raises(ValidationError) as exc:
        ApiClient(name="c", scopes=[], throttle_rate=rate).full_clean()
    assert "throttle_rate" in exc.value.message_dict


def test_a_bad_stored_rate_falls_back_to_the_default_instead_of_failing(integration, seeded, three_per_minute):
    client = integration()
    ApiClient.objects.filter(pk=client.api_client.pk).update(throttle_rate="lots")

    assert statuses(client, 4) == [200, 200, 200, 429]


# ------------------------------------------------------------------------------------------------
# The Redis path (production): one script call per request
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def redis_cache(settings):
    import redis

    require_redis(REDIS_URL)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    yield redis.Redis.from_url(REDIS_URL)
    redis.Redis.from_url(REDIS_URL).flushdb()


def test_on_redis_a_client_over_its_rate_gets_429_and_refusals_are_given_back(
    integration, seeded, clock, three_per_minute, redis_cache
):
    client = integration()

    assert statuses(client, 6) == [200, 200, 200, 429, 429, 429]

    cache = caches["default"]
    key = cache.make_and_validate_key(f"throttle:client:{client.api_client.pk}:{int(clock.now // 60)}")
    assert int(redis_cache.get(key)) == 3
    assert 0 < redis_cache.ttl(key) <= 120
    clock.advance(110)  # 60 s into the next window: the old one no longer counts
    assert statuses(client, 4) == [200, 200, 200, 429]


def test_on_redis_one_round_trip_per_request(integration, seeded, clock, redis_cache, monkeypatch):
    client = integration(throttle_rate="1000/min")
    client.get(LIST)
    calls = []
    import redis

    original = redis.Redis.execute_command

    def spy(self, *args, **options):
        calls.append(args[0])
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", spy)
    statuses(client, 3)

    assert calls == ["EVALSHA"] * 3


def test_on_redis_the_script_is_sent_again_after_a_restart_emptied_the_script_cache(
    integration, seeded, clock, three_per_minute, redis_cache
):
    client = integration()
    assert statuses(client, 2) == [200, 200]

    redis_cache.script_flush()  # what a Redis restart does to it

    assert statuses(client, 2) == [200, 429]
    assert redis_cache.script_exists(throttling._WINDOW_HIT_SHA) == [True]
