"""Turn the fake's records into the JSON the App Server sends (Cloud OpenAPI shapes).

Live fields follow the real server: a conversation's ``execution_status``, ``conversation_url``
and ``session_api_key`` and a sandbox's ``exposed_urls`` and ``session_api_key`` are null unless
the sandbox is RUNNING. Session keys are derived from the sandbox's key epoch, so they change on
every pause and resume.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.fake_app_server.ids import stable_token
from apps.fake_app_server.model import (
    DEFAULT_LLM_MODEL,
    LLM_PROXY_URL,
    MASKED_VALUE,
    Conversation,
    Sandbox,
    SandboxSpec,
    StartTask,
    User,
)
from apps.fake_app_server.store import Store
from apps.fake_app_server.timeutil import format_aware

# The Cloud runtime's named ports (reference/app-server-v1.md §5.2).
EXPOSED_PORTS = (
    ("AGENT_SERVER", 60000),
    ("VSCODE", 60001),
    ("WORKER_1", 12000),
    ("WORKER_2", 12001),
)
START_REQUEST_FIELDS = (
    "sandbox_id",
    "conversation_id",
    "initial_message",
    "system_message_suffix",
    "processors",
    "llm_model",
    "agent_profile_id",
    "selected_repository",
    "selected_branch",
    "git_provider",
    "suggested_task",
    "title",
    "trigger",
    "pr_number",
    "parent_conversation_id",
    "agent_type",
    "public",
    "observability_metadata",
    "observability_tags",
    "observability_span_name",
    "plugins",
    "secrets",
)


def runtime_url(base_url: str, sandbox_id: str) -> str:
    """Return the AGENT_SERVER URL of a sandbox (a loopback path of the fake; not emulated)."""
    return f"{base_url}/_fake/runtime/{sandbox_id}"


def session_api_key(store: Store, sandbox: Sandbox) -> str | None:
    """Return the sandbox's current agent-server key, or ``None`` unless it is RUNNING."""
    if sandbox.status != "RUNNING":
        return None
    return "sess_" + stable_token(store.seed, sandbox.id, sandbox.key_epoch, "session")


def exposed_urls(store: Store, sandbox: Sandbox) -> list[dict[str, Any]] | None:
    """Return the sandbox's exposed URLs, or ``None`` unless it is RUNNING."""
    key = session_api_key(store, sandbox)
    if key is None:
        return None
    base = runtime_url(store.base_url, sandbox.id)
    urls = {
        "AGENT_SERVER": base,
        "VSCODE": f"{base}/vscode?tkn={key}&folder=%2Fworkspace%2Fproject",
        "WORKER_1": f"{base}/work-1",
        "WORKER_2": f"{base}/work-2",
    }
    return [{"name": name, "url": urls[name], "port": port} for name, port in EXPOSED_PORTS]


def sandbox_json(store: Store, sandbox: Sandbox) -> dict[str, Any]:
    """Return a SandboxInfo."""
    return {
        "id": sandbox.id,
        "created_by_user_id": sandbox.created_by_user_id,
        "sandbox_spec_id": sandbox.sandbox_spec_id,
        "status": sandbox.status,
        "session_api_key": session_api_key(store, sandbox),
        "exposed_urls": exposed_urls(store, sandbox),
        "created_at": format_aware(sandbox.created_at),
        "status_detail": sandbox.status_detail,
    }


def conversation_info_json(conversation: Conversation, now: datetime) -> dict[str, Any]:
    """Return the stored fields of a conversation (``meta.json`` of the download zip)."""
    return {
        "id": conversation.id,
        "created_by_user_id": conversation.created_by_user_id,
        "sandbox_id": conversation.sandbox_id,
        "selected_repository": conversation.selected_repository,
        "selected_branch": conversation.selected_branch,
        "git_provider": conversation.git_provider,
        "title": conversation.current_title(now),
        "trigger": conversation.trigger,
        "pr_number": list(conversation.pr_number),
        "llm_model": conversation.llm_model,
        "agent_kind": conversation.agent_kind,
        "metrics": conversation.metrics(now),
        "parent_conversation_id": conversation.parent_conversation_id,
        "sub_conversation_ids": list(conversation.sub_conversation_ids),
        "public": conversation.public,
        "tags": dict(conversation.tags),
        "created_at": format_aware(conversation.created_at),
        "updated_at": format_aware(conversation.updated_at(now)),
        "acp_server": None,
        "launched_agent_profile": None,
    }


def conversation_json(store: Store, conversation: Conversation, now: datetime) -> dict[str, Any]:
    """Return an AppConversation: the stored fields plus the live status."""
    sandbox_status = store.sandbox_status(conversation)
    sandbox = store.sandboxes.get(conversation.sandbox_id)
    running = sandbox_status == "RUNNING" and sandbox is not None
    return {
        **conversation_info_json(conversation, now),
        "sandbox_status": sandbox_status,
        "execution_status": conversation.execution_status(now) if running else None,
        "conversation_url": (
            f"{runtime_url(store.base_url, sandbox.id)}/api/conversations/{conversation.id}"
            if running
            else None
        ),
        "session_api_key": session_api_key(store, sandbox) if running else None,
    }


def start_task_json(task: StartTask) -> dict[str, Any]:
    """Return an AppConversationStartTask."""
    return {
        "id": task.id,
        "created_by_user_id": task.created_by_user_id,
        "status": task.status,
        "detail": task.detail,
        "app_conversation_id": task.app_conversation_id,
        "sandbox_id": task.sandbox_id,
        "agent_server_url": task.agent_server_url,
        "request": echo_start_request(task.request),
        "created_at": format_aware(task.created_at),
        "updated_at": format_aware(task.updated_at),
    }


def echo_start_request(request: dict[str, Any]) -> dict[str, Any]:
    """Return the start request as the task echoes it: every field, secrets withheld."""
    echoed: dict[str, Any] = dict.fromkeys(START_REQUEST_FIELDS)
    echoed.update({key: value for key, value in request.items() if key in START_REQUEST_FIELDS})
    echoed["pr_number"] = echoed["pr_number"] or []
    echoed["agent_type"] = echoed["agent_type"] or "default"
    # Secrets are write-only upstream: never send them back.
    echoed["secrets"] = None
    return echoed


def spec_json(spec: SandboxSpec) -> dict[str, Any]:
    """Return a SandboxSpecInfo."""
    return {
        "id": spec.id,
        "command": ["--port", "60000"],
        "created_at": format_aware(spec.created_at),
        "initial_env": {
            "OH_CONVERSATIONS_PATH": "/workspace/conversations",
            "OH_VSCODE_PORT": "60001",
        },
        "working_dir": spec.working_dir,
    }


def user_json(user: User) -> dict[str, Any]:
    """Return a SaasUserInfo with the fields a dashboard relies on and plausible settings."""
    return {
        "id": user.id,
        "email": user.email,
        "email_verified": True,
        "org_id": user.org_id,
        "org_name": user.org_name,
        "role": user.role,
        "permissions": ["conversations:read", "conversations:write", "sandboxes:manage"],
        "language": "en",
        "user_version": 1,
        "git_user_name": user.name,
        "git_user_email": user.email,
        "git_full_clone": False,
        "v1_enabled": True,
        "agent_settings": {
            "agent": "CodeActAgent",
            # The user's LLM settings, with the stored key masked like the real server does.
            "llm": {
                "model": DEFAULT_LLM_MODEL,
                "base_url": LLM_PROXY_URL,
                "api_key": MASKED_VALUE,
            },
        },
        "sandbox_grouping_strategy": "NO_GROUPING",
        "default_sandbox_spec_id": None,
        "active_agent_profile_id": None,
        "active_agent_profile_revision": None,
        "disabled_skills": [],
        "max_budget_per_task": None,
        "remote_runtime_resource_factor": 1,
        "sandbox_base_container_image": None,
        "sandbox_runtime_container_image": None,
        "enable_sound_notifications": False,
        "enable_proactive_conversation_starters": True,
        "user_consents_to_analytics": False,
        "search_api_key": None,
        "sandbox_api_key": None,
        "title_llm_profile": None,
        "registered_marketplaces": [],
        "inherited_marketplaces": [],
    }
