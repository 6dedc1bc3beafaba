"""Probes for the health endpoint: each returns None when healthy or a short error text."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from kombu import Connection

from apps.core.logging import redact


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not healthy"
        return redact(f"{type(exc).__name__}: {exc}")
    return None


def check_broker() -> str | None:
    # A connection of its own, not the Celery app's pool: a probe must never change how the
    # web process enqueues tasks.
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            connect_timeout=3,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        ) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
            conn.default_channel  # noqa: B018 - opening the channel is the real probe
    except Exception as exc:  # kombu raises many transport-specific errors
        return redact(f"{type(exc).__name__}: {exc}")
    return None
