"""docker-compose.yml cannot run here (no Docker engine), so its topology is checked by reading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_it_runs_the_production_topology():
    assert {"web", "worker", "beat", "redis", "postgres", "migrate"} <= set(SERVICES)
    images = {SERVICES[name]["image"] for name in ("web", "worker", "beat", "migrate")}
    assert images == {"openhands-cloud-dashboard:latest"}, "one image for every Django process"
    assert "worker" in SERVICES["worker"]["command"]
    assert "beat" in SERVICES["beat"]["command"]


@pytest.mark.parametrize("name", ["web", "worker", "beat", "redis", "postgres"])
def test_every_long_running_service_has_a_healthcheck(name):
    assert SERVICES[name]["healthcheck"]["test"]


def test_web_healthcheck_calls_the_health_endpoint_with_an_allowed_host():
    probe = " ".join(SERVICES["web"]["healthcheck"]["test"])
    assert "/healthz" in probe
    assert "ALLOWED_HOSTS" in probe


def test_django_processes_get_production_settings_from_the_environment():
    env = SERVICES["web"]["environment"]
    assert env["DEBUG"] == "false"
    assert env["CELERY_BROKER_URL"].startswith("redis://redis:")
    assert env["DATABASE_URL"].startswith("postgres://")
    for secret in ("SECRET_KEY", "DASHBOARD_ENCRYPTION_KEYS", "ALLOWED_HOSTS"):
        assert re.fullmatch(rf"\$\{{{secret}:\?.+\}}", env[secret]), f"{secret} must be required"


def test_data_lives_in_named_volumes():
    assert {"pgdata", "redisdata", "archives"} <= set(COMPOSE["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    assert any(volume.startswith("archives:") for volume in SERVICES["worker"]["volumes"])


def test_django_processes_wait_for_migrations_and_healthy_services():
    for name in ("web", "worker", "beat"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    migrate_needs = SERVICES["migrate"]["depends_on"]
    assert migrate_needs["postgres"]["condition"] == "service_healthy"
    assert migrate_needs["redis"]["condition"] == "service_healthy"


def test_the_env_example_documents_every_variable_compose_needs():
    documented = (ROOT / ".env.example").read_text()
    needed = set(re.findall(r"\$\{(\w+)", (ROOT / "docker-compose.yml").read_text()))
    assert needed
    missing = sorted(name for name in needed if f"{name}=" not in documented)
    assert missing == []
