"""No index on the tables every report (or rollup) writes is made redundant by another (PostgreSQL).

An index whose columns (with the same operator classes) are the leading columns of another
index of the same table serves no lookup the other cannot, and still costs every INSERT an index
insertion. Django adds one for each foreign key by default; where a composite index leads with the
key, the model says ``db_index=False``.
"""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

HOT_TABLES = (
    "incidents_incident",
    "incidents_timelineevent",
    "incidents_call",
    "incidents_referencecounter",
    "dispatch_assignment",
    "api_idempotencyrecord",
    # written by every rollup refresh
    "reporting_incidentfact",
    "reporting_assignmentfact",
    "reporting_callfact",
    "reporting_calldailystat",
    "reporting_reportexport",
)

REDUNDANT = """
SELECT a.indrelid::regclass::text, a.indexrelid::regclass::text, b.indexrelid::regclass::text
FROM pg_index a
JOIN pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
WHERE a.indrelid::regclass::text = ANY(%s)
  AND NOT a.indisunique
  AND a.indpred IS NULL AND b.indpred IS NULL AND a.indexprs IS NULL AND b.indexprs IS NULL
  AND (b.indkey::text || ' ') LIKE (a.indkey::text || ' %%')
  AND (b.indclass::text || ' ') LIKE (a.indclass::text || ' %%')
  AND (a.indnkeyatts < b.indnkeyatts OR a.indexrelid > b.indexrelid)
ORDER BY 1, 2
"""


def test_no_index_of_the_intake_tables_is_covered_by_another():
    with connection.cursor() as cursor:
        cursor.execute(REDUNDANT, [list(HOT_TABLES)])
        redundant = cursor.fetchall()
    assert redundant == []


def test_the_check_finds_a_covered_index():
    with connection.cursor() as cursor:
        cursor.execute('CREATE INDEX "test_covered_idx" ON "incidents_incident" ("region_id")')
        cursor.execute(REDUNDANT, [["incidents_incident"]])
        found = {row[1] for row in cursor.fetchall()}
    assert "test_covered_idx" in found


def test_pattern_indexes_for_like_are_gone_from_the_intake_tables():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s) AND indexdef LIKE '%%pattern_ops%%'",
            [list(HOT_TABLES)],
        )
        patterns = [row[0] for row in cursor.fetchall()]
    assert patterns == ["incidents_incident_reference_1035822c_like"]  # Django's, beside the unique key
