"""Indexes for the queue list at a million incidents (issue #8, bench/RESULTS.md).

* ``incident_open_queue_key_idx`` replaces ``incident_open_queue_idx``: the same partial index of
  open incidents by region and priority, oldest first, now ending in ``id`` — the queue's whole
  sort key — so that keyset pagination's row comparison ``(priority, received_at, id) > (…)`` is
  an index condition and a page needs no sort.
* ``incident_open_queue_newest_idx``: the same incidents by priority, newest first — the API's
  ``?ordering=priority`` (priority, -received_at, -id), which otherwise sorted every open incident
  of the region for each page (35 ms at 1,000,000 incidents; 2 ms with it).
* ``incident_open_received_idx``: open incidents newest first, for lists filtered to open
  statuses without a region (agency users); a page reads open incidents only.

All three are partial (open incidents are about 1% of the table) and, on PostgreSQL, built
CONCURRENTLY so that a large incidents table keeps taking writes meanwhile; the new queue index
exists before the old one is dropped. The model state changes as the autodetector would write it.
"""

from django.db import migrations, models

OPEN = ["received", "verified", "dispatched", "on_scene"]
OLD_QUEUE = models.Index(
    fields=["region", "priority", "received_at"], name="incident_open_queue_idx", condition=models.Q(status__in=OPEN)
)
NEW = [
    models.Index(
        fields=["region", "priority", "received_at", "id"],
        name="incident_open_queue_key_idx",
        condition=models.Q(status__in=OPEN),
    ),
    models.Index(
        fields=["region", "priority", "-received_at", "-id"],
        name="incident_open_queue_newest_idx",
        condition=models.Q(status__in=OPEN),
    ),
    models.Index(fields=["received_at", "id"], name="incident_open_received_idx", condition=models.Q(status__in=OPEN)),
]


def _concurrently(schema_editor) -> dict:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


def forward(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    for index in NEW:
        schema_editor.add_index(Incident, index, **_concurrently(schema_editor))
    schema_editor.remove_index(Incident, OLD_QUEUE, **_concurrently(schema_editor))


def backward(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    schema_editor.add_index(Incident, OLD_QUEUE, **_concurrently(schema_editor))
    for index in NEW:
        schema_editor.remove_index(Incident, index, **_concurrently(schema_editor))


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("incidents", "0004_sla_engine")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="incident", name="incident_open_queue_idx"),
                *(migrations.AddIndex(model_name="incident", index=index) for index in NEW),
            ],
            database_operations=[migrations.RunPython(forward, backward, elidable=False)],
        )
    ]
