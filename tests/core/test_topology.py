"""The production topology on local services: separate worker and beat processes share the
database and the broker (PostgreSQL + Redis under bin/test, SQLite + the SQLAlchemy broker on
the embedded run) and prove the pipeline works end to end."""

from __future__ import annotations

import pytest

from apps.core.models import Heartbeat
from tests.processes import celery_env, start_beat, start_worker, wait_for


@pytest.mark.django_db(transaction=True)
def test_separate_beat_and_worker_processes_run_scheduled_tasks(tmp_path):
    env = celery_env(tmp_path, HEARTBEAT_INTERVAL_SECONDS="1")
    worker = start_worker(tmp_path, env)
    beat = start_beat(tmp_path, env)
    try:
        wait_for(
            lambda: Heartbeat.objects.filter(name="pipeline").exists(),
            timeout=90,
            what="a heartbeat scheduled by beat and executed by the worker",
        )
        assert worker.process.poll() is None, worker.log_tail()
        assert beat.process.poll() is None, beat.log_tail()
        assert "Sending due task record-beat-heartbeat" in beat.log_path.read_text()
    except AssertionError as failure:
        logs = f"worker log:\n{worker.log_tail()}\nbeat log:\n{beat.log_tail()}"
        raise AssertionError(f"{failure}\n{logs}") from failure
    finally:
        beat.stop()
        worker.stop()
