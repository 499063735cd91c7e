"""Integration clients and their keys are configuration too: the API reads them through the cache.

Any change of a client bumps the version. A key bumps it when it is created or deleted, and when
what authentication reads changes (revocation, digest, prefix, owner) — not when ``last_used_at``
is touched, which happens every few minutes per key and would otherwise throw every process's
cache away each time.
"""

from django.db import migrations

STATEMENT_TRIGGER = (
    "CREATE TRIGGER {name} AFTER {events} ON {table} FOR EACH STATEMENT EXECUTE FUNCTION core_configversion_bump();"
)
KEY_UPDATE_TRIGGER = (
    "CREATE TRIGGER api_apikey_config_version_update AFTER UPDATE ON api_apikey FOR EACH ROW "
    "WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.digest IS DISTINCT FROM NEW.digest "
    "OR OLD.prefix IS DISTINCT FROM NEW.prefix OR OLD.client_id IS DISTINCT FROM NEW.client_id) "
    "EXECUTE FUNCTION core_configversion_bump();"
)
TRIGGERS = (
    ("api_apiclient_config_version", "api_apiclient"),
    ("api_apikey_config_version", "api_apikey"),
    ("api_apikey_config_version_update", "api_apikey"),
)


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        STATEMENT_TRIGGER.format(
            name="api_apiclient_config_version", events="INSERT OR UPDATE OR DELETE OR TRUNCATE", table="api_apiclient"
        ),
        params=None,
    )
    schema_editor.execute(
        STATEMENT_TRIGGER.format(name="api_apikey_config_version", events="INSERT OR DELETE OR TRUNCATE", table="api_apikey"),
        params=None,
    )
    schema_editor.execute(KEY_UPDATE_TRIGGER, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table};", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_webhook_subscriptions"),
        ("api", "0002_throttle_rate_validated"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
