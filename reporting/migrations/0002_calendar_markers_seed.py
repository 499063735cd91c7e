"""Ramadan and Idul Fitri (Lebaran) periods the charts mark; correct estimates in the admin.

Dates follow the Indonesian government's decisions (SKB libur nasional / sidang isbat); the 2026
dates were estimates when this was written.
"""

from datetime import date

from django.db import migrations

MARKERS = [
    ("ramadan", "Ramadan 1445 H", "Ramadan 1445 AH", date(2024, 3, 12), date(2024, 4, 9), False),
    ("lebaran", "Idul Fitri 1445 H", "Eid al-Fitr 1445 AH", date(2024, 4, 10), date(2024, 4, 11), False),
    ("ramadan", "Ramadan 1446 H", "Ramadan 1446 AH", date(2025, 3, 1), date(2025, 3, 30), False),
    ("lebaran", "Idul Fitri 1446 H", "Eid al-Fitr 1446 AH", date(2025, 3, 31), date(2025, 4, 1), False),
    ("ramadan", "Ramadan 1447 H", "Ramadan 1447 AH", date(2026, 2, 18), date(2026, 3, 19), True),
    ("lebaran", "Idul Fitri 1447 H", "Eid al-Fitr 1447 AH", date(2026, 3, 20), date(2026, 3, 21), True),
]


def seed(apps, schema_editor):
    CalendarMarker = apps.get_model("reporting", "CalendarMarker")
    for kind, name_id, name_en, starts_on, ends_on, is_estimate in MARKERS:
        CalendarMarker.objects.update_or_create(
            kind=kind,
            starts_on=starts_on,
            defaults={"name_id": name_id, "name_en": name_en, "ends_on": ends_on, "is_estimate": is_estimate},
        )


class Migration(migrations.Migration):
    dependencies = [("reporting", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
