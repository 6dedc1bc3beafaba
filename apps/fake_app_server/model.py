"""The fake's records: users, sandboxes, conversations (made of runs) and start tasks.

A conversation's events are not stored. Each *run* (the agent working on one user message) knows
when it started, when it is planned to end and how many events it produces; event ``j`` of a run
has a fixed timestamp on that schedule and is generated on demand (see ``events.py``). An event is
visible once the fake clock has passed its timestamp, so running conversations grow, finish and
change ``updated_at`` just by time passing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apps.fake_app_server.timeutil import microseconds

SANDBOX_STATUSES = ("STARTING", "RUNNING", "PAUSED", "ERROR", "MISSING")
START_TASK_STATUSES = (
    "WORKING",
    "WAITING_FOR_SANDBOX",
    "PREPARING_REPOSITORY",
    "RUNNING_SETUP_SCRIPT",
    "SETTING_UP_GIT_HOOKS",
    "SETTING_UP_SKILLS",
    "STARTING_CONVERSATION",
    "READY",
)
TERMINAL_EXECUTION_STATUSES = ("finished", "error", "stuck")
RUN_FINAL_STATUSES = ("finished", "error", "stuck", "idle", "paused", "waiting_for_confirmation")
DEFAULT_LLM_MODEL = "litellm_proxy/claude-sonnet-4-5-20250929"
LLM_PROXY_URL = "https://llm-proxy.app.all-hands.dev"
# How the real server shows a stored secret (an LLM key, a provider token): never in clear.
MASKED_VALUE = "**********"


@dataclass(frozen=True, slots=True)
class User:
    """Whoever an API key belongs to."""

    index: int
    id: str
    email: str
    name: str
    org_id: str
    org_name: str
    role: str = "owner"


@dataclass(frozen=True, slots=True)
class Run:
    """The agent working through one user message: a fixed schedule of generated events.

    ``flavor`` names the special events this run contains (``agent_error``, ``quantum`` for an
    event kind the API does not know yet, ``hostile_path`` for a file name that must be escaped).
    """

    started_at: datetime
    planned_end: datetime
    planned_count: int
    final_status: str
    message: str
    first: bool
    flavor: frozenset[str] = frozenset()
    observation_bytes: int = 0
    cut_at: datetime | None = None
    cut_status: str = "paused"

    def __post_init__(self) -> None:
        if self.planned_count < 1:
            raise ValueError("a run has at least one event")
        if self.planned_end < self.started_at:
            raise ValueError("a run cannot end before it starts")
        if self.final_status not in RUN_FINAL_STATUSES:
            raise ValueError(f"unknown final status {self.final_status!r}")

    def event_time(self, position: int) -> datetime:
        """Return the timestamp of event ``position`` (evenly spread from start to end)."""
        return self.started_at + timedelta(microseconds=self._offset_us(position))

    def visible_count(self, now: datetime) -> int:
        """Return how many of this run's events exist at ``now``."""
        limit = now if self.cut_at is None else min(now, self.cut_at)
        elapsed = microseconds(limit - self.started_at)
        if elapsed < 0:
            return 0
        span = microseconds(self.planned_end - self.started_at)
        if self.planned_count == 1 or span == 0:
            return self.planned_count
        last = min(self.planned_count - 1, elapsed * (self.planned_count - 1) // span)
        while last + 1 < self.planned_count and self._offset_us(last + 1) <= elapsed:
            last += 1
        return last + 1

    def is_active(self, now: datetime) -> bool:
        """Return whether the agent is still working on this run at ``now``."""
        return self.cut_at is None and now < self.planned_end

    def status(self, now: datetime) -> str:
        """Return the conversation's execution status while this is its latest run."""
        if self.cut_at is not None and self.cut_at <= now:
            return self.cut_status
        if now < self.planned_end:
            return "running"
        return self.final_status

    def last_event_time(self, now: datetime) -> datetime | None:
        """Return the timestamp of the newest visible event, or ``None`` before the first."""
        count = self.visible_count(now)
        return self.event_time(count - 1) if count else None

    def cut(self, at: datetime, status: str) -> Run:
        """Return this run stopped at ``at`` with ``status`` (e.g. its sandbox was paused)."""
        return dataclasses.replace(self, cut_at=at, cut_status=status)

    def _offset_us(self, position: int) -> int:
        if self.planned_count == 1:
            return 0
        span = microseconds(self.planned_end - self.started_at)
        return span * position // (self.planned_count - 1)


# Mutable records compare by identity: the store finds and removes them in its lists.
@dataclass(slots=True, eq=False)
class Conversation:
    """An app conversation as the App Server stores it (live status is derived on read)."""

    id: str
    owner: int
    created_by_user_id: str
    sandbox_id: str
    created_at: datetime
    title: str
    runs: list[Run]
    selected_repository: str | None = None
    selected_branch: str | None = None
    git_provider: str | None = None
    trigger: str | None = "gui"
    pr_number: list[int] = field(default_factory=list)
    llm_model: str | None = DEFAULT_LLM_MODEL
    agent_kind: str = "openhands"
    tags: dict[str, str] = field(default_factory=dict)
    parent_conversation_id: str | None = None
    sub_conversation_ids: list[str] = field(default_factory=list)
    public: bool | None = None
    # The auto-title the App Server sets after the first message: (when, title).
    auto_title: tuple[datetime, str] | None = None
    touched_at: datetime | None = None
    cost_per_event: float = 0.0125

    def current_title(self, now: datetime) -> str:
        """Return the title at ``now`` (the auto-title replaces the initial one when due)."""
        if self.auto_title is not None and self.auto_title[0] <= now:
            return self.auto_title[1]
        return self.title

    def visible_event_count(self, now: datetime) -> int:
        """Return how many events the conversation has at ``now``."""
        return sum(run.visible_count(now) for run in self.runs)

    def last_activity(self, now: datetime) -> datetime:
        """Return the newest event time at ``now`` (the creation time if there is none yet)."""
        for run in reversed(self.runs):
            last = run.last_event_time(now)
            if last is not None:
                return last
        return self.created_at

    def updated_at(self, now: datetime) -> datetime:
        """Return ``updated_at``: the newest of creation, last event, title change and edits."""
        candidates = [self.created_at, self.last_activity(now)]
        if self.touched_at is not None:
            candidates.append(self.touched_at)
        if self.auto_title is not None and self.auto_title[0] <= now:
            candidates.append(self.auto_title[0])
        return max(candidates)

    def execution_status(self, now: datetime) -> str:
        """Return the agent's status at ``now``, as if the sandbox were running."""
        return self.runs[-1].status(now)

    def is_active(self, now: datetime) -> bool:
        """Return whether the agent is still producing events at ``now``."""
        return self.runs[-1].is_active(now)

    def metrics(self, now: datetime) -> dict[str, Any]:
        """Return the MetricsSnapshot the conversation has accumulated by ``now``."""
        events = self.visible_event_count(now)
        prompt_tokens = events * 2_150
        return {
            "model_name": self.llm_model or "default",
            "accumulated_cost": round(events * self.cost_per_event, 4),
            "max_budget_per_task": None,
            "accumulated_token_usage": {
                "model": self.llm_model or "",
                "prompt_tokens": prompt_tokens,
                "completion_tokens": events * 180,
                "cache_read_tokens": prompt_tokens // 2,
                "cache_write_tokens": events * 40,
                "reasoning_tokens": events * 25,
                "context_window": 200_000,
                "per_turn_token": 2_330 if events else 0,
                "response_id": "",
            },
        }


@dataclass(slots=True, eq=False)
class Sandbox:
    """A sandbox (runtime) and its lifecycle state.

    ``key_epoch`` counts pauses and resumes: the session key is derived from it, so it changes
    every time, like the Cloud's rotating keys.
    """

    id: str
    owner: int
    created_by_user_id: str
    sandbox_spec_id: str
    created_at: datetime
    status: str
    active_since: datetime
    key_epoch: int = 0
    status_detail: str | None = None
    # When a STARTING sandbox becomes RUNNING.
    ready_at: datetime | None = None

    def set_status(self, status: str, at: datetime) -> None:
        """Change the status, rotating the session key whenever the sandbox stops or starts."""
        if status not in SANDBOX_STATUSES:
            raise ValueError(f"unknown sandbox status {status!r}")
        if status != self.status:
            self.key_epoch += 1
        self.status = status
        self.ready_at = None
        if status == "RUNNING":
            self.active_since = at
        if status not in ("ERROR", "STARTING"):
            self.status_detail = None


@dataclass(slots=True, eq=False)
class StartTask:
    """The background job that starts a conversation (and maybe a sandbox)."""

    id: str
    owner: int
    created_by_user_id: str
    request: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    step: int = 0
    polls: int = 0
    status: str = "WORKING"
    detail: str | None = None
    sandbox_id: str | None = None
    app_conversation_id: str | None = None
    agent_server_url: str | None = None
    fail_detail: str | None = None

    @property
    def finished(self) -> bool:
        """Return whether the task reached READY or ERROR."""
        return self.status in ("READY", "ERROR")


@dataclass(frozen=True, slots=True)
class SandboxSpec:
    """A sandbox template (an agent-server container image)."""

    id: str
    created_at: datetime
    working_dir: str = "/workspace/project"
