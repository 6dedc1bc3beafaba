"""The control API under ``/_fake/``: tests drive the fake through it (no auth, no faults).

=====================================  ==========================================================
``GET  /_fake/state``                  scenario, clock, users and their record counts, deleted ids
``GET  /_fake/clock``                  ``{"now", "frozen"}``
``POST /_fake/clock``                  ``{"advance_seconds": 600}`` and/or ``{"frozen": true}``
``POST /_fake/reset``                  regenerate the world; optional overrides of any setting
                                       (``scenario``, ``seed``, ``start_time``, counts, pacing,
                                       ``auth``, ``api_keys``, rate limits); clears faults, stats
``GET  /_fake/stats``                  request counts: total, by route, by key, by status
``DELETE /_fake/stats``                zero the counts
``GET/POST/DELETE /_fake/faults``      list, add (see ``faults.py``), remove all fault rules
``DELETE /_fake/faults/{id}``          remove one rule
``POST /_fake/mutate``                 ``{"action": ..., ...}``, see :data:`MUTATIONS`
=====================================  ==========================================================

``/_fake/runtime/{sandbox}/...`` is where sandboxes' AGENT_SERVER URLs point: the fake does not
emulate agent servers and answers 502 there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from apps.fake_app_server.config import SettingsError
from apps.fake_app_server.faults import FaultSpecError
from apps.fake_app_server.ids import normalize_uuid
from apps.fake_app_server.model import RUN_FINAL_STATUSES, SANDBOX_STATUSES, Conversation, Run
from apps.fake_app_server.protocol import ApiError, Request, Response, json_response
from apps.fake_app_server.serializers import conversation_json, sandbox_json
from apps.fake_app_server.state import ServingState
from apps.fake_app_server.timeutil import format_aware

if TYPE_CHECKING:
    from apps.fake_app_server.app import FakeApp

REQUIRED = object()


def control_error(message: str, status: int = 400) -> ApiError:
    """Return a control-API error: ``{"error": "..."}``."""
    return ApiError(status, {"error": message})


def _body(request: Request) -> dict[str, Any]:
    try:
        return request.json_object() if request.body else {}
    except ApiError:
        raise control_error("the body must be a JSON object") from None


def _param(
    params: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = REQUIRED
) -> Any:
    if name not in params:
        if default is REQUIRED:
            raise control_error(f"'{name}' is required")
        return default
    value = params[name]
    if isinstance(value, bool) and kind is not bool:
        raise control_error(f"'{name}' has the wrong type")
    if not isinstance(value, kind):
        raise control_error(f"'{name}' has the wrong type")
    return value


# -- state, clock, reset, stats, faults ---------------------------------------------------------


def get_state(app: FakeApp, _request: Request) -> Response:
    """Describe the current world."""
    state = app.state
    with state.store.lock:
        now = state.advance()
        store = state.store
        users = [
            {
                "index": user.index,
                "id": user.id,
                "email": user.email,
                "org_id": user.org_id,
                "org_name": user.org_name,
                "conversations": sum(1 for _ in store.conversations_of(user.index)),
                "sandboxes": len(store.sandboxes_of(user.index)),
            }
            for user in store.users
        ]
        scenario = state.settings.scenario
        access = state.settings.access
        return json_response(
            {
                "scenario": scenario.scenario,
                "seed": scenario.seed,
                "start_time": format_aware(store.start),
                "now": format_aware(now),
                "clock_frozen": state.clock.frozen,
                "auth": access.auth,
                "api_key_count": len(access.api_keys),
                "rate_limits": {
                    "per_second": access.rate_limit_per_second,
                    "per_minute": access.rate_limit_per_minute,
                },
                "base_url": store.base_url,
                "users": users,
                "deleted_conversation_ids": list(store.deleted_conversation_ids),
            }
        )


def get_clock(app: FakeApp, _request: Request) -> Response:
    """Tell the fake time."""
    clock = app.state.clock
    return json_response({"now": format_aware(clock.now()), "frozen": clock.frozen})


def set_clock(app: FakeApp, request: Request) -> Response:
    """Advance and/or freeze the clock, then apply what became due."""
    body = _body(request)
    unknown = set(body) - {"advance_seconds", "frozen"}
    if unknown:
        raise control_error(f"unknown field(s) {', '.join(sorted(unknown))}")
    state = app.state
    if "frozen" in body:
        state.clock.set_frozen(_param(body, "frozen", bool))
    seconds = _param(body, "advance_seconds", (int, float), 0)
    try:
        state.clock.advance(seconds)
    except ValueError as error:
        raise control_error(str(error)) from None
    with state.store.lock:
        now = state.advance()
    return json_response({"now": format_aware(now), "frozen": state.clock.frozen})


def reset(app: FakeApp, request: Request) -> Response:
    """Regenerate the world from the startup settings plus the body's overrides."""
    try:
        app.reset(_body(request))
    except SettingsError as error:
        raise control_error(str(error)) from None
    return get_state(app, request)


def get_stats(app: FakeApp, _request: Request) -> Response:
    """Return the request counts."""
    return json_response(app.stats.snapshot())


def clear_stats(app: FakeApp, _request: Request) -> Response:
    """Zero the request counts."""
    app.stats.clear()
    return json_response(app.stats.snapshot())


def list_faults(app: FakeApp, _request: Request) -> Response:
    """Return the fault rules with their counters."""
    return json_response(app.faults.rules())


def add_fault(app: FakeApp, request: Request) -> Response:
    """Register a fault rule."""
    try:
        rule = app.faults.add(_body(request))
    except FaultSpecError as error:
        raise control_error(str(error)) from None
    return json_response(rule.to_json(), status=201)


def clear_faults(app: FakeApp, _request: Request) -> Response:
    """Remove every fault rule."""
    app.faults.clear()
    return json_response([])


def remove_fault(app: FakeApp, request: Request) -> Response:
    """Remove one fault rule."""
    if not app.faults.remove(request.path_params["fault_id"]):
        raise control_error("no such fault rule", status=404)
    return json_response({"removed": request.path_params["fault_id"]})


def runtime(_app: FakeApp, _request: Request) -> Response:
    """Answer for the sandboxes' agent-server URLs, which the fake does not emulate."""
    raise ApiError(
        502,
        {
            "detail": "The fake App Server does not emulate agent servers; use a "
            "real agent server (live test tier) for agent-server calls."
        },
    )


# -- mutations -------------------------------------------------------------------------------------

Mutation = Callable[[ServingState, datetime, dict[str, Any]], dict[str, Any]]


def mutate(app: FakeApp, request: Request) -> Response:
    """Change the world the way the upstream service or another client would."""
    params = _body(request)
    action = params.pop("action", None)
    mutation = MUTATIONS.get(action) if isinstance(action, str) else None
    if mutation is None:
        raise control_error(f"'action' must be one of {', '.join(sorted(MUTATIONS))}")
    state = app.state
    with state.store.lock:
        now = state.advance()
        return json_response(mutation(state, now, params))


def _conversation(state: ServingState, params: dict[str, Any]) -> Conversation:
    conversation_id = normalize_uuid(_param(params, "conversation_id", str)) or ""
    conversation = state.store.conversations.get(conversation_id)
    if conversation is None:
        raise control_error("no such conversation", status=404)
    return conversation


def _touch(state: ServingState, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
    """Mark a conversation updated now (optionally with a new title)."""
    conversation = _conversation(state, params)
    title = _param(params, "title", str, None)
    if title is not None:
        conversation.title = title
        conversation.auto_title = None
    conversation.touched_at = now
    return {"conversation": conversation_json(state.store, conversation, now)}


def _delete_conversation(
    state: ServingState, _now: datetime, params: dict[str, Any]
) -> dict[str, Any]:
    """Delete a conversation upstream (and its sub-conversations)."""
    return {"deleted": state.store.remove_conversation(_conversation(state, params))}


def _add_conversations(
    state: ServingState, now: datetime, params: dict[str, Any]
) -> dict[str, Any]:
    """Create conversations now, as if started elsewhere (running unless told otherwise)."""
    count = _param(params, "count", int, 1)
    owner = _param(params, "user", int, 0)
    running = _param(params, "running", bool, True)
    if not 1 <= count <= 1000 or not 0 <= owner < len(state.store.users):
        raise control_error("count must be 1..1000 and user an existing user index")
    simulation = state.simulation
    ids = []
    for _ in range(count):
        sandbox = simulation.sandbox_for_new_work(owner, now)
        message = f"Added by the control API at {format_aware(now)}"
        conversation = simulation.new_conversation(
            owner=owner,
            sandbox=sandbox,
            at=now,
            request={},
            message=message,
            run_agent=running,
        )
        ids.append(conversation.id)
    return {"conversation_ids": ids}


def _finish_conversation(
    state: ServingState, now: datetime, params: dict[str, Any]
) -> dict[str, Any]:
    """Stop a running conversation now with ``status`` (default ``finished``)."""
    conversation = _conversation(state, params)
    status = _param(params, "status", str, "finished")
    if status not in RUN_FINAL_STATUSES:
        raise control_error(f"status must be one of {', '.join(RUN_FINAL_STATUSES)}")
    if not conversation.is_active(now):
        raise control_error("the conversation is not running", status=409)
    conversation.runs[-1] = conversation.runs[-1].cut(now, status)
    return {"conversation": conversation_json(state.store, conversation, now)}


def _append_events(state: ServingState, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
    """Add ``count`` events to an idle conversation, all visible at once."""
    conversation = _conversation(state, params)
    count = _param(params, "count", int)
    if not 1 <= count <= 100_000:
        raise control_error("count must be 1..100000")
    if conversation.is_active(now):
        raise control_error("the conversation is running; finish it first", status=409)
    # Spread over the time since the last event; with a frozen clock they may share `now`.
    start = min(conversation.last_activity(now) + timedelta(microseconds=1), now)
    run = Run(
        started_at=start,
        planned_end=now,
        planned_count=count,
        final_status="finished",
        message="Please continue.",
        first=False,
    )
    conversation.runs.append(run)
    return {"event_count": conversation.visible_event_count(now)}


def _set_sandbox_status(
    state: ServingState, now: datetime, params: dict[str, Any]
) -> dict[str, Any]:
    """Put a sandbox in any status (e.g. MISSING when its runtime vanished)."""
    sandbox = state.store.sandboxes.get(_param(params, "sandbox_id", str))
    if sandbox is None:
        raise control_error("no such sandbox", status=404)
    status = _param(params, "status", str)
    if status not in SANDBOX_STATUSES:
        raise control_error(f"status must be one of {', '.join(SANDBOX_STATUSES)}")
    if status != "RUNNING":
        state.simulation.pause_sandbox(sandbox, now)
    sandbox.set_status(status, now)
    sandbox.status_detail = _param(params, "status_detail", str, sandbox.status_detail)
    return {"sandbox": sandbox_json(state.store, sandbox)}


def _delete_sandbox(state: ServingState, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
    """Remove a sandbox record upstream."""
    sandbox = state.store.sandboxes.get(_param(params, "sandbox_id", str))
    if sandbox is None:
        raise control_error("no such sandbox", status=404)
    state.simulation.pause_sandbox(sandbox, now)
    state.store.remove_sandbox(sandbox)
    return {"deleted": sandbox.id}


def _revoke_key(state: ServingState, _now: datetime, params: dict[str, Any]) -> dict[str, Any]:
    """Make an API key invalid (401 from now on)."""
    return {"revoked": state.gatekeeper.revoke(_param(params, "api_key", str))}


def _fail_next_start(state: ServingState, _now: datetime, params: dict[str, Any]) -> dict[str, Any]:
    """Make the next ``count`` start tasks end in ERROR with ``detail``."""
    detail = _param(params, "detail", str, "Sandbox failed to start: no capacity (injected)")
    count = _param(params, "count", int, 1)
    state.simulation.failing_starts.extend([detail] * max(1, count))
    return {"failing_starts": len(state.simulation.failing_starts)}


MUTATIONS: dict[str, Mutation] = {
    "touch_conversation": _touch,
    "delete_conversation": _delete_conversation,
    "add_conversations": _add_conversations,
    "finish_conversation": _finish_conversation,
    "append_events": _append_events,
    "set_sandbox_status": _set_sandbox_status,
    "delete_sandbox": _delete_sandbox,
    "revoke_key": _revoke_key,
    "fail_next_start": _fail_next_start,
}
