"""The console's view of the SLA engine's notifications (incidents.notifications).

Kept behind this small adapter so the header badge works (showing nothing) on a tree where the
notification model is not installed yet.
"""

from __future__ import annotations


def _engine():
    try:
        from incidents import notifications
    except ImportError:  # pragma: no cover - the SLA engine is not installed
        return None
    return notifications


def notifications_available() -> bool:
    return _engine() is not None


def notification_list(user, *, unread_only: bool = False, limit: int = 100) -> list:
    engine = _engine()
    if engine is None or not user.is_authenticated:
        return []
    return list(engine.notification_list_for_user(user, unread_only=unread_only)[:limit])


def unread_count(user) -> int | None:
    engine = _engine()
    if engine is None or not user.is_authenticated:
        return None
    return engine.notification_list_for_user(user, unread_only=True).count()


def notifications_mark_read(user, *, ids: list[int] | None = None) -> int:
    engine = _engine()
    if engine is None:
        return 0
    return engine.notifications_mark_read(user=user, ids=ids)
