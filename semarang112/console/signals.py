"""Re-apply a user's saved console language when they log in (on any browser)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .language import SESSION_KEY


@receiver(user_logged_in, dispatch_uid="console_language_on_login")
def apply_saved_language(sender, request, user, **kwargs) -> None:
    from .models import UserPreference

    if request is None or not hasattr(request, "session"):
        return
    language = UserPreference.objects.filter(user=user).values_list("language", flat=True).first()
    if language:
        request.session[SESSION_KEY] = language
