"""Settings for semarang112.

Every setting that differs between machines is read from the environment, with one documented
default each. The defaults run the whole platform on one machine with no external servers:
SQLite in WAL mode and kombu's filesystem transport as the Celery broker.

    DJANGO_ENV            "development" (default) or "production"
    DJANGO_SECRET_KEY     required in production; a fixed development key otherwise
    DJANGO_ALLOWED_HOSTS  comma-separated; default "localhost,127.0.0.1,[::1],testserver"
    DATABASE_URL          default sqlite:///<repo>/var/db.sqlite3; e.g. postgres://postgres@127.0.0.1:5432/semarang112
    CELERY_BROKER_URL     default "filesystem://localhost/" (folder <repo>/var/celery); e.g. redis://127.0.0.1:6379/0
    TIME_ZONE             default Asia/Jakarta
    LANGUAGE_CODE         default id (Indonesian); English is available
    DJANGO_EMAIL_BACKEND  default the console backend (mail printed to the log)

See https://docs.djangoproject.com/en/5.2/ref/settings/ and
https://docs.celeryq.dev/en/stable/userguide/configuration.html
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SEMARANG112_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# ------------------------------------------------------------------------------------------------
# Mode
# ------------------------------------------------------------------------------------------------
DJANGO_ENV = os.environ.get("DJANGO_ENV", "development").strip().lower()
if DJANGO_ENV not in {"development", "production"}:
    raise RuntimeError(f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise RuntimeError("DJANGO_DEBUG must not be on in production")

if PRODUCTION:
    SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]  # no default in production: fail loudly
else:
    SECRET_KEY = os.environ.get(
        "DJANGO_SECRET_KEY", "development-only-key-do-not-use-in-production-semarang112-0123456789"
    )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

# ------------------------------------------------------------------------------------------------
# Applications
# ------------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_celery_beat",
    "incidents",
    "dispatch",
    "reporting",
    "semarang112.core",
    "semarang112.api",
    "django_htmx",
    "semarang112.console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "semarang112.core.config_cache.middleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "semarang112.console.language.UserLanguageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "semarang112.urls"
WSGI_APPLICATION = "semarang112.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]

# ------------------------------------------------------------------------------------------------
# Database — https://docs.djangoproject.com/en/5.2/ref/databases/
# ------------------------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server and the Celery worker read while one of them writes;
        # IMMEDIATE takes the write lock at BEGIN so two writers queue instead of failing.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # SQLite ignores an index's INCLUDE columns (reporting's covering index for agency reports,
    # which matter at PostgreSQL sizes only); the index itself is still created.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # psycopg's prepared statements (Django leaves them off: prepare_threshold None). With them on,
    # only the statements sent through semarang112.core.postgres.prepared_cursor() are prepared
    # (the intake's writes): Django's own cursors bind parameters on the client, never prepared.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
    # Reference numbers (incidents.references): each day's starting point is read on a second
    # connection in autocommit, once per process, prefix and day; the numbers themselves come from a
    # sequence inside the incident's INSERT. No tables live there; tests mirror default. It skips
    # Django's per-request health check: the reader reconnects once itself when the connection has
    # gone (statements safe to repeat).
    DATABASES["counters"] = {
        **DATABASES["default"],
        "CONN_HEALTH_CHECKS": False,
        "TEST": {"MIRROR": "default"},
    }
#: The alias reference numbers are taken on (None: inside the caller's transaction — SQLite, where a
#: second writer would wait for the first).
REFERENCE_COUNTER_DATABASE = "counters" if "counters" in DATABASES else None

# ------------------------------------------------------------------------------------------------
# Passwords and sessions
# ------------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "login"

# ------------------------------------------------------------------------------------------------
# Language and time — Indonesian by default, English available, Asia/Jakarta
# ------------------------------------------------------------------------------------------------
LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "id")
LANGUAGES = [("id", _("Indonesian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Jakarta")
USE_I18N = True
USE_TZ = True

# ------------------------------------------------------------------------------------------------
# Static files — served by whitenoise
# ------------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# ------------------------------------------------------------------------------------------------
# Email — console backend unless configured
# ------------------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "Command Center 112 <no-reply@112.semarangkota.go.id>")

# ------------------------------------------------------------------------------------------------
# Cache — https://docs.djangoproject.com/en/5.2/topics/cache/
# Throttle counters live here: Redis in production (shared by every web worker), process memory
# otherwise. CACHE_URL (or REDIS_URL) e.g. redis://127.0.0.1:6379/1
# ------------------------------------------------------------------------------------------------
CACHE_URL = os.environ.get("CACHE_URL", os.environ.get("REDIS_URL", ""))
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "semarang112"}}

# ------------------------------------------------------------------------------------------------
# API — REST API v1 under /api/v1/
# https://www.django-rest-framework.org/api-guide/settings/ and
# https://drf-spectacular.readthedocs.io/en/latest/settings.html
#
#   API_THROTTLE_CLIENT_RATE   requests per integration client (all its keys), default 600/min
#   API_THROTTLE_USER_RATE     requests per staff user, default 300/min
#   API_THROTTLE_ANON_RATE     unauthenticated requests per IP address, default 30/min
#   API_PAGE_SIZE / API_MAX_PAGE_SIZE          default 25 / 100
#   API_IDEMPOTENCY_TTL_HOURS  how long an Idempotency-Key is remembered, default 48 (at least 24)
#   API_IDEMPOTENCY_WAIT_MS    how long a retry waits for the first request with its key, default 5000
#   API_KEY_LAST_USED_RESOLUTION_SECONDS  last_used_at is written at most this often, default 300
# ------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The first class's challenge is the WWW-Authenticate of a 401.
        "semarang112.api.authentication.ApiKeyAuthentication",
        "semarang112.api.authentication.StaffTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "semarang112.api.throttling.ClientRateThrottle",
        "semarang112.api.throttling.StaffUserRateThrottle",
        "semarang112.api.throttling.AnonIpRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "client": os.environ.get("API_THROTTLE_CLIENT_RATE", "600/min"),
        "user": os.environ.get("API_THROTTLE_USER_RATE", "300/min"),
        "anon": os.environ.get("API_THROTTLE_ANON_RATE", "30/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "semarang112.api.negotiation.CachedContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["semarang112.api.parsers.LimitedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "semarang112.api.pagination.KeysetPagination",
    "PAGE_SIZE": int(os.environ.get("API_PAGE_SIZE", "25")),
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "semarang112.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "semarang112.api.exception_handlers.problem_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
API_MAX_PAGE_SIZE = int(os.environ.get("API_MAX_PAGE_SIZE", "100"))
API_IDEMPOTENCY_TTL_HOURS = max(24, int(os.environ.get("API_IDEMPOTENCY_TTL_HOURS", "48")))
API_IDEMPOTENCY_WAIT_MS = int(os.environ.get("API_IDEMPOTENCY_WAIT_MS", "5000"))
API_KEY_LAST_USED_RESOLUTION_SECONDS = int(os.environ.get("API_KEY_LAST_USED_RESOLUTION_SECONDS", "300"))

SPECTACULAR_SETTINGS = {
    "TITLE": "Semarang 112 API",
    "DESCRIPTION": "REST API v1 of Command Center 112 Kota Semarang. See the *Authentication*, *Idempotency* "
    "and *Errors* sections of this document.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI and ReDoc from local files: the machines have no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.models.Incident.Status",
        "AssignmentStatusEnum": "dispatch.models.Assignment.Status",
        "UnitStatusEnum": "dispatch.models.FieldUnit.Status",
        "PriorityEnum": "incidents.models.Priority",
    },
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "semarang112.api.schema.postprocess_document",
    ],
}

# ------------------------------------------------------------------------------------------------
# Celery — https://docs.celeryq.dev/en/stable/userguide/configuration.html
# The database is the source of truth; messages only say "look at row N".
# ------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost/")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith("filesystem://"):
    _celery_dir = VAR_DIR / "celery"
    for _sub in ("queue", "processed"):
        (_celery_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "store_processed": False,
        "polling_interval": 0.2,  # seconds between looks at the folder
    }
else:
    # Above the longest task, so an unacked message is not redelivered while still running.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# No lost work (SLA engine): a task that fails or times out is acked (no redelivery loop); one whose
# worker dies is redelivered (acks_late + reject_on_worker_lost); a task still running when the
# broker connection drops is cancelled and redelivered rather than run twice in parallel. Every task
# is bounded by the hard time limit, which stays well below the Redis visibility timeout above.
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", "240"))
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "300"))
# Publishing a message (e.g. from transaction.on_commit) retries a broker hiccup a few times, briefly.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.5, "interval_max": 2}
# Periodic sweeps (the database is the source of truth; a sweep message older than its interval
# is dropped instead of piling up while no worker runs).
SLA_SWEEP_INTERVAL_SECONDS = float(os.environ.get("SLA_SWEEP_INTERVAL_SECONDS", "30"))
OUTBOX_FLUSH_INTERVAL_SECONDS = float(os.environ.get("OUTBOX_FLUSH_INTERVAL_SECONDS", "30"))
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "semarang112.core.beat:DatabaseScheduler"  # settings create entries, admin edits last
CELERY_BEAT_SCHEDULE = {
    "api-idempotency-records-purge": {
        "task": "semarang112.api.tasks.idempotency_records_purge_task",
        "schedule": float(os.environ.get("API_IDEMPOTENCY_PURGE_INTERVAL_SECONDS", "3600")),
    },
    "dispatch-shares-expire": {
        "task": "dispatch.tasks.shares_expire_task",
        "schedule": float(os.environ.get("SHARES_EXPIRE_INTERVAL_SECONDS", "60")),
    },
    "incidents-auto-close-resolved": {
        "task": "incidents.tasks.incident_auto_close_resolved_task",
        "schedule": float(os.environ.get("INCIDENT_AUTO_CLOSE_INTERVAL_SECONDS", "300")),
    },
    "incidents-sla-sweep": {
        "task": "incidents.tasks.sla_sweep_task",
        "schedule": SLA_SWEEP_INTERVAL_SECONDS,
        "options": {"expire_seconds": max(1, int(SLA_SWEEP_INTERVAL_SECONDS))},
    },
    "incidents-outbox-flush": {
        "task": "incidents.tasks.outbox_flush_task",
        "schedule": OUTBOX_FLUSH_INTERVAL_SECONDS,
        "options": {"expire_seconds": max(1, int(OUTBOX_FLUSH_INTERVAL_SECONDS))},
    },
}

# ------------------------------------------------------------------------------------------------
# SLA engine — incidents/sla.py, notifications.py, webhooks.py; README "SLA engine and webhooks"
# ------------------------------------------------------------------------------------------------
# Warning threshold when no SLA policy sets one, as a share of the target (NFPA-style 80%).
SLA_WARNING_PERCENT_DEFAULT = int(os.environ.get("SLA_WARNING_PERCENT_DEFAULT", "80"))
# Received → resolved target when no SLA policy sets one; 0 turns the resolve clock off.
SLA_RESOLVE_MINUTES_DEFAULT = int(os.environ.get("SLA_RESOLVE_MINUTES_DEFAULT", "240"))
# An assignment not acknowledged by its deadline is cancelled and the next agency of the routing
# rule (not yet tried on this incident) is dispatched instead.
SLA_REROUTE_UNACKNOWLEDGED = env_bool("SLA_REROUTE_UNACKNOWLEDGED", False)
# Incidents looked at per database round trip; a sweep keeps going while its time budget lasts.
SLA_SWEEP_BATCH = int(os.environ.get("SLA_SWEEP_BATCH", "200"))
SLA_SWEEP_TIME_BUDGET_SECONDS = float(os.environ.get("SLA_SWEEP_TIME_BUDGET_SECONDS", "20"))
# /health/ is unhealthy when the last completed sweep is older than this many intervals.
HEALTH_SWEEP_MAX_INTERVALS = float(os.environ.get("HEALTH_SWEEP_MAX_INTERVALS", "3"))
# Outbound webhooks: per-attempt timeout, attempts before giving up, backoff base and ceiling
# (attempt n waits base × 2^(n-1) seconds, at most the ceiling: 30 s, 1, 2, 4, 8 min … by default).
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "5"))
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "8"))
WEBHOOK_BACKOFF_SECONDS = float(os.environ.get("WEBHOOK_BACKOFF_SECONDS", "30"))
WEBHOOK_BACKOFF_MAX_SECONDS = float(os.environ.get("WEBHOOK_BACKOFF_MAX_SECONDS", "3600"))

# ------------------------------------------------------------------------------------------------
# Domain settings
# ------------------------------------------------------------------------------------------------
# Default region (wilayah) for a single-city install; BPS code of Kota Semarang.
DEFAULT_REGION_CODE = os.environ.get("DEFAULT_REGION_CODE", "3374")
# A caller number with this many prank/silent calls within the window is flagged automatically.
PRANK_FLAG_THRESHOLD = int(os.environ.get("PRANK_FLAG_THRESHOLD", "3"))
PRANK_FLAG_WINDOW_DAYS = int(os.environ.get("PRANK_FLAG_WINDOW_DAYS", "30"))
# How long an automatic prank block lasts; the operator still sees and may take the call.
PRANK_BLOCK_MINUTES = int(os.environ.get("PRANK_BLOCK_MINUTES", "60"))
# Auditors read everything; caller names and numbers only when this is on.
AUDITOR_SEES_PERSONAL_DATA = env_bool("AUDITOR_SEES_PERSONAL_DATA", False)
# Resolved incidents are closed by the system after this many hours without a reopen.
INCIDENT_AUTO_CLOSE_HOURS = int(os.environ.get("INCIDENT_AUTO_CLOSE_HOURS", "24"))
# The longest an incident may be shared with another agency, in days (at least 1); a share without an
# expiry ends after this long. Another agency must not keep reading a caller's data open-endedly (UU 27/2022
# on personal data protection: no longer than the purpose needs). Default 30.
INCIDENT_SHARE_MAX_DAYS = max(1, int(os.environ.get("INCIDENT_SHARE_MAX_DAYS", "30")))

# ------------------------------------------------------------------------------------------------
# Console — the staff web console (server-rendered pages with htmx; vendored JS under static/vendor)
#
#   MAP_TILE_URL             tile server for the incident map; empty = markers on a plain background
#   MAP_TILE_ATTRIBUTION     attribution shown under the map tiles
#   MAP_CENTER               "lat,lon" the map opens on, default the centre of Kota Semarang
#   DUPLICATE_RADIUS_METERS  intake suggests open incidents of the same category this close, default 500
#   DUPLICATE_WINDOW_MINUTES ... received within this many minutes, default 60
#   QUEUE_REFRESH_SECONDS    how often the live queue and the inbox refresh themselves, default 10
#   QUEUE_MAX_ROWS           the live queue shows this many of the matching open incidents (by priority,
#                            oldest first) and says how many match in all, default 200
#   INBOX_MAX_ROWS           the agency inbox shows this many active assignments (by priority, oldest
#                            first) and says how many there are in all, default 300
#   PRESENCE_TTL_SECONDS     "who else has this incident open" forgets a viewer after this, default 45
# ------------------------------------------------------------------------------------------------
MAP_TILE_URL = os.environ.get("MAP_TILE_URL", "")  # e.g. https://tiles.example.go.id/{z}/{x}/{y}.png
MAP_TILE_ATTRIBUTION = os.environ.get("MAP_TILE_ATTRIBUTION", "&copy; OpenStreetMap contributors")
MAP_CENTER = tuple(float(x) for x in os.environ.get("MAP_CENTER", "-7.0051,110.4381").split(","))
DUPLICATE_RADIUS_METERS = int(os.environ.get("DUPLICATE_RADIUS_METERS", "500"))
DUPLICATE_WINDOW_MINUTES = int(os.environ.get("DUPLICATE_WINDOW_MINUTES", "60"))
QUEUE_REFRESH_SECONDS = int(os.environ.get("QUEUE_REFRESH_SECONDS", "10"))
QUEUE_MAX_ROWS = int(os.environ.get("QUEUE_MAX_ROWS", "200"))
INBOX_MAX_ROWS = int(os.environ.get("INBOX_MAX_ROWS", "300"))
PRESENCE_TTL_SECONDS = int(os.environ.get("PRESENCE_TTL_SECONDS", "45"))

# ------------------------------------------------------------------------------------------------
# Reporting — figures, report pages, /api/v1/reports/ and exports (reporting/)
# Call answering follows NENA-STA-020.1-2020 and NFPA 1225 (2022); see reporting/selectors.py.
#
#   RESPONSE_TARGET_MINUTES        the city's received → first-on-scene target, default 10
#   REPORT_MIN_CASES_FOR_RANKING   an agency with fewer measured cases is shown but not ranked, default 5
#   REPORT_SHIFT_STARTS            local hours at which operator shifts start, default "7,15,23"
#   REPORT_EXPORT_SYNC_MAX_ROWS    XLSX exports above this many rows run as a Celery task, default 50000
#   REPORT_EXPORT_DIR              where those files are written, default <var>/exports
#   REPORT_EXPORT_TTL_HOURS        how long a finished export can be downloaded, default 48
#   REPORT_USE_ROLLUPS             read figures from the reporting tables once built, default on
#   REPORT_ROLLUP_REFRESH_SECONDS  how often the reporting tables catch up with changes, default 60
#   REPORT_DB_WORK_MEM             PostgreSQL work_mem for a report's queries (percentile sorts), default 64MB
# ------------------------------------------------------------------------------------------------
RESPONSE_TARGET_MINUTES = int(os.environ.get("RESPONSE_TARGET_MINUTES", "10"))
REPORT_MIN_CASES_FOR_RANKING = int(os.environ.get("REPORT_MIN_CASES_FOR_RANKING", "5"))
REPORT_SHIFT_STARTS = sorted({int(hour) % 24 for hour in env_list("REPORT_SHIFT_STARTS", "7,15,23")})
REPORT_EXPORT_SYNC_MAX_ROWS = int(os.environ.get("REPORT_EXPORT_SYNC_MAX_ROWS", "50000"))
REPORT_EXPORT_DIR = Path(os.environ.get("REPORT_EXPORT_DIR", VAR_DIR / "exports"))
REPORT_EXPORT_TTL_HOURS = int(os.environ.get("REPORT_EXPORT_TTL_HOURS", "48"))
REPORT_USE_ROLLUPS = env_bool("REPORT_USE_ROLLUPS", True)
REPORT_ROLLUP_REFRESH_SECONDS = float(os.environ.get("REPORT_ROLLUP_REFRESH_SECONDS", "60"))
REPORT_DB_WORK_MEM = os.environ.get("REPORT_DB_WORK_MEM", "64MB")
CELERY_BEAT_SCHEDULE["reporting-rollups-refresh"] = {
    "task": "reporting.tasks.report_rollups_refresh_task",
    "schedule": REPORT_ROLLUP_REFRESH_SECONDS,
    "options": {"expire_seconds": max(1, int(REPORT_ROLLUP_REFRESH_SECONDS))},
}
CELERY_BEAT_SCHEDULE["reporting-exports-purge"] = {
    "task": "reporting.tasks.report_exports_purge_task",
    "schedule": float(os.environ.get("REPORT_EXPORT_PURGE_INTERVAL_SECONDS", "3600")),
}

# ------------------------------------------------------------------------------------------------
# Logging
# ------------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# ------------------------------------------------------------------------------------------------
# Production hardening — `DJANGO_ENV=production python manage.py check --deploy` reports nothing
# ------------------------------------------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    X_FRAME_OPTIONS = "DENY"
