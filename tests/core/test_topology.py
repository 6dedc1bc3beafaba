"""The production topology on local services: separate worker and beat processes share the
database and the broker (PostgreSQL + Redis under bin/test, SQLite + the SQLAlchemy broker on
the embedded run) and prove the pipeline works end to end."""

from __future__ import annotations

import os
import sys

import pytest

from apps.core.models import Heartbeat
from tests.processes import ManagedProcess, database_url_for_children, wait_for


@pytest.mark.django_db(transaction=True)
def test_separate_beat_and_worker_processes_run_scheduled_tasks(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_children(),
        "HEARTBEAT_INTERVAL_SECONDS": "1",
        "DASHBOARD_DATA_DIR": str(tmp_path),
    }
    if "sqla+sqlite" in env.get("CELERY_BROKER_URL", "sqla+sqlite"):
        env["CELERY_BROKER_URL"] = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    celery = [sys.executable, "-m", "celery", "-A", "dashboard"]
    worker = ManagedProcess(
        [*celery, "worker", "--concurrency=1", "--pool=solo", "--loglevel=INFO"],
        log_path=tmp_path / "worker.log",
        env=env,
    )
    beat = ManagedProcess(
        [*celery, "beat", "--loglevel=INFO", "--schedule", str(tmp_path / "beat-schedule")],
        log_path=tmp_path / "beat.log",
        env=env,
    )
    try:
        wait_for(
            lambda: Heartbeat.objects.filter(name="pipeline").exists(),
            timeout=90,
            what="a heartbeat scheduled by beat and executed by the worker",
        )
        assert worker.process.poll() is None, worker.log_tail()
        assert beat.process.poll() is None, beat.log_tail()
        assert "Sending due task record-beat-heartbeat" in beat.log_path.read_text()
    except AssertionError:
        print("worker log:\n" + worker.log_tail(), "\nbeat log:\n" + beat.log_tail())
        raise
    finally:
        beat.stop()
        worker.stop()
