"""Settings for the OpenHands Cloud dashboard: one file, every deploy-time value from the
environment, safe development defaults. `.env.example` documents every variable.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from dashboard.env import Env

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env.str("DASHBOARD_DATA_DIR", str(BASE_DIR / "var"))).resolve()
# The embedded database, broker and beat schedule are files in here: it must exist.
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", False)

# In debug a fixed, obviously unsafe key keeps `manage.py` usable with no set-up; anywhere else
# the key must be given, so a forgotten variable can never ship a guessable key.
SECRET_KEY = (
    env.str("SECRET_KEY", "django-insecure-development-only-key")
    if DEBUG
    else env.required("SECRET_KEY", "a long random string; `bin/dashboard` generates one")
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS")
for _origin in CSRF_TRUSTED_ORIGINS:
    if urlsplit(_origin).scheme not in {"http", "https"}:
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entry {_origin!r} must start with http:// or https://"
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "apps.core",
    "apps.accounts",
    "apps.conversations",
    "apps.sandboxes",
    "apps.sync",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.core.middleware.HtmxLoginRequiredMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.site",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------


def _database(url: str) -> dict:
    scheme = urlsplit(url).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {scheme!r} is not supported; use sqlite:///path or postgres://…"
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the web server read while the worker writes; IMMEDIATE transactions and a
        # busy timeout turn writer contention into short waits instead of "database is locked".
        config["CONN_MAX_AGE"] = 0
        config["CONN_HEALTH_CHECKS"] = False
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        # A file, not ":memory:", so that worker processes started by tests share it; one per
        # test run, so that concurrent runs never share a test database.
        config["TEST"] = {"NAME": str(DATA_DIR / f"test-dashboard-{os.getpid()}.sqlite3")}
    return config


DATABASE_URL = env.str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'dashboard.sqlite3'}")
DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker, cache, Celery -------------------------------------------------------------------

_BROKER_SCHEMES = {"sqla+sqlite", "sqla+postgresql", "redis", "rediss", "memory"}
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", f"sqla+sqlite:///{DATA_DIR / 'celery-broker.sqlite3'}"
)
if urlsplit(CELERY_BROKER_URL).scheme not in _BROKER_SCHEMES:
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL scheme {urlsplit(CELERY_BROKER_URL).scheme!r} is not supported; "
        f"use one of {', '.join(sorted(_BROKER_SCHEMES))}"
    )
BROKER_IS_REDIS = urlsplit(CELERY_BROKER_URL).scheme in {"redis", "rediss"}
DEMO_MODE = env.bool("DASHBOARD_DEMO", False)

# The longest task (a trajectory download of hundreds of MB) must finish well inside the
# visibility timeout, or Redis would hand the same message to a second worker.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", 1800, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30 if CELERY_TASK_TIME_LIMIT > 60 else None
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"visibility_timeout": CELERY_TASK_TIME_LIMIT * 2} if BROKER_IS_REDIS else {}
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True  # job state lives in our own tables, not in Celery results
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Sync (apps.sync): how often each account is mirrored, and how gently.
SYNC_INTERVAL_SECONDS = env.float("SYNC_INTERVAL_SECONDS", 60.0, minimum=5.0)
SYNC_RECONCILE_INTERVAL_SECONDS = env.float("SYNC_RECONCILE_INTERVAL_SECONDS", 3600.0, minimum=60.0)
SYNC_CURSOR_OVERLAP_SECONDS = env.float("SYNC_CURSOR_OVERLAP_SECONDS", 120.0, minimum=0.0)
SYNC_RATE_PER_MINUTE = env.float("SYNC_RATE_PER_MINUTE", 80.0, minimum=1.0)
SYNC_RATE_BURST = env.int("SYNC_RATE_BURST", 8, minimum=1)
SYNC_RATE_MAX_WAIT_SECONDS = env.float("SYNC_RATE_MAX_WAIT_SECONDS", 120.0, minimum=0.0)
SYNC_LOCK_SECONDS = env.float("SYNC_LOCK_SECONDS", 600.0, minimum=30.0)
SYNC_AUTH_PROBE_SECONDS = env.float("SYNC_AUTH_PROBE_SECONDS", 3600.0, minimum=60.0)
SYNC_AGENT_PROBE_SECONDS = env.float("SYNC_AGENT_PROBE_SECONDS", 300.0, minimum=0.0)
CELERY_BEAT_SCHEDULE = {
    "record-beat-heartbeat": {
        "task": "apps.core.tasks.heartbeat",
        "schedule": env.float("HEARTBEAT_INTERVAL_SECONDS", 30.0, minimum=1.0),
    },
    "sync-all-accounts": {
        "task": "apps.sync.tasks.sync_all_accounts",
        "schedule": SYNC_INTERVAL_SECONDS,
    },
}

REDIS_URL = env.str("REDIS_URL")
if REDIS_URL and urlsplit(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
    raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")
# The cache holds cross-process locks, so it must be shared by web, worker and beat: Redis
# when there is one, otherwise the database (works on the embedded SQLite default).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "dashboard_cache",
        }
    )
}

# --- Secrets: Cloud API keys encrypted at rest -----------------------------------------------


def _encryption_keys() -> list[str]:
    keys = env.list("DASHBOARD_ENCRYPTION_KEYS")
    if not keys:
        if not DEBUG:
            raise ImproperlyConfigured(
                "DASHBOARD_ENCRYPTION_KEYS must be set: a comma-separated list of Fernet keys "
                "(newest first) that encrypt stored Cloud API keys; `bin/dashboard` generates one"
            )
        digest = hashlib.sha256(f"encryption:{SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"DASHBOARD_ENCRYPTION_KEYS entry #{position} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes; make one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from None
    return keys


DASHBOARD_ENCRYPTION_KEYS = _encryption_keys()

# --- Archives --------------------------------------------------------------------------------

ARCHIVE_DIR = Path(env.str("ARCHIVE_DIR", str(DATA_DIR / "archives"))).resolve()

# --- Outbound calls to OpenHands -------------------------------------------------------------

OPENHANDS_DEFAULT_BASE_URL = env.str("OPENHANDS_DEFAULT_BASE_URL", "https://app.all-hands.dev")
OPENHANDS_CONNECT_TIMEOUT = env.float("OPENHANDS_CONNECT_TIMEOUT", 10.0, minimum=0.1)

# --- Auth, sessions, security ----------------------------------------------------------------

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", 60 * 60 * 12, minimum=60)
CSRF_COOKIE_HTTPONLY = True  # htmx reads the token from the page, never from the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Behind a TLS-terminating proxy (the production compose file), turn on every HTTPS protection.
HTTPS = env.bool("DASHBOARD_HTTPS", False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", True)
# The health endpoint must answer plain HTTP for load balancers and container healthchecks.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Content Security Policy: everything from our own origin; no inline scripts at all.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- Static files ----------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env.bool("STATIC_MANIFEST", not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Logging ---------------------------------------------------------------------------------

LOG_LEVEL = env.choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "apps.core.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
