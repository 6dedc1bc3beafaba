"""Two real Celery worker processes and beat syncing two accounts against the fake App Server
(PostgreSQL + Redis under bin/test, SQLite + the SQLAlchemy broker on the embedded run)."""

from __future__ import annotations

import pytest

from apps.conversations.models import Conversation
from apps.sandboxes.models import Sandbox
from tests.processes import ManagedProcess, celery_env, start_beat, start_worker, wait_for
from tests.sync.conftest import assert_mirror_matches, make_account, upstream_state


def _mirror_converged(accounts, fake) -> bool:
    try:
        for key_index, account in enumerate(accounts):
            assert_mirror_matches(account, fake, key_index)
    except AssertionError:
        return False
    return True


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_duplicate_or_lose_a_row(frozen_fake, tmp_path):
    accounts = [make_account(frozen_fake, name=f"Fake {i}", key_index=i) for i in (0, 1)]
    env = celery_env(
        tmp_path,
        SYNC_INTERVAL_SECONDS="5",
        SYNC_RATE_PER_MINUTE="6000",
        SYNC_RATE_BURST="100",
        SYNC_AGENT_PROBE_SECONDS="0",
        HEARTBEAT_INTERVAL_SECONDS="3600",
    )
    workers: list[ManagedProcess] = []
    started: list[ManagedProcess] = []  # stopped by PID at the end, whatever happens
    try:
        for n in (1, 2):
            worker = start_worker(tmp_path, env, name=f"sync{n}")
            workers.append(worker)
            started.append(worker)
            # One at a time: kombu's SQLAlchemy transport races when two workers create its
            # queue row at the same instant (a logged IntegrityError, then a retry).
            wait_for(lambda w=worker: "ready." in w.log_path.read_text(), timeout=60,
                     what=f"worker {n} ready")  # fmt: skip
        started.append(start_beat(tmp_path, env))
        wait_for(lambda: _mirror_converged(accounts, frozen_fake), timeout=120,
                 what="both accounts mirrored by the workers")  # fmt: skip
        conversations, _ = upstream_state(frozen_fake)
        frozen_fake.advance_clock(10)
        frozen_fake.mutate("touch_conversation", conversation_id=sorted(conversations)[0],
                           title="Changed while the workers run")  # fmt: skip
        frozen_fake.mutate("add_conversations", count=3, running=False, user=1)
        wait_for(
            lambda: (
                Conversation.objects.filter(title="Changed while the workers run").exists()
                and _mirror_converged(accounts, frozen_fake)
            ),
            timeout=60,
            what="the upstream changes mirrored",
        )
        for model in (Conversation, Sandbox):
            keys = list(model.objects.values_list("account_id", "remote_id"))
            assert len(keys) == len(set(keys))
        for worker in workers:
            assert worker.process.poll() is None, worker.log_tail()
            log = worker.log_path.read_text()
            assert "apps.sync.tasks.sync_account" in log, worker.log_tail()
            assert "Traceback" not in log, worker.log_tail()
    except AssertionError:
        for process in started:
            print(f"{process.log_path.name}:\n{process.log_tail()}")
        raise
    finally:
        for process in reversed(started):
            process.stop()
