"""Assignment.acknowledge_warn_at: the acknowledge clock's warning threshold, stored at dispatch (issue #5).

Until now the SLA sweep recomputed it at every look from the policy in force at that moment (a
policy read per incident, and a policy edit moved the warnings of assignments already running).
From now on ``incident_dispatch`` stores it with the deadline. Existing assignments get it from the
formula the sweep used, ``requested_at + (acknowledge_due_at - requested_at) × warning share``, the
share being that of the most specific active policy (agency + priority, agency, priority,
category-wide) or ``SLA_WARNING_PERCENT_DEFAULT``.

The column is nullable without a default and without an index (the sweep reads assignments per
incident): adding it rewrites nothing. The fill is one UPDATE on PostgreSQL (about a minute for
1.5 million assignments), a Python loop elsewhere (development databases); rows without an
acknowledge deadline stay NULL. The sweep still falls back to the formula for a NULL, so an
assignment written meanwhile by code that predates this field is not left without its warning.
"""

from django.conf import settings
from django.db import migrations, models

_FILL_POSTGRESQL = """
UPDATE dispatch_assignment AS a
SET acknowledge_warn_at = a.requested_at + (a.acknowledge_due_at - a.requested_at) * (
    COALESCE(
        (SELECT p.warning_percent FROM incidents_slapolicy p WHERE p.is_active AND p.category_id = i.category_id
            AND p.agency_id = a.agency_id AND p.priority = i.priority),
        (SELECT p.warning_percent FROM incidents_slapolicy p WHERE p.is_active AND p.category_id = i.category_id
            AND p.agency_id = a.agency_id AND p.priority IS NULL),
        (SELECT p.warning_percent FROM incidents_slapolicy p WHERE p.is_active AND p.category_id = i.category_id
            AND p.agency_id IS NULL AND p.priority = i.priority),
        (SELECT p.warning_percent FROM incidents_slapolicy p WHERE p.is_active AND p.category_id = i.category_id
            AND p.agency_id IS NULL AND p.priority IS NULL),
        %s
    ) / 100.0
)
FROM incidents_incident AS i
WHERE i.id = a.incident_id AND a.acknowledge_due_at IS NOT NULL AND a.acknowledge_warn_at IS NULL
"""


def fill(apps, schema_editor):
    default = settings.SLA_WARNING_PERCENT_DEFAULT
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_FILL_POSTGRESQL, params=[default])
        return
    Assignment = apps.get_model("dispatch", "Assignment")
    SlaPolicy = apps.get_model("incidents", "SlaPolicy")
    percents = {
        (policy.category_id, policy.priority, policy.agency_id): policy.warning_percent
        for policy in SlaPolicy.objects.filter(is_active=True)
    }

    def percent(category_id, priority, agency_id):
        for key in (
            (category_id, priority, agency_id),
            (category_id, None, agency_id),
            (category_id, priority, None),
            (category_id, None, None),
        ):
            if key in percents:
                return percents[key]
        return default

    queryset = Assignment.objects.filter(acknowledge_due_at__isnull=False, acknowledge_warn_at__isnull=True)
    batch = []
    for assignment in queryset.select_related("incident").order_by("pk").iterator(chunk_size=2000):
        share = percent(assignment.incident.category_id, assignment.incident.priority, assignment.agency_id)
        window = assignment.acknowledge_due_at - assignment.requested_at
        assignment.acknowledge_warn_at = assignment.requested_at + window * (share / 100)
        batch.append(assignment)
        if len(batch) >= 2000:
            Assignment.objects.bulk_update(batch, ["acknowledge_warn_at"])
            batch = []
    if batch:
        Assignment.objects.bulk_update(batch, ["acknowledge_warn_at"])


class Migration(migrations.Migration):

    dependencies = [
        ("dispatch", "0005_assignment_via_share"),
        ("incidents", "0004_sla_engine"),
    ]

    operations = [
        migrations.AddField(
            model_name="assignment",
            name="acknowledge_warn_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="acknowledge warning at"),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
