"""Handlers of ``/api/v1/sandboxes`` and ``/api/v1/sandbox-specs``."""

from __future__ import annotations

from apps.fake_app_server.data import DEFAULT_SPEC_ID
from apps.fake_app_server.model import Sandbox
from apps.fake_app_server.protocol import (
    Request,
    Response,
    detail_error,
    json_response,
    page,
)
from apps.fake_app_server.serializers import sandbox_json, spec_json
from apps.fake_app_server.state import Context

MAX_BATCH_SANDBOXES = 100
SUCCESS = {"success": True}


def search_sandboxes(ctx: Context, request: Request) -> Response:
    """Answer ``GET /sandboxes/search``: the caller's sandboxes, newest first, no filters."""
    limit, offset = request.limit(), request.offset()
    sandboxes = ctx.store.sandboxes_of(ctx.owner)
    items = [sandbox_json(ctx.store, sandbox) for sandbox in sandboxes[offset : offset + limit]]
    return json_response(page(items, offset, limit, len(sandboxes)))


def batch_get_sandboxes(ctx: Context, request: Request) -> Response:
    """Answer ``GET /sandboxes?id=`` (singular ``id``); null for unknown or deleted ones."""
    ids = request.required_values("id")
    if len(ids) > MAX_BATCH_SANDBOXES:
        raise detail_error(400, f"Too many ids requested. Maximum is {MAX_BATCH_SANDBOXES}.")
    result = []
    for sandbox_id in ids:
        sandbox = ctx.store.sandbox_for(ctx.owner, sandbox_id)
        result.append(sandbox_json(ctx.store, sandbox) if sandbox else None)
    return json_response(result)


def start_sandbox(ctx: Context, request: Request) -> Response:
    """Answer ``POST /sandboxes?sandbox_spec_id=``: a STARTING sandbox."""
    spec_id = request.value("sandbox_spec_id") or DEFAULT_SPEC_ID
    if ctx.store.spec_for(spec_id) is None:
        # Upstream fails deep in the runtime service: a 500, not a validation error.
        raise detail_error(500, f"Unknown sandbox spec: {spec_id}")
    sandbox = ctx.simulation.create_sandbox(ctx.owner, spec_id, ctx.now)
    return json_response(sandbox_json(ctx.store, sandbox))


def _live_sandbox_or_404(ctx: Context, sandbox_id: str) -> Sandbox:
    """Return the sandbox if its runtime still exists; upstream says 404 otherwise."""
    sandbox = ctx.store.sandbox_for(ctx.owner, sandbox_id)
    if sandbox is None or sandbox.status == "MISSING":
        raise detail_error(404, "Sandbox not found")
    return sandbox


def pause_sandbox(ctx: Context, request: Request) -> Response:
    """Answer ``POST /sandboxes/{id}/pause`` (the session key stops working)."""
    sandbox = _live_sandbox_or_404(ctx, request.path_params["sandbox_id"])
    ctx.simulation.pause_sandbox(sandbox, ctx.now)
    return json_response(SUCCESS)


def resume_sandbox(ctx: Context, request: Request) -> Response:
    """Answer ``POST /sandboxes/{id}/resume``: returns before the sandbox is RUNNING."""
    sandbox = _live_sandbox_or_404(ctx, request.path_params["sandbox_id"])
    ctx.simulation.resume_sandbox(sandbox, ctx.now)
    return json_response(SUCCESS)


def delete_sandbox(ctx: Context, request: Request) -> Response:
    """Answer ``DELETE /sandboxes/{id}?sandbox_id=``: the query parameter decides, not the path."""
    sandbox_id = request.required_value("sandbox_id")
    sandbox = ctx.store.sandbox_for(ctx.owner, sandbox_id)
    if sandbox is None:
        raise detail_error(404, "Sandbox not found")
    ctx.simulation.pause_sandbox(sandbox, ctx.now)
    ctx.store.remove_sandbox(sandbox)
    return json_response(SUCCESS)


def search_sandbox_specs(ctx: Context, request: Request) -> Response:
    """Answer ``GET /sandbox-specs/search`` (offset paging over the preset list)."""
    limit, offset = request.limit(), request.offset()
    specs = ctx.store.specs
    items = [spec_json(spec) for spec in specs[offset : offset + limit]]
    return json_response(page(items, offset, limit, len(specs)))


def batch_get_sandbox_specs(ctx: Context, request: Request) -> Response:
    """Answer ``GET /sandbox-specs?id=``; over 100 ids upstream fails an assert (500)."""
    ids = request.required_values("id")
    if len(ids) > MAX_BATCH_SANDBOXES:
        raise detail_error(500, "Too many ids requested")
    result = []
    for spec_id in ids:
        spec = ctx.store.spec_for(spec_id)
        result.append(spec_json(spec) if spec else None)
    return json_response(result)
