from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """Infrastructure shared by the domain apps: the configuration version (``config_cache``),
    precompiled inserts (``inserts``), PostgreSQL connection set-up (``postgres``)."""

    name = "semarang112.core"
    label = "core"
    verbose_name = _("Core")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from .postgres import use_c_timestamp_loader

        connection_created.connect(use_c_timestamp_loader, dispatch_uid="core.postgres.c_timestamp_loader")
