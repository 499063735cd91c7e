from django.db import models
from django.utils.translation import gettext_lazy as _


class ConfigVersion(models.Model):
    """One row whose ``value`` changes whenever a configuration table changes (see ``config_cache``).

    Maintained by PostgreSQL statement triggers on those tables (migration 0001), from a sequence:
    a value is never handed out twice, even when the transaction that took it rolls back.
    """

    value = models.BigIntegerField(_("value"), default=0)

    class Meta:
        verbose_name = _("configuration version")
        verbose_name_plural = _("configuration versions")

    def __str__(self) -> str:
        return str(self.value)
