"""Settings: migrations in sync, production deploy checks clean, locale and time zone."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_models_and_migrations_are_in_sync():
    # exits with status 1 (SystemExit) if a model change has no migration
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_language_and_time():
    assert settings.TIME_ZONE == "Asia/Jakarta"
    assert settings.LANGUAGE_CODE == "id"
    assert dict(settings.LANGUAGES).keys() == {"id", "en"}
    assert settings.USE_TZ is True
    assert settings.USE_I18N is True


def test_domain_defaults():
    assert settings.DEFAULT_REGION_CODE == "3374"
    assert settings.INCIDENT_AUTO_CLOSE_HOURS > 0
    assert settings.PRANK_FLAG_THRESHOLD > 0


def test_celery_reads_django_settings():
    from semarang112 import celery_app

    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.timezone == settings.TIME_ZONE
    assert celery_app.conf.broker_url == settings.CELERY_BROKER_URL


def _manage(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh interpreter with ``env`` on top of a clean environment."""
    base = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "SEMARANG112_"))}
    base.pop("DATABASE_URL", None)  # the default SQLite database; nothing here touches it
    base.update({"SEMARANG112_VAR_DIR": str(tmp_path), "CELERY_BROKER_URL": "memory://"}, **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_deploy_checks_pass(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        tmp_path=tmp_path,
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="112.example.org",
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"DJANGO_ENV": "production", "DJANGO_ALLOWED_HOSTS": "112.example.org"},  # no secret key
        {"DJANGO_ENV": "production", "DJANGO_SECRET_KEY": "x" * 60, "DJANGO_DEBUG": "1"},
        {"DJANGO_ENV": "staging"},
    ],
    ids=["no-secret-key", "debug-in-production", "unknown-env"],
)
def test_unsafe_production_settings_refuse_to_start(tmp_path, env):
    result = _manage("check", tmp_path=tmp_path, **env)

    assert result.returncode != 0, result.stdout
