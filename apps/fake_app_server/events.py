"""Generate a conversation's events on demand, deterministically, in the SDK's JSON shapes.

Nothing here is stored: event ``j`` of run ``r`` of a conversation is rebuilt from the world seed,
the conversation id and ``(r, j)`` whenever it is asked for, so a conversation can have thousands
of events (or a zip hundreds of megabytes) at no memory cost. A run follows the agent server's
sequence (checked against the real server by tests/live/test_app_server_contract.py): a prefix
(on the first run a state snapshot and the system prompt, then the user's message and the status
change to ``running``), a repeating middle (terminal and editor actions with their observations,
thoughts, stats updates, agent replies each streamed first as ``StreamingDeltaEvent`` chunks) and
a tail that depends on how the run ends (a ``FinishAction`` for ``finished``, an
``AgentErrorEvent`` for ``error``...) and closes, whatever the ending, with the final status and
a fresh state snapshot.
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
from apps.fake_app_server.model import LLM_PROXY_URL, MASKED_VALUE, Run
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
    "system_prompt": "SystemPromptEvent",
    "user_message": "MessageEvent",
    "last_user_message": "ConversationStateUpdateEvent",
    "state_running": "ConversationStateUpdateEvent",
    "terminal_action": "ActionEvent",
    "terminal_observation": "ObservationEvent",
    "edit_action": "ActionEvent",
    "edit_observation": "ObservationEvent",
    "stats": "ConversationStateUpdateEvent",
    "reply_delta": "StreamingDeltaEvent",
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
    "closing_state": "ConversationStateUpdateEvent",
}
FIRST_RUN_PREFIX = (
    "full_state",
    "system_prompt",
    "user_message",
    "last_user_message",
    "state_running",
)
LATER_RUN_PREFIX = ("user_message", "last_user_message", "state_running")
# The real server stores the LLM's streamed chunks too: an empty opening one, then the text.
REPLY_CHUNKS = 3
REPLY_STREAM = ("reply_delta",) * (REPLY_CHUNKS + 1)
MIDDLE_CYCLE = (
    "terminal_action",
    "terminal_observation",
    "edit_action",
    "edit_observation",
    "stats",
    *REPLY_STREAM,
    "agent_message",
    "think_action",
    "think_observation",
)
# A long trajectory with big outputs: mostly commands and what they printed.
BULKY_MIDDLE_CYCLE = ("terminal_action", "terminal_observation")
# The agent server ends every run, however it stopped, with the status and a full snapshot.
TURN_END = ("state_final", "closing_state")
TAILS = {
    "finished": (
        *REPLY_STREAM,
        "summary_message",
        "finish_action",
        "finish_observation",
        *TURN_END,
    ),
    "error": ("agent_error", *TURN_END),
    "waiting_for_confirmation": ("risky_action", *TURN_END),
    "stuck": TURN_END,
    "idle": TURN_END,
    "paused": TURN_END,
}
REPLY_STEPS = ("agent_message", "summary_message")
# Middle positions of the special events (the second terminal observation, the first stats).
AGENT_ERROR_MIDDLE_POSITION = len(MIDDLE_CYCLE) + 1
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

SYSTEM_PROMPT = (
    "<ROLE>\nYou are OpenHands agent, a helpful AI assistant that can interact with a computer "
    "to solve tasks. Be thorough, methodical, and prioritize quality over speed.\n</ROLE>\n\n"
    "<FILE_SYSTEM_GUIDELINES>\n* Do not assume a path is relative to the working directory: "
    "locate the file first.\n* Edit files in place instead of creating new versions.\n"
    "</FILE_SYSTEM_GUIDELINES>\n\n<VERSION_CONTROL>\n* Never push to the main branch or "
    "force-push unless the user asks for it.\n</VERSION_CONTROL>"
)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the agent announces in its system prompt (a ToolDefinition)."""

    title: str
    kind: str
    action_type: str
    description: str
    read_only: bool = False
    destructive: bool = False
    open_world: bool = False

    def definition(self) -> dict[str, Any]:
        """Return the tool's JSON as the SystemPromptEvent lists it."""
        return {
            "description": self.description,
            "action_type": self.action_type,
            "observation_type": self.action_type.removesuffix("Action") + "Observation",
            "annotations": {
                "title": self.title,
                "readOnlyHint": self.read_only,
                "destructiveHint": self.destructive,
                "idempotentHint": self.read_only,
                "openWorldHint": self.open_world,
            },
            "meta": None,
            "kind": self.kind,
            "title": self.title,
        }


# The tools the user's settings enable (the full_state lists these) ...
USER_TOOLS = (
    ToolSpec(
        "terminal",
        "TerminalTool",
        "TerminalAction",
        "Execute a shell command in the terminal within a persistent shell session.",
        destructive=True,
        open_world=True,
    ),
    ToolSpec(
        "file_editor",
        "FileEditorTool",
        "FileEditorAction",
        "Custom editing tool for viewing, creating and editing files in plain-text format.",
        destructive=True,
    ),
    ToolSpec(
        "task_tracker",
        "TaskTrackerTool",
        "TaskTrackerAction",
        "This tool provides structured task management capabilities for development workflows.",
    ),
)
# ... and the ones every agent has.
BUILT_IN_TOOLS = (
    ToolSpec(
        "finish",
        "FinishTool",
        "FinishAction",
        "Signals the completion of the current task or conversation.",
        read_only=True,
    ),
    ToolSpec(
        "think",
        "ThinkTool",
        "ThinkAction",
        "Use the tool to think about something. It will not obtain new information.",
        read_only=True,
    ),
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
        # Too short for the whole tail: keep only how the turn ends, never half an action pair.
        tail = TURN_END if room >= len(TURN_END) else TURN_END[:1]
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
        return self._snapshot("idle")

    def _closing_state(self) -> dict[str, Any]:
        return self._snapshot(self.run.final_status)

    def _snapshot(self, execution_status: str) -> dict[str, Any]:
        """Return a ``full_state`` update: the whole conversation state (secrets masked)."""
        return self._state_update(
            "full_state",
            {
                "id": str(stable_uuid(self.timeline.conversation_id)),
                "agent": {
                    "kind": "Agent",
                    "llm": {
                        "model": self.timeline.llm_model,
                        "api_key": MASKED_VALUE,
                        "base_url": LLM_PROXY_URL,
                    },
                    "tools": [{"name": tool.title, "params": {}} for tool in USER_TOOLS],
                },
                "workspace": {"kind": "LocalWorkspace", "working_dir": WORKSPACE},
                "execution_status": execution_status,
                "confirmation_policy": {"kind": "NeverConfirm"},
                "max_iterations": 500,
                "secret_registry": {"secret_sources": {"GITHUB_TOKEN": MASKED_VALUE}},
            },
        )

    def _system_prompt(self) -> dict[str, Any]:
        started = self.run.started_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {
            **self._base("agent"),
            "system_prompt": text_content(SYSTEM_PROMPT),
            "tools": [tool.definition() for tool in (*USER_TOOLS, *BUILT_IN_TOOLS)],
            "dynamic_context": text_content(
                f"<CURRENT_DATETIME>\nThe current date and time is: {started}\n</CURRENT_DATETIME>"
            ),
            "kind": "SystemPromptEvent",
        }

    def _user_message(self) -> dict[str, Any]:
        return self._message("user", "user", self.run.message)

    def _last_user_message(self) -> dict[str, Any]:
        message_id = self.timeline.event_id(self.ref.run_index, self.ref.position - 1)
        return self._state_update("last_user_message_id", message_id)

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

    def _reply_delta(self) -> dict[str, Any]:
        """Return one streamed chunk of the agent reply that follows the stream."""
        reply_position = self.ref.position
        while step_type(self.run, reply_position) == "reply_delta":
            reply_position += 1
        chunk = len(REPLY_STREAM) - (reply_position - self.ref.position)
        text = self._reply_text(reply_position)
        # The opening chunk is empty; the others cut the text in REPLY_CHUNKS slices.
        start, end = (len(text) * max(0, index) // REPLY_CHUNKS for index in (chunk - 1, chunk))
        return {
            **self._base("agent"),
            "content": text[start:end],
            "reasoning_content": None,
            "kind": "StreamingDeltaEvent",
        }

    def _reply_text(self, position: int) -> str:
        """Return the text of the agent reply at ``position`` (also when the stream was cut)."""
        if step_type(self.run, position) == "summary_message":
            return self._summary()
        return self.timeline.content_rng(self.ref.run_index, position).choice(AGENT_MESSAGES)

    def _agent_message(self) -> dict[str, Any]:
        return self._message("agent", "assistant", self._reply_text(self.ref.position))

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
