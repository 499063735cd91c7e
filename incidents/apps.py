from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Incidents")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from . import webhooks

        # The timeline is the record of every change; its events feed the webhook outbox.
        post_save.connect(
            webhooks.timeline_event_saved, sender="incidents.TimelineEvent", dispatch_uid="incidents.webhooks.timeline"
        )
