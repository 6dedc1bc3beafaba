"""Settings come from the environment with strict parsing and safe defaults."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from dashboard.env import Env

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "dashboard" / "settings.py"
VARIABLES = [
    "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DATABASE_URL",
    "CELERY_BROKER_URL", "REDIS_URL", "DASHBOARD_ENCRYPTION_KEYS", "DASHBOARD_HTTPS",
    "DASHBOARD_DATA_DIR", "ARCHIVE_DIR", "LOG_LEVEL", "STATIC_MANIFEST", "SECRET_KEY_FILE",
]  # fmt: skip


def load_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: str) -> dict:
    """Execute settings.py afresh with exactly these variables set (others unset)."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DASHBOARD_DATA_DIR", str(tmp_path))
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


def production(**overrides: str) -> dict[str, str]:
    values = {
        "SECRET_KEY": "a-production-secret-key-that-is-long-enough-for-django-checks",
        "DASHBOARD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    values.update(overrides)
    return values


def test_it_defaults_to_debug_off_with_sqlite_in_wal_mode(monkeypatch, tmp_path):
    settings = load_settings(monkeypatch, tmp_path, **production())
    assert settings["DEBUG"] is False
    database = settings["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(tmp_path / "dashboard.sqlite3")
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
    assert settings["CELERY_BROKER_URL"].startswith("sqla+sqlite:///")
    assert settings["CACHES"]["default"]["BACKEND"].endswith("DatabaseCache")
    assert settings["ARCHIVE_DIR"] == tmp_path / "archives"


def test_it_requires_a_secret_key_outside_debug(monkeypatch, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        load_settings(
            monkeypatch, tmp_path, DASHBOARD_ENCRYPTION_KEYS=Fernet.generate_key().decode()
        )


def test_it_allows_a_missing_secret_key_in_debug(monkeypatch, tmp_path):
    settings = load_settings(monkeypatch, tmp_path, DEBUG="true")
    assert settings["SECRET_KEY"].startswith("django-insecure")
    # A derived development key still makes a valid Fernet key.
    Fernet(settings["DASHBOARD_ENCRYPTION_KEYS"][0])


def test_it_reads_the_secret_key_from_a_file(monkeypatch, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("key-from-a-mounted-secret-file\n")
    values = production(SECRET_KEY_FILE=str(secret_file))
    del values["SECRET_KEY"]
    settings = load_settings(monkeypatch, tmp_path, **values)
    assert settings["SECRET_KEY"] == "key-from-a-mounted-secret-file"


def test_it_names_an_unreadable_secret_file(monkeypatch, tmp_path):
    values = production(SECRET_KEY_FILE=str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE"):
        load_settings(monkeypatch, tmp_path, **values)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("DASHBOARD_HTTPS", "yes please", "DASHBOARD_HTTPS"),
        ("DATABASE_URL", "mysql://localhost/db", "DATABASE_URL scheme 'mysql'"),
        ("CELERY_BROKER_URL", "amqp://localhost", "CELERY_BROKER_URL scheme 'amqp'"),
        ("REDIS_URL", "http://localhost", "REDIS_URL must start with"),
        ("DASHBOARD_ENCRYPTION_KEYS", "not-a-key", "DASHBOARD_ENCRYPTION_KEYS entry #1"),
        ("CSRF_TRUSTED_ORIGINS", "dashboard.example.com", "CSRF_TRUSTED_ORIGINS entry"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is not one of"),
        ("CELERY_TASK_TIME_LIMIT", "soon", "CELERY_TASK_TIME_LIMIT='soon' is not an integer"),
        ("CELERY_TASK_TIME_LIMIT", "5", "CELERY_TASK_TIME_LIMIT=5 must be at least 10"),
    ],
)
def test_it_rejects_bad_values_naming_the_variable(monkeypatch, tmp_path, name, value, message):
    monkeypatch.delenv("CELERY_TASK_TIME_LIMIT", raising=False)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(")):
        load_settings(monkeypatch, tmp_path, **production(**{name: value}))


def test_it_rejects_the_second_of_two_keys_when_only_that_one_is_bad(monkeypatch, tmp_path):
    keys = f"{Fernet.generate_key().decode()},broken"
    with pytest.raises(ImproperlyConfigured, match="entry #2"):
        load_settings(monkeypatch, tmp_path, **production(DASHBOARD_ENCRYPTION_KEYS=keys))


def test_it_parses_postgres_redis_and_a_key_list(monkeypatch, tmp_path):
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings = load_settings(
        monkeypatch,
        tmp_path,
        **production(
            DATABASE_URL="postgres://dash:pw@db.internal:5433/dashboard",
            CELERY_BROKER_URL="redis://cache.internal:6379/0",
            REDIS_URL="redis://cache.internal:6379/1",
            DASHBOARD_ENCRYPTION_KEYS=f" {first} , {second} ",
            ALLOWED_HOSTS="dash.example.com, other.example.com",
        ),
    )
    database = settings["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["PORT"], database["NAME"]) == (
        "db.internal",
        5433,
        "dashboard",
    )
    assert (
        settings["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"]
        > (settings["CELERY_TASK_TIME_LIMIT"])
    )
    assert settings["CACHES"]["default"]["BACKEND"].endswith("RedisCache")
    assert settings["DASHBOARD_ENCRYPTION_KEYS"] == [first, second]
    assert settings["ALLOWED_HOSTS"] == ["dash.example.com", "other.example.com"]


def test_https_mode_turns_on_every_transport_protection(monkeypatch, tmp_path):
    settings = load_settings(monkeypatch, tmp_path, **production(DASHBOARD_HTTPS="true"))
    assert settings["SECURE_SSL_REDIRECT"] is True
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["CSRF_COOKIE_SECURE"] is True
    assert settings["SECURE_HSTS_SECONDS"] >= 31536000
    assert settings["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


def test_csp_allows_no_inline_script(monkeypatch, tmp_path):
    settings = load_settings(monkeypatch, tmp_path, **production())
    policy = settings["SECURE_CSP"]
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["style-src"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("1", True), ("YES", True), ("on", True), ("false", False), ("0", False),
     ("No", False), ("off", False)],
)  # fmt: skip
def test_env_booleans_accept_only_known_words(raw, expected):
    assert Env({"FLAG": raw}).bool("FLAG", default=not expected) is expected


def test_env_treats_blank_as_unset():
    env = Env({"BLANK": "   ", "LIST": " a, ,b ,"})
    assert env.str("BLANK", "default") == "default"
    assert env.bool("BLANK", True) is True
    assert env.list("LIST") == ["a", "b"]
