from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    """The staff web console: per-user preferences, language, presence and SLA clocks for the pages."""

    name = "semarang112.console"
    label = "console"
    verbose_name = _("Staff console")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects user_logged_in
