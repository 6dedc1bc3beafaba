"""Handlers of ``/api/v1/conversation/{id}/events`` (singular ``conversation``), users, health."""

from __future__ import annotations

from apps.fake_app_server.events import KNOWN_EVENT_KINDS, EventTimeline, select_refs
from apps.fake_app_server.ids import normalize_uuid
from apps.fake_app_server.protocol import (
    ApiError,
    Request,
    Response,
    detail_error,
    json_response,
    page,
)
from apps.fake_app_server.serializers import user_json
from apps.fake_app_server.state import Context
from apps.fake_app_server.timeutil import naive_filter_string

MAX_BATCH_EVENTS = 100
EVENT_SORT_ORDERS = ("TIMESTAMP", "TIMESTAMP_DESC")


def _timeline(ctx: Context, request: Request) -> EventTimeline | None:
    """Return the conversation's events; ``None`` for an unknown or foreign conversation.

    Upstream reads a storage prefix: unknown ids give an empty answer, not 404, while a
    malformed id crashes the route (500).
    """
    conversation_id = request.path_params["conversation_id"]
    if normalize_uuid(conversation_id) is None:
        raise ApiError(500, {"detail": "Internal Server Error"})
    conversation = ctx.store.conversation_for(ctx.owner, conversation_id)
    if conversation is None:
        return None
    return ctx.store.timeline(conversation, ctx.now)


def _timestamp_filter(request: Request, name: str) -> str | None:
    request.datetime(name)  # 422 when it is not a date-time at all
    raw = request.value(name)
    return naive_filter_string(raw) if raw is not None else None


def _selected(ctx: Context, request: Request) -> tuple[EventTimeline | None, list]:
    kind = request.choice("kind__eq", KNOWN_EVENT_KINDS, None)
    gte = _timestamp_filter(request, "timestamp__gte")
    lt = _timestamp_filter(request, "timestamp__lt")
    timeline = _timeline(ctx, request)
    if timeline is None:
        return None, []
    refs = select_refs(timeline.refs(), kind=kind, timestamp_gte=gte, timestamp_lt=lt)
    return timeline, refs


def search_events(ctx: Context, request: Request) -> Response:
    """Answer ``GET /events/search``: filter, sort by timestamp, then offset-page."""
    sort_order = request.choice("sort_order", EVENT_SORT_ORDERS, None) or "TIMESTAMP"
    limit = request.limit()
    raw_page = request.value("page_id")
    if raw_page is not None and not raw_page.strip().isdigit():
        # The events service does int(page_id) without a guard.
        raise ApiError(500, {"detail": "Internal Server Error"})
    offset = int(raw_page) if raw_page is not None else 0
    timeline, refs = _selected(ctx, request)
    if sort_order == "TIMESTAMP_DESC":
        refs.reverse()
    items = [timeline.build(ref) for ref in refs[offset : offset + limit]] if timeline else []
    return json_response(page(items, offset, limit, len(refs)))


def count_events(ctx: Context, request: Request) -> Response:
    """Answer ``GET /events/count``."""
    return json_response(len(_selected(ctx, request)[1]))


def batch_get_events(ctx: Context, request: Request) -> Response:
    """Answer ``GET /events?id=`` (singular ``id``); null for unknown ids."""
    ids = request.required_values("id")
    if len(ids) > MAX_BATCH_EVENTS:
        raise detail_error(400, f"Too many ids requested. Maximum is {MAX_BATCH_EVENTS}.")
    timeline = _timeline(ctx, request)
    if timeline is None:
        return json_response([None] * len(ids))
    refs = timeline.refs_by_id()
    return json_response(
        [timeline.build(refs[event_id]) if event_id in refs else None for event_id in ids]
    )


def get_me(ctx: Context, _request: Request) -> Response:
    """Answer ``GET /users/me`` with the caller's SaasUserInfo (secrets always masked)."""
    return json_response(user_json(ctx.user))


def alive(_ctx: Context | None, _request: Request) -> Response:
    """Answer ``GET /alive``."""
    return json_response({"status": "ok"})


def health(_ctx: Context | None, _request: Request) -> Response:
    """Answer ``GET /health`` and ``GET /ready``."""
    return json_response("OK")
