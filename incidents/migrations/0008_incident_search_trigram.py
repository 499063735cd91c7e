"""A trigram index for the incident search (``IncidentFilter.q``: reference, address, description).

An operator looks up the reference number a caller reads over the phone, or a street. The search is
``icontains`` on three columns, which PostgreSQL can only answer by reading every incident: 0.7-1 s
per search at 1,000,000 incidents (bench/RESULTS.md). ``pg_trgm``'s GIN index answers ``LIKE
'%…%'`` from the index: 3-25 ms.

The index is on the expressions Django's ``icontains`` compares (``UPPER(column::text)``), so the
filter needs no change and stays portable. ANALYZE afterwards gives the planner statistics on those
expressions; without them it guessed that any search matches thousands of rows and walked the whole
table in date order instead (1 s for a search with no match).

PostgreSQL only (SQLite has no trigram index; its searches scan, as before). ``pg_trgm`` is a
trusted extension (PostgreSQL 13+): the database's owner may create it. The index is built
CONCURRENTLY, so a large incidents table keeps taking new incidents meanwhile (about 25 s at
1,000,000 incidents, 132 MB). GIN's default ``fastupdate`` (a pending list flushed in batches) is
kept: with it off the intake was about 12 % slower (bench/RESULTS.md); with it, the index costs the
intake up to about 5 %. Not in the model's state: Django's index classes cannot express a
PostgreSQL-only operator class on one backend and nothing on the other.
"""

from django.db import migrations

INDEX = "incident_search_trgm_idx"
CREATE = f"""
CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON incidents_incident USING gin (
    UPPER(reference::text) gin_trgm_ops,
    UPPER(address::text) gin_trgm_ops,
    UPPER(description::text) gin_trgm_ops
)
"""


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(CREATE)
    schema_editor.execute("ANALYZE incidents_incident")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("incidents", "0007_reference_sequence_base")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
