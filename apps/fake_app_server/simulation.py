"""Make time pass in the fake world, and carry out the lifecycle actions the API triggers.

Before each request the server calls :meth:`Simulation.advance` with the fake time. Conversations
finish on their own (their runs are schedules, see ``model.py``); what needs explicit state
changes happens here: STARTING sandboxes boot, RUNNING sandboxes pause after an idle period, new
conversations appear and old ones are deleted upstream at the scenario's pace, and start tasks
move through their statuses (one step per poll and per ``start_task_step_seconds`` of fake time).
Callers hold ``store.lock``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apps.fake_app_server.config import ScenarioParams
from apps.fake_app_server.data import DEFAULT_SPEC_ID, VOLUME_REPOSITORIES, VOLUME_TOPICS
from apps.fake_app_server.events import FIRST_RUN_PREFIX
from apps.fake_app_server.ids import normalize_uuid
from apps.fake_app_server.model import (
    DEFAULT_LLM_MODEL,
    START_TASK_STATUSES,
    Conversation,
    Run,
    Sandbox,
    StartTask,
)
from apps.fake_app_server.serializers import runtime_url
from apps.fake_app_server.store import Store

SANDBOX_BOOT = timedelta(seconds=3)
MAX_RUNNING_SANDBOXES = 10
# A clock jump of a year must not create a hundred thousand conversations.
MAX_CATCH_UP = 50
AUTO_TITLE_DELAY = timedelta(seconds=3)
AUTO_TITLE_LENGTH = 50
NEW_RUN_EVENTS = 24
NEW_RUN_DURATION = timedelta(minutes=2)
FOLLOW_UP_EVENTS = 12
FOLLOW_UP_DURATION = timedelta(minutes=1)
READY_STEP = START_TASK_STATUSES.index("READY")
SPAWN_VERBS = ("Fix", "Document", "Add tests for", "Speed up", "Clean up")


class StartFailure(Exception):
    """A start task cannot go on; the message becomes its ``detail``."""


class Simulation:
    """Time-driven changes and lifecycle actions over one :class:`Store`."""

    def __init__(self, store: Store, params: ScenarioParams) -> None:
        self.store = store
        self.rng = random.Random(f"{store.seed}:simulation")
        self.idle_after = timedelta(seconds=params.sandbox_idle_pause_after)
        self.task_step = params.start_task_step_seconds
        self._spawn_every = params.pace("new_conversation_every")
        self._delete_every = params.pace("delete_conversation_every")
        self._next_spawn = store.start + timedelta(seconds=self._spawn_every)
        self._next_delete = store.start + timedelta(seconds=self._delete_every)
        self._spawned = 0
        # Details for the next start tasks that must fail (set through the control API).
        self.failing_starts: list[str] = []

    def advance(self, now: datetime) -> None:
        """Apply every change due up to ``now``."""
        # Start tasks run in the background upstream: they progress even if nobody polls.
        for task in list(self.store.start_tasks.values()):
            self.progress_start_task(task, now, polled=False)
        self._boot_sandboxes(now)
        self._pause_idle_sandboxes(now)
        if self._spawn_every:
            self._next_spawn = self._repeat(self._next_spawn, self._spawn_every, now, self._spawn)
        if self._delete_every:
            self._next_delete = self._repeat(
                self._next_delete, self._delete_every, now, self._delete_one
            )

    # -- time-driven ---------------------------------------------------------------------------

    def _repeat(
        self, due: datetime, every: float, now: datetime, action: Callable[[datetime], None]
    ) -> datetime:
        interval = timedelta(seconds=every)
        missed = math.floor((now - due) / interval) + 1 if due <= now else 0
        if missed > MAX_CATCH_UP:
            due += interval * (missed - MAX_CATCH_UP)
        while due <= now:
            action(due)
            due += interval
        return due

    def _boot_sandboxes(self, now: datetime) -> None:
        for sandbox in list(self.store.sandboxes.values()):
            if sandbox.status == "STARTING" and sandbox.ready_at and sandbox.ready_at <= now:
                sandbox.set_status("RUNNING", sandbox.ready_at)

    def _pause_idle_sandboxes(self, now: datetime) -> None:
        for sandbox in list(self.store.sandboxes.values()):
            if sandbox.status != "RUNNING":
                continue
            conversations = self.store.conversations_in_sandbox(sandbox.id)
            if any(conversation.is_active(now) for conversation in conversations):
                continue
            last_activity = max(
                [sandbox.active_since, *(item.last_activity(now) for item in conversations)]
            )
            if last_activity + self.idle_after <= now:
                sandbox.set_status("PAUSED", last_activity + self.idle_after)

    def _spawn(self, at: datetime) -> None:
        owner = self._spawned % len(self.store.users)
        self._spawned += 1
        topic = self.rng.choice(VOLUME_TOPICS)
        message = f"{self.rng.choice(SPAWN_VERBS)} {topic}."
        sandbox = self.sandbox_for_new_work(owner, at)
        conversation = self.new_conversation(
            owner=owner,
            sandbox=sandbox,
            at=at,
            request={"selected_repository": self.rng.choice(VOLUME_REPOSITORIES)},
            message=message,
            run_agent=True,
        )
        # Spawned conversations arrive with their auto-title already set.
        conversation.title = message.rstrip(".")
        conversation.auto_title = None

    def sandbox_for_new_work(self, owner: int, at: datetime) -> Sandbox:
        """Return the owner's newest RUNNING sandbox, or a new running one."""
        running = [
            sandbox for sandbox in self.store.sandboxes_of(owner) if sandbox.status == "RUNNING"
        ]
        if running:
            return running[0]
        sandbox = self.create_sandbox(owner, DEFAULT_SPEC_ID, at)
        sandbox.set_status("RUNNING", at)
        return sandbox

    def _delete_one(self, at: datetime) -> None:
        candidates = [
            conversation
            for conversation in self.store.conversations.values()
            if not conversation.is_active(at) and conversation.parent_conversation_id is None
        ]
        if candidates:
            candidates.sort(key=lambda conversation: conversation.id)
            self.store.remove_conversation(self.rng.choice(candidates))

    # -- sandbox lifecycle ---------------------------------------------------------------------

    def create_sandbox(self, owner: int, spec_id: str, now: datetime) -> Sandbox:
        """Create a STARTING sandbox that boots after a few fake seconds."""
        self._make_room(owner, now)
        sandbox = Sandbox(
            id=self.store.new_sandbox_id(),
            owner=owner,
            created_by_user_id=self.store.users[owner].id,
            sandbox_spec_id=spec_id,
            created_at=now,
            status="STARTING",
            active_since=now,
            ready_at=now + SANDBOX_BOOT,
        )
        self.store.add_sandbox(sandbox)
        return sandbox

    def pause_sandbox(self, sandbox: Sandbox, now: datetime) -> None:
        """Pause a sandbox; conversations still working stop where they are."""
        for conversation in self.store.conversations_in_sandbox(sandbox.id):
            if conversation.is_active(now):
                conversation.runs[-1] = conversation.runs[-1].cut(now, "paused")
        if sandbox.status != "PAUSED":
            sandbox.set_status("PAUSED", now)

    def resume_sandbox(self, sandbox: Sandbox, now: datetime) -> None:
        """Resume a sandbox: STARTING now, RUNNING (with a new session key) shortly after."""
        if sandbox.status in ("RUNNING", "STARTING"):
            return
        self._make_room(sandbox.owner, now)
        sandbox.set_status("STARTING", now)
        sandbox.ready_at = now + SANDBOX_BOOT

    def _make_room(self, owner: int, now: datetime) -> None:
        """Pause the owner's oldest sandboxes so that one more may run (Cloud's limit)."""
        active = [
            sandbox
            for sandbox in self.store.sandboxes_of(owner)
            if sandbox.status in ("RUNNING", "STARTING")
        ]
        active.sort(key=lambda sandbox: sandbox.active_since)
        while len(active) >= MAX_RUNNING_SANDBOXES:
            self.pause_sandbox(active.pop(0), now)

    # -- conversations -------------------------------------------------------------------------

    def new_conversation(
        self,
        *,
        owner: int,
        sandbox: Sandbox,
        at: datetime,
        request: dict[str, Any],
        message: str | None,
        run_agent: bool,
        conversation_id: str | None = None,
    ) -> Conversation:
        """Create a conversation the way a READY start task does, and index it."""
        conversation_id = conversation_id or self.store.new_conversation_id()
        repository = request.get("selected_repository")
        branch = request.get("selected_branch") or ("main" if repository else None)
        conversation = Conversation(
            id=conversation_id,
            owner=owner,
            created_by_user_id=self.store.users[owner].id,
            sandbox_id=sandbox.id,
            created_at=at,
            title=f"Conversation {conversation_id[:5]}",
            runs=[self._first_run(at, message, run_agent)],
            selected_repository=repository,
            selected_branch=branch,
            git_provider=request.get("git_provider") or ("github" if repository else None),
            trigger=request.get("trigger") or "openhands_api",
            pr_number=list(request.get("pr_number") or []),
            llm_model=request.get("llm_model") or DEFAULT_LLM_MODEL,
            public=request.get("public"),
            tags={"repo_name": repository} if repository else {},
        )
        if message:
            first_line = message.strip().splitlines()[0] if message.strip() else message
            conversation.auto_title = (at + AUTO_TITLE_DELAY, first_line[:AUTO_TITLE_LENGTH])
        self.store.add_conversation(conversation)
        return conversation

    @staticmethod
    def _first_run(at: datetime, message: str | None, run_agent: bool) -> Run:
        if not run_agent:
            # Only the state snapshot, the system prompt and the message: the agent waits.
            return Run(
                started_at=at,
                planned_end=at,
                planned_count=FIRST_RUN_PREFIX.index("user_message") + 1,
                final_status="idle",
                message=message or "",
                first=True,
            )
        return Run(
            started_at=at,
            planned_end=at + NEW_RUN_DURATION,
            planned_count=NEW_RUN_EVENTS,
            final_status="finished",
            message=message or "(no message)",
            first=True,
        )

    def send_message(
        self, conversation: Conversation, text: str, run_agent: bool, now: datetime
    ) -> None:
        """Add a user message (and, with ``run_agent``, the agent's work on it)."""
        current = conversation.runs[-1]
        if current.is_active(now):
            conversation.runs[-1] = current.cut(now, "paused")
        # Visible at once: the message is the first event of the new run.
        start = max(now, conversation.last_activity(now) + timedelta(microseconds=1))
        if run_agent:
            run = Run(
                started_at=start,
                planned_end=start + FOLLOW_UP_DURATION,
                planned_count=FOLLOW_UP_EVENTS,
                final_status="finished",
                message=text,
                first=False,
            )
        else:
            run = Run(
                started_at=start,
                planned_end=start,
                planned_count=1,
                final_status="idle",
                message=text,
                first=False,
            )
        conversation.runs.append(run)

    # -- start tasks ---------------------------------------------------------------------------

    def create_start_task(self, owner: int, request: dict[str, Any], now: datetime) -> StartTask:
        """Register a start task in WORKING; it progresses on polls and with time."""
        task = StartTask(
            id=self.store.new_conversation_id(),
            owner=owner,
            created_by_user_id=self.store.users[owner].id,
            request=request,
            created_at=now,
            updated_at=now,
        )
        if self.failing_starts:
            task.fail_detail = self.failing_starts.pop(0)
        self.store.start_tasks[task.id] = task
        return task

    def progress_start_task(self, task: StartTask, now: datetime, *, polled: bool) -> None:
        """Move a task forward: one step per poll and per ``start_task_step_seconds``."""
        if task.finished:
            return
        if polled:
            task.polls += 1
        elapsed_steps = int((now - task.created_at).total_seconds() // self.task_step)
        target = min(READY_STEP, task.polls + elapsed_steps)
        while task.step < target and not task.finished:
            self.step_start_task(task, now)

    def step_start_task(self, task: StartTask, now: datetime) -> None:
        """Move a task exactly one status forward (or to ERROR)."""
        next_status = START_TASK_STATUSES[task.step + 1]
        try:
            if next_status == "WAITING_FOR_SANDBOX":
                self._assign_sandbox(task, now)
            elif next_status == "STARTING_CONVERSATION":
                self._boot_task_sandbox(task, now)
            elif next_status == "READY":
                self._create_task_conversation(task, now)
        except StartFailure as failure:
            task.status = "ERROR"
            task.detail = str(failure)
            task.updated_at = now
            return
        task.step += 1
        task.status = next_status
        task.updated_at = now

    def _assign_sandbox(self, task: StartTask, now: datetime) -> None:
        if task.fail_detail:
            raise StartFailure(task.fail_detail)
        request = task.request
        parent_id = request.get("parent_conversation_id")
        if parent_id:
            parent = self.store.conversation_for(task.owner, parent_id)
            if parent is None:
                raise StartFailure(f"Parent conversation {parent_id} not found")
            sandbox = self.store.sandboxes.get(parent.sandbox_id)
            if sandbox is None:
                raise StartFailure(f"The parent conversation's sandbox {parent.sandbox_id} is gone")
        elif request.get("sandbox_id"):
            sandbox = self.store.sandbox_for(task.owner, request["sandbox_id"])
            if sandbox is None or sandbox.status == "MISSING":
                raise StartFailure(f"Sandbox {request['sandbox_id']} not found")
        else:
            sandbox = self.create_sandbox(task.owner, DEFAULT_SPEC_ID, now)
        self.resume_sandbox(sandbox, now)
        task.sandbox_id = sandbox.id

    def _boot_task_sandbox(self, task: StartTask, now: datetime) -> None:
        sandbox = self.store.sandboxes.get(task.sandbox_id or "")
        if sandbox is None:
            raise StartFailure("The sandbox disappeared while the conversation was starting")
        if sandbox.status != "RUNNING":
            sandbox.set_status("RUNNING", now)
        task.agent_server_url = runtime_url(self.store.base_url, sandbox.id)

    def _create_task_conversation(self, task: StartTask, now: datetime) -> None:
        sandbox = self.store.sandboxes.get(task.sandbox_id or "")
        if sandbox is None:
            raise StartFailure("The sandbox disappeared while the conversation was starting")
        request = dict(task.request)
        parent = None
        if request.get("parent_conversation_id"):
            parent = self.store.conversation_for(task.owner, request["parent_conversation_id"])
            if parent is not None:
                # A sub-conversation inherits repository, branch, provider and model.
                for name in ("selected_repository", "selected_branch", "git_provider", "llm_model"):
                    request[name] = request.get(name) or getattr(parent, name)
        initial = request.get("initial_message") or {}
        conversation_id = normalize_uuid(request.get("conversation_id") or "")
        if conversation_id and conversation_id in self.store.conversations:
            raise StartFailure(f"Conversation {conversation_id} already exists")
        conversation = self.new_conversation(
            owner=task.owner,
            sandbox=sandbox,
            at=now,
            request=request,
            message=_message_text(initial.get("content") or []) or None,
            run_agent=bool(initial.get("run", False)) and bool(initial),
            conversation_id=conversation_id,
        )
        if parent is not None:
            conversation.parent_conversation_id = parent.id
            parent.sub_conversation_ids.append(conversation.id)
        task.app_conversation_id = conversation.id


def _message_text(content: list[Any]) -> str:
    """Return the text of a message's TextContent blocks."""
    return "\n".join(
        block.get("text", "")
        for block in content
        if isinstance(block, dict) and block.get("type", "text") == "text"
    )
