"""The configuration version row, its sequence and the triggers that bump it (PostgreSQL)."""

from django.db import migrations, models

TABLES = (
    "incidents_region",
    "incidents_district",
    "incidents_category",
    "incidents_slapolicy",
    "dispatch_agency",
    "dispatch_routingrule",
)

FUNCTION = """
CREATE SEQUENCE core_configversion_seq;
CREATE FUNCTION core_configversion_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_configversion SET value = nextval('core_configversion_seq') WHERE id = 1;
    RETURN NULL;
END;
$$;
"""
TRIGGER = (
    "CREATE TRIGGER {table}_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION core_configversion_bump();"
)


def install(apps, schema_editor):
    ConfigVersion = apps.get_model("core", "ConfigVersion")
    ConfigVersion.objects.get_or_create(pk=1, defaults={"value": 0})
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(TRIGGER.format(table=table), params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_config_version ON {table};", params=None)
    schema_editor.execute("DROP FUNCTION IF EXISTS core_configversion_bump(); DROP SEQUENCE IF EXISTS core_configversion_seq;", params=None)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("incidents", "0004_sla_engine"),
        ("dispatch", "0005_assignment_via_share"),
    ]

    operations = [
        migrations.CreateModel(
            name="ConfigVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("value", models.BigIntegerField(default=0, verbose_name="value")),
            ],
            options={"verbose_name": "configuration version", "verbose_name_plural": "configuration versions"},
        ),
        migrations.RunPython(install, uninstall),
    ]
