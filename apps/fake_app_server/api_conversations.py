"""Handlers of ``/api/v1/app-conversations`` (conversations and start tasks)."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator
from typing import Any

from apps.fake_app_server.events import EDITS, HOSTILE_FILE_NAME, WORKSPACE
from apps.fake_app_server.ids import normalize_uuid
from apps.fake_app_server.model import Conversation
from apps.fake_app_server.protocol import (
    ApiError,
    Request,
    Response,
    detail_error,
    json_bytes,
    json_response,
    page,
    validation_error,
)
from apps.fake_app_server.serializers import (
    conversation_info_json,
    conversation_json,
    start_task_json,
)
from apps.fake_app_server.state import Context
from apps.fake_app_server.store import ConversationFilter
from apps.fake_app_server.zipstream import trajectory_zip

MAX_BATCH_CONVERSATIONS = 99
MAX_BATCH_START_TASKS = 100
EXPORT_MAX_EVENTS = 10_000
# Real seconds between two snapshots of a streamed start (the fake steps the task itself).
STREAM_STEP_SECONDS = 0.05
PROVIDER_TYPES = (
    "github",
    "gitlab",
    "bitbucket",
    "bitbucket_data_center",
    "forgejo",
    "azure_devops",
    "enterprise_sso",
)
TRIGGERS = (
    "resolver",
    "gui",
    "suggested_task",
    "openhands_api",
    "slack",
    "microagent_management",
    "jira",
    "jira_dc",
    "linear",
    "bitbucket",
    "automation",
)
START_TASK_SORT_ORDERS = ("CREATED_AT", "CREATED_AT_DESC", "UPDATED_AT", "UPDATED_AT_DESC")
REPOSITORY_PATTERN = re.compile(r"^[\w.-]+/[\w.-]+$")
INTERNAL_ERROR = Response(
    status=500, body=b"Internal Server Error", content_type="text/plain; charset=utf-8"
)


# -- search, count, batch --------------------------------------------------------------------


def _conversation_filter(request: Request, *, include_sub_default: bool) -> ConversationFilter:
    return ConversationFilter(
        title_contains=request.value("title__contains"),
        created_at_gte=request.datetime("created_at__gte"),
        created_at_lt=request.datetime("created_at__lt"),
        updated_at_gte=request.datetime("updated_at__gte"),
        updated_at_lt=request.datetime("updated_at__lt"),
        sandbox_id=request.value("sandbox_id__eq"),
        include_sub_conversations=request.boolean("include_sub_conversations", include_sub_default),
    )


def search_conversations(ctx: Context, request: Request) -> Response:
    """Answer ``GET /search``: newest first whatever ``sort_order`` says (it is ignored)."""
    conversation_filter = _conversation_filter(request, include_sub_default=False)
    limit, offset = request.limit(), request.offset()
    matches = ctx.store.search_conversations(ctx.owner, conversation_filter, ctx.now)
    items = [
        conversation_json(ctx.store, conversation, ctx.now)
        for conversation in matches[offset : offset + limit]
    ]
    return json_response(page(items, offset, limit, len(matches)))


def count_conversations(ctx: Context, request: Request) -> Response:
    """Answer ``GET /count``: the same filters, but sub-conversations always count."""
    conversation_filter = dataclasses.replace(
        _conversation_filter(request, include_sub_default=True), include_sub_conversations=True
    )
    matches = ctx.store.search_conversations(ctx.owner, conversation_filter, ctx.now)
    return json_response(len(matches))


def batch_get_conversations(ctx: Context, request: Request) -> Response:
    """Answer ``GET ?ids=``: aligned with the ids, null where unknown; at most 99 ids."""
    ids = request.required_values("ids")
    if len(ids) > MAX_BATCH_CONVERSATIONS:
        raise detail_error(400, f"Too many ids requested. Maximum is {MAX_BATCH_CONVERSATIONS}.")
    for conversation_id in ids:
        if normalize_uuid(conversation_id) is None:
            raise detail_error(400, f"Invalid conversation id: {conversation_id!r}")
    result = []
    for conversation_id in ids:
        conversation = ctx.store.conversation_for(ctx.owner, conversation_id)
        result.append(conversation_json(ctx.store, conversation, ctx.now) if conversation else None)
    return json_response(result)


# -- body validation (the subset of pydantic's checks a client can trip) ---------------------


def _invalid(name: str, error_type: str, message: str, value: Any) -> ApiError:
    return validation_error(["body", name], error_type, message, value)


def _check_field(body: dict[str, Any], name: str, kind: str) -> None:
    """Check an optional body field; 422 with pydantic's wording when it has the wrong type."""
    value = body.get(name)
    if value is None:
        return
    if kind == "str" and not isinstance(value, str):
        raise _invalid(name, "string_type", "Input should be a valid string", value)
    if kind == "bool" and not isinstance(value, bool):
        raise _invalid(name, "bool_type", "Input should be a valid boolean", value)
    if kind == "uuid" and (not isinstance(value, str) or normalize_uuid(value) is None):
        raise _invalid(name, "uuid_parsing", "Input should be a valid UUID", value)
    if kind == "int_list" and (
        not isinstance(value, list)
        or not all(isinstance(item, int) and not isinstance(item, bool) for item in value)
    ):
        raise _invalid(name, "list_type", "Input should be a valid list of integers", value)
    if kind == "provider" and value not in PROVIDER_TYPES:
        raise _invalid(name, "enum", f"Input should be one of {', '.join(PROVIDER_TYPES)}", value)
    if kind == "trigger" and value not in TRIGGERS:
        raise _invalid(name, "enum", f"Input should be one of {', '.join(TRIGGERS)}", value)


START_FIELD_KINDS = {
    "sandbox_id": "str",
    "conversation_id": "uuid",
    "system_message_suffix": "str",
    "llm_model": "str",
    "agent_profile_id": "str",
    "selected_repository": "str",
    "selected_branch": "str",
    "git_provider": "provider",
    "title": "str",
    "trigger": "trigger",
    "pr_number": "int_list",
    "parent_conversation_id": "uuid",
    "public": "bool",
}
UPDATE_FIELD_KINDS = {
    "title": "str",
    "public": "bool",
    "selected_repository": "str",
    "selected_branch": "str",
    "git_provider": "provider",
}


def _message_content(body: dict[str, Any], location: list[str]) -> None:
    content = body.get("content")
    if not isinstance(content, list) or not content:
        raise validation_error(
            [*location, "content"],
            "too_short",
            "List should have at least 1 item after validation",
            content,
        )
    for block in content:
        if not isinstance(block, dict) or block.get("type", "text") not in ("text", "image"):
            raise validation_error(
                [*location, "content"],
                "union_tag_invalid",
                "Content blocks are TextContent or ImageContent",
                block,
            )
        if block.get("type", "text") == "text" and not isinstance(block.get("text"), str):
            raise validation_error(
                [*location, "content", "text"],
                "string_type",
                "Input should be a valid string",
                block.get("text"),
            )
    if not isinstance(body.get("run", True), bool):
        raise validation_error(
            [*location, "run"], "bool_type", "Input should be a valid boolean", body.get("run")
        )


def _start_request(request: Request) -> dict[str, Any]:
    body = request.json_object()
    for name, kind in START_FIELD_KINDS.items():
        _check_field(body, name, kind)
    initial = body.get("initial_message")
    if initial is not None:
        if not isinstance(initial, dict):
            raise _invalid("initial_message", "model_type", "Input should be an object", initial)
        _message_content(initial, ["body", "initial_message"])
    return body


# -- start -----------------------------------------------------------------------------------


def start_conversation(ctx: Context, request: Request) -> Response:
    """Answer ``POST``: register a start task (WORKING) and return it."""
    task = ctx.simulation.create_start_task(ctx.owner, _start_request(request), ctx.now)
    return json_response(start_task_json(task))


def stream_start_conversation(ctx: Context, request: Request) -> Response:
    """Answer ``POST /stream-start``: a JSON array written one task snapshot at a time."""
    task = ctx.simulation.create_start_task(ctx.owner, _start_request(request), ctx.now)
    first = start_task_json(task)
    state, stopping = ctx.state, ctx.stopping

    def snapshots() -> Iterator[bytes]:
        yield b"[" + json_bytes(first)
        while not task.finished:
            if stopping.wait(STREAM_STEP_SECONDS):
                return
            with state.store.lock:
                now = state.advance()
                state.simulation.step_start_task(task, now)
                snapshot = start_task_json(task)
            yield b"," + json_bytes(snapshot)
        yield b"]"

    return Response(stream=snapshots)


# -- update, delete, messages ----------------------------------------------------------------


def _conversation_or_404(ctx: Context, request: Request) -> Conversation:
    conversation = ctx.store.conversation_for(ctx.owner, request.path_params["conversation_id"])
    if conversation is None:
        raise detail_error(404, "Conversation not found")
    return conversation


def _uuid_path(request: Request) -> None:
    """Reject a non-UUID ``conversation_id`` path segment like FastAPI (422)."""
    value = request.path_params["conversation_id"]
    if normalize_uuid(value) is None:
        raise validation_error(
            ["path", "conversation_id"], "uuid_parsing", "Input should be a valid UUID", value
        )


def update_conversation(ctx: Context, request: Request) -> Response:
    """Answer ``PATCH /{id}``: change only the fields present (``null`` clears one)."""
    body = request.json_object()
    for name, kind in UPDATE_FIELD_KINDS.items():
        _check_field(body, name, kind)
    conversation = _conversation_or_404(ctx, request)
    repository = body.get("selected_repository")
    if repository is not None and not REPOSITORY_PATTERN.match(repository):
        # Upstream raises a bare ValueError here, which FastAPI turns into a plain 500.
        return INTERNAL_ERROR
    for name in UPDATE_FIELD_KINDS:
        if name not in body:
            continue
        if name == "title":
            _retitle(conversation, body["title"], ctx)
        else:
            setattr(conversation, name, body[name])
    conversation.touched_at = ctx.now
    return json_response(conversation_json(ctx.store, conversation, ctx.now))


def _retitle(conversation: Conversation, title: str | None, ctx: Context) -> None:
    if conversation.auto_title is not None and conversation.auto_title[0] <= ctx.now:
        # The auto-title already happened; a pending one would still overwrite (as upstream).
        conversation.auto_title = None
    conversation.title = title or ""


def delete_conversation(ctx: Context, request: Request) -> Response:
    """Answer ``DELETE /{id}``: remove it and its sub-conversations."""
    if normalize_uuid(request.path_params["conversation_id"]) is None:
        raise detail_error(400, "Invalid conversation id")
    conversation = _conversation_or_404(ctx, request)
    ctx.store.remove_conversation(conversation)
    return json_response({"success": True})


def _require_running(ctx: Context, conversation: Conversation) -> None:
    """Raise the App Server's error for a sandbox that cannot take agent calls."""
    status = ctx.store.sandbox_status(conversation)
    if status in ("PAUSED", "STARTING"):
        raise detail_error(409, f"Sandbox is {status}; resume it before talking to the agent")
    if status == "MISSING":
        raise detail_error(410, "Sandbox no longer exists")
    if status == "ERROR":
        raise detail_error(503, "Sandbox is in ERROR and has no agent server")


def send_message(ctx: Context, request: Request) -> Response:
    """Answer ``POST /{id}/send-message``: needs a RUNNING sandbox."""
    _uuid_path(request)
    body = request.json_object()
    if body.get("role", "user") != "user":
        raise validation_error(
            ["body", "role"], "literal_error", "Input should be 'user'", body.get("role")
        )
    _message_content(body, ["body"])
    conversation = _conversation_or_404(ctx, request)
    _require_running(ctx, conversation)
    text = "\n".join(
        block.get("text", "") for block in body["content"] if block.get("type", "text") == "text"
    )
    ctx.simulation.send_message(conversation, text, body.get("run", True), ctx.now)
    return json_response({"success": True, "sandbox_status": "RUNNING", "message": None})


# -- agent-server proxies ------------------------------------------------------------------------


def _proxied_conversation(ctx: Context, request: Request) -> Conversation | None:
    """Return the conversation if its sandbox is RUNNING, ``None`` if not; 404 if unknown."""
    _uuid_path(request)
    conversation = ctx.store.conversation_for(ctx.owner, request.path_params["conversation_id"])
    if conversation is None:
        raise ApiError(404, {"error": "Conversation not found"})
    return conversation if ctx.store.sandbox_status(conversation) == "RUNNING" else None


def get_skills(ctx: Context, request: Request) -> Response:
    """Answer ``GET /{id}/skills`` (an empty list unless the sandbox is RUNNING)."""
    conversation = _proxied_conversation(ctx, request)
    if conversation is None:
        return json_response({"skills": []})
    skills = [
        {
            "name": "repo",
            "type": "repo",
            "content": "Run `make test` before committing.",
            "triggers": [],
        },
        {
            "name": "github",
            "type": "knowledge",
            "content": "Use the GITHUB_TOKEN with the GitHub API.",
            "triggers": ["github", "pr"],
        },
    ]
    return json_response({"skills": skills})


def get_hooks(ctx: Context, request: Request) -> Response:
    """Answer ``GET /{id}/hooks`` (an empty list unless the sandbox is RUNNING)."""
    conversation = _proxied_conversation(ctx, request)
    if conversation is None:
        return json_response({"hooks": []})
    hook = {"type": "command", "command": "ruff check --quiet", "timeout": 60, "async": False}
    return json_response(
        {
            "hooks": [
                {
                    "event_type": "PostToolUse",
                    "matchers": [{"matcher": "file_editor", "hooks": [hook]}],
                }
            ]
        }
    )


def _git_conversation(ctx: Context, request: Request) -> Conversation:
    _uuid_path(request)
    request.required_value("path")
    conversation = _conversation_or_404(ctx, request)
    if ctx.store.sandbox_status(conversation) != "RUNNING":
        raise detail_error(409, "Sandbox is not running; resume it first")
    return conversation


def _is_hostile(conversation: Conversation) -> bool:
    return any("hostile_path" in run.flavor for run in conversation.runs)


def get_git_changes(ctx: Context, request: Request) -> Response:
    """Answer ``GET /{id}/git/changes`` with the files the agent edited."""
    conversation = _git_conversation(ctx, request)
    changes = [{"status": "UPDATED", "path": path} for path, _, _ in EDITS[:3]]
    changes.append({"status": "ADDED", "path": "tests/test_pagination.py"})
    if _is_hostile(conversation):
        changes.append({"status": "ADDED", "path": HOSTILE_FILE_NAME})
    return json_response(changes)


def get_git_diff(ctx: Context, request: Request) -> Response:
    """Answer ``GET /{id}/git/diff`` with the whole old and new text of one file."""
    conversation = _git_conversation(ctx, request)
    path = request.required_value("path").removeprefix(WORKSPACE + "/")
    for relative, old, new in EDITS:
        if path == relative:
            return json_response({"modified": new, "original": old})
    if path == HOSTILE_FILE_NAME and _is_hostile(conversation):
        return json_response({"modified": '# <b>Renamed</b> & "quoted"\n', "original": ""})
    return json_response({"modified": None, "original": None})


def read_file(ctx: Context, request: Request) -> Response:
    """Answer ``GET /{id}/file``: the file's text, ``""`` on any failure (as upstream)."""
    _uuid_path(request)
    file_path = request.value("file_path") or f"{WORKSPACE}/PLAN.md"
    conversation = ctx.store.conversation_for(ctx.owner, request.path_params["conversation_id"])
    if conversation is None or ctx.store.sandbox_status(conversation) != "RUNNING":
        return json_response("")
    files = {
        f"{WORKSPACE}/PLAN.md": "# Plan\n\n1. Reproduce the problem\n2. Fix it\n3. Add a test\n",
        f"{WORKSPACE}/README.md": f"# {conversation.selected_repository or 'project'}\n",
    }
    return json_response(files.get(file_path, ""))


def download_conversation(ctx: Context, request: Request) -> Response:
    """Answer ``GET /{id}/download``: the trajectory zip, streamed; 413 over 10,000 events."""
    _uuid_path(request)
    conversation = _conversation_or_404(ctx, request)
    timeline = ctx.store.timeline(conversation, ctx.now)
    if len(timeline) > EXPORT_MAX_EVENTS:
        raise detail_error(
            413,
            f"Conversation has {len(timeline)} events; exports are limited to {EXPORT_MAX_EVENTS}",
        )
    meta = conversation_info_json(conversation, ctx.now)
    modified = conversation.updated_at(ctx.now)
    dashed = str(uuid.UUID(conversation.id))
    return Response(
        content_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="conversation_{dashed}.zip"'},
        stream=lambda: trajectory_zip(meta, timeline, modified),
        replayable=True,
    )


# -- start tasks ---------------------------------------------------------------------------------


def _task_ids(request: Request) -> list[str]:
    ids = request.required_values("ids")
    if len(ids) > MAX_BATCH_START_TASKS:
        raise detail_error(400, f"Too many ids requested. Maximum is {MAX_BATCH_START_TASKS}.")
    for index, task_id in enumerate(ids):
        if normalize_uuid(task_id) is None:
            raise validation_error(
                ["query", "ids", index], "uuid_parsing", "Input should be a valid UUID", task_id
            )
    return ids


def batch_get_start_tasks(ctx: Context, request: Request) -> Response:
    """Answer ``GET /start-tasks?ids=``; each poll moves a task one step on."""
    result = []
    for task_id in _task_ids(request):
        task = ctx.store.start_task_for(ctx.owner, task_id)
        if task is not None:
            ctx.simulation.progress_start_task(task, ctx.now, polled=True)
        result.append(start_task_json(task) if task else None)
    return json_response(result)


def _matching_start_tasks(ctx: Context, request: Request) -> list[Any]:
    conversation_id = request.value("conversation_id__eq")
    if conversation_id is not None and normalize_uuid(conversation_id) is None:
        raise validation_error(
            ["query", "conversation_id__eq"],
            "uuid_parsing",
            "Input should be a valid UUID",
            conversation_id,
        )
    created_gte = request.datetime("created_at__gte")
    tasks = []
    for task in ctx.store.start_tasks_of(ctx.owner):
        ctx.simulation.progress_start_task(task, ctx.now, polled=True)
        if conversation_id is not None and task.app_conversation_id != normalize_uuid(
            conversation_id
        ):
            continue
        if created_gte is not None and task.created_at < created_gte:
            continue
        tasks.append(task)
    return tasks


def search_start_tasks(ctx: Context, request: Request) -> Response:
    """Answer ``GET /start-tasks/search`` (``sort_order`` is honoured here)."""
    sort_order = request.choice("sort_order", START_TASK_SORT_ORDERS, None) or "CREATED_AT_DESC"
    limit, offset = request.limit(), request.offset()
    tasks = _matching_start_tasks(ctx, request)
    field_name = "updated_at" if sort_order.startswith("UPDATED") else "created_at"
    tasks.sort(key=lambda task: getattr(task, field_name), reverse=sort_order.endswith("DESC"))
    items = [start_task_json(task) for task in tasks[offset : offset + limit]]
    return json_response(page(items, offset, limit, len(tasks)))


def count_start_tasks(ctx: Context, request: Request) -> Response:
    """Answer ``GET /start-tasks/count``."""
    return json_response(len(_matching_start_tasks(ctx, request)))
