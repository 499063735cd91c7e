"""Who else has an incident open right now, kept in the cache (no table).

Each open incident page polls every ~15 s; a viewer is forgotten PRESENCE_TTL_SECONDS after
their last poll. One cache key per incident holds {user id: (name, last seen)}. Two polls at the
same instant may lose one entry until the next poll, which is harmless for this hint.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache


def _key(incident_id: int) -> str:
    return f"console:presence:incident:{incident_id}"


def presence_touch(*, incident_id: int, user) -> list[str]:
    """Record that ``user`` is looking at the incident; return the names of the others."""
    ttl = getattr(settings, "PRESENCE_TTL_SECONDS", 45)
    now = time.time()
    viewers: dict[int, tuple[str, float]] = cache.get(_key(incident_id)) or {}
    viewers = {uid: entry for uid, entry in viewers.items() if now - entry[1] < ttl}
    viewers[user.pk] = (user.get_full_name() or user.get_username(), now)
    cache.set(_key(incident_id), viewers, timeout=ttl * 2)
    return sorted(name for uid, (name, _seen) in viewers.items() if uid != user.pk)


def presence_leave(*, incident_id: int, user) -> None:
    viewers = cache.get(_key(incident_id)) or {}
    if viewers.pop(user.pk, None) is not None:
        cache.set(_key(incident_id), viewers, timeout=getattr(settings, "PRESENCE_TTL_SECONDS", 45) * 2)
