"""Index incidents by (received_at, id) for agency principals' lists.

The command center's lists start from the region (``incident_region_received_idx``), but an
agency's list is "incidents assigned to us, newest first" with no region in it. Without an
index led by ``received_at`` PostgreSQL reads the whole incidents table and sorts it for every
page; with it, the visibility semi-join (``incidents.selectors._agency_visibility``) walks the
newest incidents and probes ``assignment_agency_incident_idx`` until the page is full, which
costs the same at 100,000 and at 1,000,000 incidents (bench/RESULTS.md, issues #4 and #8).

It lives here, with the assignment side of the visibility rule, and is created CONCURRENTLY on
PostgreSQL so that a large incidents table keeps taking writes while it is built. Raw SQL
without model state: the incidents app's models do not change.
"""

from django.db import migrations

NAME = "incident_received_id_idx"


def forward(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS {NAME} ON incidents_incident (received_at, id)", params=None
    )


def backward(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {NAME}", params=None)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("dispatch", "0003_shares_access"), ("incidents", "0001_initial")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
