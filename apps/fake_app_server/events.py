"""Generate a conversation's events on demand, deterministically, in the SDK's JSON shapes.

Nothing here is stored: event ``j`` of run ``r`` of a conversation is rebuilt from the world seed,
the conversation id and ``(r, j)`` whenever it is asked for, so a conversation can have thousands
of events (or a zip hundreds of megabytes) at no memory cost. A run is laid out as a prefix (state
snapshot, the user's message), a repeating middle (terminal and editor actions with their
observations, thoughts, stats updates, agent messages) and a tail that depends on how the run
ends (a ``FinishAction`` for ``finished``, an ``AgentErrorEvent`` for ``error``...).
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apps.fake_app_server.ids import stable_token, stable_uuid
from apps.fake_app_server.model import Run
from apps.fake_app_server.timeutil import format_naive

# The values `kind__eq` accepts (the Cloud OpenAPI enum).
KNOWN_EVENT_KINDS = (
    "ServerErrorEvent",
    "ACPToolCallEvent",
    "Condensation",
    "CondensationRequest",
    "CondensationSummaryEvent",
    "ConversationErrorEvent",
    "ConversationStateUpdateEvent",
    "HookExecutionEvent",
    "LLMCompletionLogEvent",
    "ActionEvent",
    "MessageEvent",
    "AgentErrorEvent",
    "ObservationEvent",
    "UserRejectObservation",
    "SystemPromptEvent",
    "StreamingDeltaEvent",
    "TokenEvent",
    "InterruptEvent",
    "PauseEvent",
)
# A kind from a future SDK: clients must show it generically instead of crashing.
UNKNOWN_FUTURE_KIND = "QuantumEntanglementEvent"
HOSTILE_FILE_NAME = "../\"quoted\" & 'odd' <name>.md"
WORKSPACE = "/workspace/project"

STEP_KINDS = {
    "full_state": "ConversationStateUpdateEvent",
    "user_message": "MessageEvent",
    "state_running": "ConversationStateUpdateEvent",
    "terminal_action": "ActionEvent",
    "terminal_observation": "ObservationEvent",
    "edit_action": "ActionEvent",
    "edit_observation": "ObservationEvent",
    "stats": "ConversationStateUpdateEvent",
    "agent_message": "MessageEvent",
    "think_action": "ActionEvent",
    "think_observation": "ObservationEvent",
    "agent_error": "AgentErrorEvent",
    "quantum": UNKNOWN_FUTURE_KIND,
    "summary_message": "MessageEvent",
    "finish_action": "ActionEvent",
    "finish_observation": "ObservationEvent",
    "risky_action": "ActionEvent",
    "state_final": "ConversationStateUpdateEvent",
}
FIRST_RUN_PREFIX = ("full_state", "user_message", "state_running")
LATER_RUN_PREFIX = ("user_message", "state_running")
MIDDLE_CYCLE = (
    "terminal_action",
    "terminal_observation",
    "edit_action",
    "edit_observation",
    "stats",
    "agent_message",
    "think_action",
    "think_observation",
)
# A long trajectory with big outputs: mostly commands and what they printed.
BULKY_MIDDLE_CYCLE = ("terminal_action", "terminal_observation")
TAILS = {
    "finished": ("summary_message", "finish_action", "finish_observation", "state_final"),
    "error": ("agent_error", "state_final"),
    "waiting_for_confirmation": ("risky_action", "state_final"),
    "stuck": ("state_final",),
    "idle": ("state_final",),
    "paused": ("state_final",),
}
# Middle positions of the special events (the second terminal observation, the first stats).
AGENT_ERROR_MIDDLE_POSITION = 9
QUANTUM_MIDDLE_POSITION = 4

COMMANDS = (
    ("git status --short", " M src/app/views.py\n?? tests/test_pagination.py", 0),
    (
        "python -m pytest -q tests",
        "........F.\nFAILED tests/test_checkout.py::test_total\n1 failed, 9 passed in 2.31s",
        1,
    ),
    (
        'grep -rn "retry" src/ | head -n 3',
        "src/payments/client.py:42:    retry_count = 0\n"
        "src/payments/client.py:57:        retry_count += 1",
        0,
    ),
    (
        "ls -la",
        "total 48\ndrwxr-xr-x 8 openhands openhands 4096 .\n"
        "-rw-r--r-- 1 openhands openhands 1203 README.md\n"
        "drwxr-xr-x 4 openhands openhands 4096 src",
        0,
    ),
    ("npm test -- --watch=false", "PASS src/cart.test.ts\nTests: 14 passed, 14 total", 0),
    ("pip install -r requirements.txt", "Successfully installed django-5.2.4 httpx-0.28.1", 0),
    (
        "git diff --stat",
        " src/app/views.py | 12 ++++++++----\n 1 file changed, 8 insertions(+), 4 deletions(-)",
        0,
    ),
    ("make lint", "ruff check .\nAll checks passed!", 0),
)
EDITS = (
    (
        "src/app/views.py",
        "def list_orders(request):\n    orders = Order.objects.all()\n",
        'def list_orders(request):\n    orders = Order.objects.order_by("-created_at")[:100]\n',
    ),
    (
        "tests/test_checkout.py",
        "    time.sleep(2)\n    assert cart.total == 42\n",
        "    wait_for(lambda: cart.total == 42, timeout=5)\n",
    ),
    ("README.md", "## Install\n\nTODO\n", "## Install\n\n    pip install deploy-cli\n"),
    (
        "infra/main.tf",
        'resource "aws_s3_bucket" "prod" {\n',
        'resource "aws_s3_bucket" "staging" {\n  bucket = "nimbus-staging"\n}\n\n'
        'resource "aws_s3_bucket" "prod" {\n',
    ),
    (
        "src/payments/client.py",
        "    for attempt in range(3):\n",
        "    for attempt in range(self.max_retries):\n",
    ),
)
THOUGHTS = (
    "Let me look at how the tests are run in this repository first.",
    "The failure looks timing related; a polling helper is safer than a fixed sleep.",
    "I should check whether other callers depend on this ordering before changing it.",
    "The lockfile is out of date; regenerating it should fix the import error.",
    "Before editing, I want to see the full stack trace from the failing job.",
)
AGENT_MESSAGES = (
    "I reproduced the problem locally; now I am narrowing it down.",
    "The change is in place. Running the test suite again to confirm.",
    "Found it: the query had no ordering, so pages could overlap.",
    "Tests pass locally. I will also run the linter before finishing.",
)
AGENT_ERRORS = (
    "Tool 'terminal' timed out after 120 seconds (command was still running).",
    "File /workspace/project/src/worker.py not found. Did you mean src/workers.py?",
)


@dataclass(frozen=True, slots=True)
class EventRef:
    """The cheap part of an event: enough to filter, sort and page without building it."""

    timestamp: str
    kind: str
    run_index: int
    position: int


def step_type(run: Run, position: int) -> str:
    """Return what event ``position`` of ``run`` is (a key of ``STEP_KINDS``)."""
    count = run.planned_count
    prefix = FIRST_RUN_PREFIX if run.first else LATER_RUN_PREFIX
    if position < len(prefix):
        return prefix[position]
    tail = TAILS[run.final_status]
    room = count - len(prefix)
    if room < len(tail):
        # Too short for the whole tail: keep only the final status update, never half a pair.
        tail = ("state_final",)
    if position >= count - len(tail):
        return tail[position - (count - len(tail))]
    middle = position - len(prefix)
    middle_length = count - len(prefix) - len(tail)
    if "agent_error" in run.flavor and middle == _agent_error_position(middle_length):
        return "agent_error"
    if "quantum" in run.flavor and middle == QUANTUM_MIDDLE_POSITION:
        return "quantum"
    cycle = BULKY_MIDDLE_CYCLE if run.observation_bytes else MIDDLE_CYCLE
    return cycle[middle % len(cycle)]


def _agent_error_position(middle_length: int) -> int:
    return AGENT_ERROR_MIDDLE_POSITION if middle_length > AGENT_ERROR_MIDDLE_POSITION else 1


class EventTimeline:
    """The events of one conversation as they stand at ``now`` (an immutable snapshot)."""

    def __init__(
        self,
        *,
        seed: str,
        conversation_id: str,
        llm_model: str | None,
        runs: Sequence[Run],
        now: datetime,
    ) -> None:
        self._seed = seed
        self._conversation_id = conversation_id
        self._llm_model = llm_model or "default"
        self._runs = tuple(runs)
        self._visible = tuple(run.visible_count(now) for run in self._runs)

    def __len__(self) -> int:
        return sum(self._visible)

    def refs(self) -> list[EventRef]:
        """Return every visible event's ref in timestamp order."""
        return [
            EventRef(
                timestamp=format_naive(run.event_time(position)),
                kind=STEP_KINDS[step_type(run, position)],
                run_index=run_index,
                position=position,
            )
            for run_index, run in enumerate(self._runs)
            for position in range(self._visible[run_index])
        ]

    def refs_by_id(self) -> dict[str, EventRef]:
        """Return every visible event's ref keyed by event id."""
        return {self.event_id(ref.run_index, ref.position): ref for ref in self.refs()}

    def event_id(self, run_index: int, position: int) -> str:
        """Return the id (UUID with dashes) of event ``position`` of run ``run_index``."""
        return str(stable_uuid(self._seed, self._conversation_id, run_index, position, "event"))

    def build(self, ref: EventRef) -> dict[str, Any]:
        """Return the full JSON of the event ``ref`` points to."""
        run = self._runs[ref.run_index]
        step = step_type(run, ref.position)
        builder = _EventBuilder(self, run, ref, step)
        return builder.build()

    def tool_call_id(self, run_index: int, position: int) -> str:
        """Return the LLM tool-call id of an action event."""
        token = stable_token(self._seed, self._conversation_id, run_index, position, "c", length=24)
        return "toolu_" + token

    def llm_response_id(self, run_index: int, position: int) -> str:
        """Return the LLM completion id that produced an agent event."""
        token = stable_token(self._seed, self._conversation_id, run_index, position, "r", length=20)
        return "chatcmpl-" + token

    def parent_id(self, run_index: int, position: int) -> str | None:
        """Return the id of the event before this one (the conversation tree's parent)."""
        if position > 0:
            return self.event_id(run_index, position - 1)
        if run_index == 0:
            return None
        previous = self._runs[run_index - 1]
        # The previous run had stopped when this one started, so its count is final.
        last = previous.visible_count(self._runs[run_index].started_at) - 1
        return self.event_id(run_index - 1, last) if last >= 0 else None

    def content_rng(self, run_index: int, position: int) -> random.Random:
        """Return the random generator that picks this event's content."""
        return random.Random(f"{self._seed}:{self._conversation_id}:{run_index}:{position}")

    @property
    def llm_model(self) -> str:
        """Return the conversation's model name."""
        return self._llm_model

    @property
    def conversation_id(self) -> str:
        """Return the conversation id (32 hex)."""
        return self._conversation_id


def select_refs(
    refs: list[EventRef],
    *,
    kind: str | None = None,
    timestamp_gte: str | None = None,
    timestamp_lt: str | None = None,
) -> list[EventRef]:
    """Return the refs matching the search filters (timestamps compared as strings)."""
    return [
        ref
        for ref in refs
        if (kind is None or ref.kind == kind)
        and (timestamp_gte is None or ref.timestamp >= timestamp_gte)
        and (timestamp_lt is None or ref.timestamp < timestamp_lt)
    ]


def text_content(text: str) -> dict[str, Any]:
    """Return a TextContent block."""
    return {"cache_prompt": False, "type": "text", "text": text}


class _EventBuilder:
    """Build one event's JSON; one method per step type."""

    def __init__(self, timeline: EventTimeline, run: Run, ref: EventRef, step: str) -> None:
        self.timeline = timeline
        self.run = run
        self.ref = ref
        self.step = step
        self.rng = timeline.content_rng(ref.run_index, ref.position)

    def build(self) -> dict[str, Any]:
        return getattr(self, f"_{self.step}")()

    # -- shared pieces -------------------------------------------------------------------------

    def _base(self, source: str) -> dict[str, Any]:
        return {
            "id": self.timeline.event_id(self.ref.run_index, self.ref.position),
            "timestamp": self.ref.timestamp,
            "source": source,
            "parent_id": self.timeline.parent_id(self.ref.run_index, self.ref.position),
        }

    def _state_update(self, key: str, value: Any) -> dict[str, Any]:
        return {
            **self._base("environment"),
            "key": key,
            "value": value,
            "kind": "ConversationStateUpdateEvent",
        }

    def _message(self, source: str, role: str, text: str) -> dict[str, Any]:
        agent = source == "agent"
        return {
            **self._base(source),
            "llm_message": {
                "role": role,
                "content": [text_content(text)],
                "tool_calls": None,
                "tool_call_id": None,
                "name": None,
                "reasoning_content": None,
                "thinking_blocks": [],
                "responses_reasoning_item": None,
            },
            "llm_response_id": (
                self.timeline.llm_response_id(self.ref.run_index, self.ref.position)
                if agent
                else None
            ),
            "activated_skills": [],
            "extended_content": [],
            "sender": None,
            "critic_result": None,
            "kind": "MessageEvent",
        }

    def _action(
        self, *, tool_name: str, action: dict[str, Any], summary: str, risk: str = "LOW"
    ) -> dict[str, Any]:
        call_id = self.timeline.tool_call_id(self.ref.run_index, self.ref.position)
        arguments = {key: value for key, value in action.items() if key != "kind"}
        return {
            **self._base("agent"),
            "thought": [text_content(self.rng.choice(THOUGHTS))],
            "reasoning_content": None,
            "thinking_blocks": [],
            "responses_reasoning_item": None,
            "action": action,
            "tool_name": tool_name,
            "tool_call_id": call_id,
            "tool_call": {
                "id": call_id,
                "responses_item_id": None,
                "name": tool_name,
                "arguments": json.dumps(arguments),
                "origin": "completion",
            },
            "llm_response_id": self.timeline.llm_response_id(self.ref.run_index, self.ref.position),
            "security_risk": risk,
            "critic_result": None,
            "summary": summary,
            "kind": "ActionEvent",
        }

    def _observation(self, *, tool_name: str, observation: dict[str, Any]) -> dict[str, Any]:
        action_position = self.ref.position - 1
        return {
            **self._base("environment"),
            "tool_name": tool_name,
            "tool_call_id": self.timeline.tool_call_id(self.ref.run_index, action_position),
            "observation": observation,
            "action_id": self.timeline.event_id(self.ref.run_index, action_position),
            "extended_content": [],
            "kind": "ObservationEvent",
        }

    def _previous_rng(self) -> random.Random:
        """Return the content generator of the action this observation answers."""
        return self.timeline.content_rng(self.ref.run_index, self.ref.position - 1)

    def _cost_so_far(self) -> float:
        return round((self.ref.position + 1) * 0.0125, 4)

    # -- prefix --------------------------------------------------------------------------------

    def _full_state(self) -> dict[str, Any]:
        return self._state_update(
            "full_state",
            {
                "id": str(stable_uuid(self.timeline.conversation_id)),
                "agent": {
                    "kind": "Agent",
                    "llm": {
                        "model": self.timeline.llm_model,
                        "api_key": "**********",
                        "base_url": "https://llm-proxy.app.all-hands.dev",
                    },
                    "tools": [
                        {"name": "terminal"},
                        {"name": "file_editor"},
                        {"name": "task_tracker"},
                    ],
                },
                "workspace": {"kind": "LocalWorkspace", "working_dir": WORKSPACE},
                "execution_status": "idle",
                "confirmation_policy": {"kind": "NeverConfirm"},
                "max_iterations": 500,
                "secret_registry": {"secret_sources": {"GITHUB_TOKEN": "**********"}},
            },
        )

    def _user_message(self) -> dict[str, Any]:
        return self._message("user", "user", self.run.message)

    def _state_running(self) -> dict[str, Any]:
        return self._state_update("execution_status", "running")

    # -- middle --------------------------------------------------------------------------------

    def _terminal_action(self) -> dict[str, Any]:
        command = self._command(self.rng)[0]
        action = {
            "command": command,
            "is_input": False,
            "timeout": None,
            "reset": False,
            "kind": "TerminalAction",
        }
        return self._action(tool_name="terminal", action=action, summary=f"running {command}")

    def _terminal_observation(self) -> dict[str, Any]:
        command, output, exit_code = self._command(self._previous_rng())
        suffix = f"\n[The command completed with exit code {exit_code}.]"
        observation = {
            "content": [text_content(output + suffix)],
            "is_error": False,
            "command": command,
            "exit_code": exit_code,
            "timeout": False,
            "metadata": {
                "exit_code": exit_code,
                "pid": 4000 + self.ref.position,
                "username": "openhands",
                "hostname": "runtime-" + self.timeline.conversation_id[:8],
                "working_dir": WORKSPACE,
                "py_interpreter_path": "/openhands/micromamba/envs/openhands/bin/python",
                "prefix": "",
                "suffix": suffix,
            },
            "full_output_save_dir": None,
            "kind": "TerminalObservation",
        }
        return self._observation(tool_name="terminal", observation=observation)

    def _command(self, rng: random.Random) -> tuple[str, str, int]:
        command, output, exit_code = rng.choice(COMMANDS)
        if self.run.observation_bytes:
            return "base64 build/trace.bin", self._bulky_output(rng), 0
        return command, output, exit_code

    def _bulky_output(self, rng: random.Random) -> str:
        """Return ``observation_bytes`` of base64 text (barely compressible, like real dumps)."""
        size = self.run.observation_bytes
        encoded = base64.b64encode(rng.randbytes(size * 3 // 4 + 3)).decode()[:size]
        return "\n".join(encoded[start : start + 76] for start in range(0, len(encoded), 76))

    def _edit_action(self) -> dict[str, Any]:
        path, old, new = self._edit(self.rng)
        action = {
            "command": "str_replace",
            "path": path,
            "file_text": None,
            "old_str": old,
            "new_str": new,
            "insert_line": None,
            "view_range": None,
            "kind": "FileEditorAction",
        }
        return self._action(tool_name="file_editor", action=action, summary=f"editing {path}")

    def _edit_observation(self) -> dict[str, Any]:
        path, old, new = self._edit(self._previous_rng())
        observation = {
            "content": [text_content(f"The file {path} has been edited. Review the changes.")],
            "is_error": False,
            "command": "str_replace",
            "path": path,
            "prev_exist": True,
            "old_content": old,
            "new_content": new,
            "kind": "FileEditorObservation",
        }
        return self._observation(tool_name="file_editor", observation=observation)

    def _edit(self, rng: random.Random) -> tuple[str, str, str]:
        relative, old, new = rng.choice(EDITS)
        if "hostile_path" in self.run.flavor:
            relative = HOSTILE_FILE_NAME
        return f"{WORKSPACE}/{relative}", old, new

    def _stats(self) -> dict[str, Any]:
        usage = {
            "model_name": self.timeline.llm_model,
            "accumulated_cost": self._cost_so_far(),
            "max_budget_per_task": None,
            "accumulated_token_usage": {
                "model": self.timeline.llm_model,
                "prompt_tokens": 2150 * (self.ref.position + 1),
                "completion_tokens": 180 * (self.ref.position + 1),
            },
        }
        return self._state_update("stats", {"usage_to_metrics": {"agent": usage}})

    def _agent_message(self) -> dict[str, Any]:
        return self._message("agent", "assistant", self.rng.choice(AGENT_MESSAGES))

    def _think_action(self) -> dict[str, Any]:
        action = {"thought": self.rng.choice(THOUGHTS), "kind": "ThinkAction"}
        return self._action(tool_name="think", action=action, summary="thinking")

    def _think_observation(self) -> dict[str, Any]:
        observation = {
            "content": [text_content("Your thought has been logged.")],
            "is_error": False,
            "kind": "ThinkObservation",
        }
        return self._observation(tool_name="think", observation=observation)

    def _agent_error(self) -> dict[str, Any]:
        return {
            **self._base("agent"),
            "tool_name": "terminal",
            "tool_call_id": self.timeline.tool_call_id(self.ref.run_index, self.ref.position - 1),
            "error": self.rng.choice(AGENT_ERRORS),
            "kind": "AgentErrorEvent",
        }

    def _quantum(self) -> dict[str, Any]:
        return {
            **self._base("environment"),
            "kind": UNKNOWN_FUTURE_KIND,
            "entangled_with": self.timeline.event_id(self.ref.run_index, 0),
            "spin": self.rng.choice(("up", "down")),
            "coherence": round(self.rng.random(), 3),
        }

    # -- tail ----------------------------------------------------------------------------------

    def _summary_message(self) -> dict[str, Any]:
        return self._message("agent", "assistant", self._summary())

    def _summary(self) -> str:
        return f"Done. Summary of the work on: {self.run.message.splitlines()[0][:80]}"

    def _finish_action(self) -> dict[str, Any]:
        action = {"message": self._summary(), "kind": "FinishAction"}
        return self._action(tool_name="finish", action=action, summary="finishing the task")

    def _finish_observation(self) -> dict[str, Any]:
        observation = {
            "content": [text_content(self._summary())],
            "is_error": False,
            "kind": "FinishObservation",
        }
        return self._observation(tool_name="finish", observation=observation)

    def _risky_action(self) -> dict[str, Any]:
        action = {
            "command": "git push --force origin main",
            "is_input": False,
            "timeout": None,
            "reset": False,
            "kind": "TerminalAction",
        }
        return self._action(
            tool_name="terminal", action=action, summary="force-pushing to main", risk="HIGH"
        )

    def _state_final(self) -> dict[str, Any]:
        return self._state_update("execution_status", self.run.final_status)
