"""Hold the fake's world with the indexes the API needs, and answer queries over it.

The store is shared by the server's request threads: callers hold ``store.lock`` around every
read-modify sequence. State transitions that involve time (pausing, starting, progressing start
tasks) live in ``simulation.py``; this module only keeps records consistent.
"""

from __future__ import annotations

import bisect
import functools
import random
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from apps.fake_app_server.config import ScenarioParams
from apps.fake_app_server.data import World, world_seed
from apps.fake_app_server.events import EventTimeline
from apps.fake_app_server.ids import base62_id, hex_id, normalize_uuid
from apps.fake_app_server.model import Conversation, Sandbox, SandboxSpec, StartTask, User


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    """The app-conversation search/count filters."""

    title_contains: str | None = None
    created_at_gte: datetime | None = None
    created_at_lt: datetime | None = None
    updated_at_gte: datetime | None = None
    updated_at_lt: datetime | None = None
    sandbox_id: str | None = None
    include_sub_conversations: bool = True

    def matches(self, conversation: Conversation, now: datetime) -> bool:
        """Return whether ``conversation`` passes every filter at ``now``."""
        if not self.include_sub_conversations and conversation.parent_conversation_id:
            return False
        if self.sandbox_id is not None and conversation.sandbox_id != self.sandbox_id:
            return False
        if not _within(conversation.created_at, self.created_at_gte, self.created_at_lt):
            return False
        if self.updated_at_gte is not None or self.updated_at_lt is not None:
            updated = conversation.updated_at(now)
            if not _within(updated, self.updated_at_gte, self.updated_at_lt):
                return False
        if self.title_contains is not None:
            return (
                sql_like_contains(self.title_contains).search(conversation.current_title(now))
                is not None
            )
        return True


def _within(moment: datetime, gte: datetime | None, lt: datetime | None) -> bool:
    return (gte is None or moment >= gte) and (lt is None or moment < lt)


@functools.lru_cache(maxsize=64)
def sql_like_contains(fragment: str) -> re.Pattern[str]:
    """Return the regex of SQL ``LIKE '%fragment%'``: case-sensitive, ``%`` and ``_`` wild."""
    pattern = "".join(
        ".*" if character == "%" else "." if character == "_" else re.escape(character)
        for character in fragment
    )
    return re.compile(pattern, re.DOTALL)


def _newest_first(record: Conversation | Sandbox) -> tuple[float, str]:
    return (-record.created_at.timestamp(), record.id)


class Store:
    """The world, indexed: conversations and sandboxes newest first, per owner."""

    def __init__(self, world: World, params: ScenarioParams) -> None:
        self.lock = threading.RLock()
        self.params = params
        self.seed = world_seed(world.seed)
        self.start = world.start
        self.users: list[User] = world.users
        self.specs: list[SandboxSpec] = world.specs
        self.conversations: dict[str, Conversation] = {}
        self.sandboxes: dict[str, Sandbox] = {}
        self.start_tasks: dict[str, StartTask] = {}
        self.deleted_conversation_ids: list[str] = []
        # Where the server listens (set once it is bound): runtime URLs point back at it.
        self.base_url = "http://127.0.0.1"
        # Ids minted while serving come from here, so a replayed test mints the same ids.
        self.rng = random.Random(f"{self.seed}:runtime")
        self._conversation_order: list[Conversation] = []
        self._sandbox_order: list[Sandbox] = []
        self._sandbox_conversations: dict[str, set[str]] = {}
        for sandbox in world.sandboxes:
            self.add_sandbox(sandbox)
        for conversation in world.conversations:
            self.add_conversation(conversation)

    # -- conversations -------------------------------------------------------------------------

    def add_conversation(self, conversation: Conversation) -> None:
        """Index a new conversation (kept in ``created_at DESC`` order)."""
        self.conversations[conversation.id] = conversation
        bisect.insort(self._conversation_order, conversation, key=_newest_first)
        self._sandbox_conversations.setdefault(conversation.sandbox_id, set()).add(conversation.id)

    def conversations_of(self, owner: int) -> Iterator[Conversation]:
        """Yield the owner's conversations, newest first."""
        return (item for item in self._conversation_order if item.owner == owner)

    def search_conversations(
        self, owner: int, conversation_filter: ConversationFilter, now: datetime
    ) -> list[Conversation]:
        """Return the owner's conversations matching the filter, ``created_at DESC``."""
        return [
            conversation
            for conversation in self.conversations_of(owner)
            if conversation_filter.matches(conversation, now)
        ]

    def conversation_for(self, owner: int, conversation_id: str) -> Conversation | None:
        """Return the owner's conversation with this id (any UUID spelling), else ``None``."""
        normalized = normalize_uuid(conversation_id)
        conversation = self.conversations.get(normalized) if normalized else None
        if conversation is None or conversation.owner != owner:
            return None
        return conversation

    def conversations_in_sandbox(self, sandbox_id: str) -> list[Conversation]:
        """Return the conversations that use a sandbox."""
        ids = self._sandbox_conversations.get(sandbox_id, set())
        return [self.conversations[conversation_id] for conversation_id in sorted(ids)]

    def remove_conversation(self, conversation: Conversation) -> list[str]:
        """Delete a conversation, its sub-conversations and its start tasks.

        Its sandbox goes too once no conversation uses it (the App Server does that in the
        background). Return the deleted conversation ids.
        """
        removed = [conversation.id]
        for child_id in list(conversation.sub_conversation_ids):
            child = self.conversations.get(child_id)
            if child is not None:
                removed.extend(self.remove_conversation(child))
        if conversation.id not in self.conversations:
            return removed
        del self.conversations[conversation.id]
        self._conversation_order.remove(conversation)
        parent = self.conversations.get(conversation.parent_conversation_id or "")
        if parent is not None and conversation.id in parent.sub_conversation_ids:
            parent.sub_conversation_ids.remove(conversation.id)
        users = self._sandbox_conversations.get(conversation.sandbox_id, set())
        users.discard(conversation.id)
        sandbox = self.sandboxes.get(conversation.sandbox_id)
        if not users and sandbox is not None:
            self.remove_sandbox(sandbox)
        for task_id in [
            task.id
            for task in self.start_tasks.values()
            if task.app_conversation_id == conversation.id
        ]:
            del self.start_tasks[task_id]
        self.deleted_conversation_ids.append(conversation.id)
        return removed

    def timeline(self, conversation: Conversation, now: datetime) -> EventTimeline:
        """Return the conversation's events as they stand at ``now``."""
        return EventTimeline(
            seed=self.seed,
            conversation_id=conversation.id,
            llm_model=conversation.llm_model,
            runs=conversation.runs,
            now=now,
        )

    def new_conversation_id(self) -> str:
        """Mint a conversation or start-task id (32 hex)."""
        return hex_id(self.rng)

    # -- sandboxes -----------------------------------------------------------------------------

    def add_sandbox(self, sandbox: Sandbox) -> None:
        """Index a new sandbox (kept in ``created_at DESC`` order)."""
        self.sandboxes[sandbox.id] = sandbox
        bisect.insort(self._sandbox_order, sandbox, key=_newest_first)

    def remove_sandbox(self, sandbox: Sandbox) -> None:
        """Delete a sandbox record; conversations that used it now see MISSING."""
        del self.sandboxes[sandbox.id]
        self._sandbox_order.remove(sandbox)

    def sandboxes_of(self, owner: int) -> list[Sandbox]:
        """Return the owner's sandboxes, newest first."""
        return [sandbox for sandbox in self._sandbox_order if sandbox.owner == owner]

    def sandbox_for(self, owner: int, sandbox_id: str) -> Sandbox | None:
        """Return the owner's sandbox with this id, else ``None``."""
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is None or sandbox.owner != owner:
            return None
        return sandbox

    def sandbox_status(self, conversation: Conversation) -> str:
        """Return the status of the conversation's sandbox (MISSING once it is gone)."""
        sandbox = self.sandboxes.get(conversation.sandbox_id)
        return sandbox.status if sandbox is not None else "MISSING"

    def new_sandbox_id(self) -> str:
        """Mint a sandbox id (base62, 22 characters)."""
        return base62_id(self.rng)

    # -- start tasks and specs -----------------------------------------------------------------

    def start_tasks_of(self, owner: int) -> list[StartTask]:
        """Return the owner's start tasks, oldest first."""
        return [task for task in self.start_tasks.values() if task.owner == owner]

    def start_task_for(self, owner: int, task_id: str) -> StartTask | None:
        """Return the owner's start task with this id (any UUID spelling), else ``None``."""
        normalized = normalize_uuid(task_id)
        task = self.start_tasks.get(normalized) if normalized else None
        if task is None or task.owner != owner:
            return None
        return task

    def spec_for(self, spec_id: str) -> SandboxSpec | None:
        """Return the sandbox spec with this id, else ``None``."""
        return next((spec for spec in self.specs if spec.id == spec_id), None)
