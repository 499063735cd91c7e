from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from incidents.seed import seed_semarang


class Command(BaseCommand):
    help = "Create or update Kota Semarang's reference data (idempotent)."

    def handle(self, *args, **options):
        counts = seed_semarang()
        summary = ", ".join(f"{key}={value}" for key, value in counts.items())
        self.stdout.write(self.style.SUCCESS(_("Seed data up to date: %(summary)s") % {"summary": summary}))
