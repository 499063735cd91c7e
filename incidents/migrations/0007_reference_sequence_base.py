"""Reference numbers from a sequence per prefix (incidents.references), counted from a base per day.

Forward, nothing to convert: a day the table counter has already counted gets its base at its next
number, so that the sequence continues after ``last_value``. The table counter and the sequence must
not issue numbers for the same day side by side (they would hand out the same numbers, which the
unique reference refuses): restart every web worker together when this migration is deployed, not
one by one.

Backward (to the table counter), each day the sequence counted gets ``last_value`` = the highest
number its incidents hold, so that the old code continues after it.
"""

from django.db import migrations, models

LAST_ISSUED_SQL = """
UPDATE incidents_referencecounter AS rc
SET last_value = GREATEST(rc.last_value, COALESCE((
    SELECT max(substring(i.reference FROM length(rc.prefix) + 9)::bigint)
    FROM incidents_incident AS i
    WHERE i.reference LIKE rc.prefix || '-' || to_char(rc.day, 'YYMMDD') || '-%%'
), 0))
WHERE rc.sequence_base IS NOT NULL
"""


def last_issued_from_incidents(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":  # only PostgreSQL ever used the sequence
        schema_editor.execute(LAST_ISSUED_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0006_redundant_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="referencecounter",
            name="sequence_base",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(migrations.RunPython.noop, last_issued_from_incidents, elidable=True),
    ]
