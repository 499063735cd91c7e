"""Webhook subscriptions are configuration too: their changes bump the configuration version."""

from django.db import migrations

TABLE = "incidents_webhooksubscription"


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE TRIGGER {TABLE}_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION core_configversion_bump();",
        params=None,
    )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_config_version ON {TABLE};", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("incidents", "0004_sla_engine"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
