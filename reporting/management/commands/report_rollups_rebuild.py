"""Rebuild the reporting tables from the operational tables (first deployment, after a restore)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from reporting.rollups import rollups_rebuild, rollups_refresh


class Command(BaseCommand):
    help = "Recompute every row of the reporting tables (IncidentFact, AssignmentFact, CallFact)."

    def add_arguments(self, parser):
        parser.add_argument("--refresh", action="store_true", help="Only catch up with changes since the last run.")

    def handle(self, *args, refresh: bool = False, **options):
        started = time.monotonic()
        result = rollups_refresh() if refresh else rollups_rebuild()
        if result is None:
            self.stderr.write("The reporting tables have never been built; run without --refresh first.")
            return
        self.stdout.write(
            f"{result.incidents} incidents, {result.assignments} assignments, {result.calls} calls "
            f"in {time.monotonic() - started:.1f} s"
        )
