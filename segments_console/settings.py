"""Settings for Segments Console.

Every value that differs between machines is read from the environment here and
nowhere else:

- ``DEBUG`` (default off),
- ``SECRET_KEY`` (required unless ``DEBUG`` is on),
- ``DATABASE_URL`` (default: a SQLite file beside ``manage.py``, for ``make run``),
- ``ALLOWED_HOSTS`` (comma separated; default ``127.0.0.1,localhost`` with DEBUG),
- ``API_THROTTLE_RATE`` (requests per token, default ``1000/minute``).
- ``REDIS_URL`` (the shared cache; default: local memory, each process alone),
  ``CACHE_KEY_PREFIX`` (default none).
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment, or set DEBUG=1 for development."
        )
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # OpClass in index expressions (segments.indexes: the admin search's trigram indexes).
    "django.contrib.postgres",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_tasks_db",
    "segments",
]

MIDDLEWARE = [
    "segments.request_id.RequestIdMiddleware",
    "segments.middleware.RequestLogMiddleware",
    "segments.middleware.BodySizeLimitMiddleware",
    "segments.tenancy.RequestTenancyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "segments.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "segments_console.urls"

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

WSGI_APPLICATION = "segments_console.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    from segments.db_pool import check_pooled_connection

    # Django's own psycopg 3 pool; `check` revalidates a pooled connection before
    # handing it out, so the app recovers by itself after a database restart
    # (segments/db_pool.py: a round trip only when the socket says something happened).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": int(os.environ.get("DATABASE_POOL_SIZE", "20")),
        "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", "10")),
        "check": check_pooled_connection,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The sign-in limit comes first: every authenticate() stops there while an account or an
# address is blocked (segments.ratelimit).
AUTHENTICATION_BACKENDS = [
    "segments.ratelimit.SignInLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "console:login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("pt-br", _("Português (Brasil)"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "segments.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["segments.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "segments.api.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_RATES": {"api": os.environ.get("API_THROTTLE_RATE", "1000/minute")},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Segments Console API",
    "DESCRIPTION": "Midaz-compatible onboarding API for organizations, ledgers, portfolios, "
    "accounts and segments, plus segment members and history.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"AssignedByEnum": ["manual", "rule"]},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "segments.api.schema.strict_request_bodies",
        "segments.api.schema.empty_query_values_are_absent",
        "segments.api.schema.benefits_by_kind",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "segments.request_id.RequestIdLogFilter"}},
    "formatters": {
        "message_only": {"format": "%(message)s"},
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s"
        },
    },
    "handlers": {
        "request_lines": {"class": "logging.StreamHandler", "formatter": "message_only"},
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "plain",
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One JSON line per request (segments.middleware.RequestLogMiddleware).
        "segments.requests": {"handlers": ["request_lines"], "propagate": False},
    },
}

# The cache holds the API throttle, the sign-in limit and the console's one-time form
# tokens. With REDIS_URL they are one across every worker and host; without it (make run)
# each process keeps its own in local memory.
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "segments.cache.PrefixedRedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", ""),
            # Fail fast rather than hang a worker when Redis is unreachable.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Request bodies above this answer 413 (segments.middleware.BodySizeLimitMiddleware).
MAX_REQUEST_BODY_BYTES = int(os.environ.get("MAX_REQUEST_BODY_BYTES", str(2 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
# A refused body up to this size is read and discarded so the client receives the 413.
MAX_DRAINED_BODY_BYTES = int(os.environ.get("MAX_DRAINED_BODY_BYTES", str(32 * 1024 * 1024)))

# Security. Production (DEBUG off) is HTTPS-only; each switch can be turned off from the
# environment for a plain-HTTP deployment behind a trusted proxy or for benchmarks.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("TRUST_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Read replica (issues #7, #11; segments/db_router.py, docs/scaling.md): only when
# REPLICA_DATABASE_URL is set, reads go there through segments.db_router.ReplicaRouter;
# writes, transactions, requests that write and a client's reads for
# REPLICA_READ_YOUR_WRITES_SECONDS after its write stay on the primary; when the replica
# is down, reads fall back to the primary and it is tried again after REPLICA_RETRY_SECONDS.
# Persistent health-checked connections, not a pool: a pool waits its whole timeout for a
# dead server, a direct connection is refused at once (or gives up after connect_timeout).
# In a test run the alias mirrors the primary's test database.
REPLICA_READ_YOUR_WRITES_SECONDS = int(os.environ.get("REPLICA_READ_YOUR_WRITES_SECONDS", "10"))
REPLICA_RETRY_SECONDS = float(os.environ.get("REPLICA_RETRY_SECONDS", "30"))
if os.environ.get("REPLICA_DATABASE_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["REPLICA_DATABASE_URL"], conn_max_age=60, conn_health_checks=True
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["replica"].setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", int(os.environ.get("REPLICA_CONNECT_TIMEOUT", "2"))
        )
    DATABASE_ROUTERS = ["segments.db_router.ReplicaRouter"]
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware"),
        "segments.db_router.ReadYourWritesMiddleware",
    )

# Events (issue #15; segments/relay.py): every change is written to the outbox in its
# transaction; `manage.py relay_events` sends it to RabbitMQ only when EVENTS_BROKER_URL is
# set (unset, `make run` keeps them in the outbox and the feed). EVENTS_EXCHANGE is the
# durable topic exchange, EVENTS_SOURCE the CloudEvents `source` (`ce-type` is
# studio.lerian.<source>.<key>); a row failing EVENTS_MAX_ATTEMPTS publishes is dead.
EVENTS_BROKER_URL = os.environ.get("EVENTS_BROKER_URL") or None
EVENTS_EXCHANGE = os.environ.get("EVENTS_EXCHANGE", "lerian.streaming.ledger")
EVENTS_SOURCE = os.environ.get("EVENTS_SOURCE", "ledger")
EVENTS_MAX_ATTEMPTS = int(os.environ.get("EVENTS_MAX_ATTEMPTS", "10"))
EVENTS_BACKOFF_CAP_SECONDS = float(os.environ.get("EVENTS_BACKOFF_CAP_SECONDS", "300"))
EVENTS_RETENTION_DAYS = int(os.environ.get("EVENTS_RETENTION_DAYS", "7"))
# The feed holds back events younger than this (segments/api/events.py): clock skew.
EVENTS_FEED_SETTLE_MS = int(os.environ.get("EVENTS_FEED_SETTLE_MS", "500"))

# Background jobs (issue #14; segments/tasks.py): Django's tasks framework on the database
# backend, run by `manage.py worker` (django_tasks_db's worker, which first resumes the
# refreshes a killed worker left and keeps the schedule of time-dependent rules). A rule's
# refresh moves SEGMENTS_REFRESH_BATCH rows per transaction; rules that read `now` are
# re-evaluated every SEGMENTS_TIME_RULES_REFRESH_SECONDS; a rule preview that runs past
# SEGMENTS_PREVIEW_TIMEOUT_MS goes on as a job (202).
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
        "OPTIONS": {"id_function": "uuid6.uuid7"},
    }
}
SEGMENTS_REFRESH_BATCH = int(os.environ.get("SEGMENTS_REFRESH_BATCH", "20000"))
# A refresh of at least this many batches is cut into that many lanes of rows, run side by
# side on connections of their own (PostgreSQL).
SEGMENTS_REFRESH_LANES = int(os.environ.get("SEGMENTS_REFRESH_LANES", "2"))
SEGMENTS_TIME_RULES_REFRESH_SECONDS = int(
    os.environ.get("SEGMENTS_TIME_RULES_REFRESH_SECONDS", "300")
)
SEGMENTS_PREVIEW_TIMEOUT_MS = int(os.environ.get("SEGMENTS_PREVIEW_TIMEOUT_MS", "2000"))
