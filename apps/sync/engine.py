"""One sync run of one Cloud account: conversations (incremental, or a full reconciliation
when due or asked for), then sandboxes (always the whole list), each with its job state in
`SyncState`.

Conversation search is ordered by `created_at` and cannot be sorted by `updated_at`, so an
incremental run asks for `updated_at >= cursor - overlap` and follows every page of that
(normally one short page). A full run pages through everything, then asks the batch endpoint
about each local row it did not see: `null` marks it `deleted_upstream_at`, anything else was
only shifted out of view by offset paging and is upserted. Nothing local is ever deleted.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from apps.accounts.models import CloudAccount
from apps.conversations.models import Conversation
from apps.core.logging import redact
from apps.openhands import (
    AgentServerClient,
    AppServerClient,
    AuthenticationError,
    OpenHandsError,
)
from apps.openhands.dates import to_query_datetime
from apps.openhands.records import Sandbox as SandboxRecord
from apps.openhands.transport import Clock
from apps.sandboxes.models import Sandbox
from apps.sync import upstream
from apps.sync.budget import BudgetedTransport, RateBudgetExceededError, budgeted_client
from apps.sync.lease import AccountLease
from apps.sync.mirror import (
    CONVERSATIONS,
    SANDBOXES,
    MalformedRecordError,
    MirrorKind,
    Parsed,
    parse_item,
    record_problem,
    upsert,
)
from apps.sync.models import Resource, SyncState

logger = logging.getLogger(__name__)

ERROR_MAX_CHARS = 1000


class LeaseLostError(Exception):
    """Signal that another worker took this account's sync over (our lease expired)."""


@dataclass
class ResourceResult:
    """What one resource's run found and changed."""

    changed: int = 0
    seen: int = 0
    problems: int = 0
    cursor: datetime | None = None
    full: bool = False


@dataclass
class SyncContext:
    """What every step of one account's run needs."""

    account: CloudAccount
    client: AppServerClient
    transport: BudgetedTransport
    lease: AccountLease
    started: datetime
    agent_transport: httpx.BaseTransport | None = None
    # An operator's "reconcile now": reconcile the conversations even if it is not due.
    full: bool = False

    def renew_lease(self) -> None:
        """Extend the lease between pages; stop the run if another worker took over."""
        if not self.lease.renew():
            raise LeaseLostError(
                "The sync lease expired and another worker took this account over; this run "
                "stopped so that the two do not overlap."
            )

    def mirror_page(
        self, kind: MirrorKind, items: Iterable[Any], result: ResourceResult
    ) -> list[Parsed]:
        """Validate, record problems in, and upsert one page of raw items; return the valid ones."""
        parsed: list[Parsed] = []
        for item in items:
            try:
                parsed.append(parse_item(kind, item))
            except MalformedRecordError as exc:
                result.problems += 1
                logger.warning("Skipping a malformed %s record of %s: %s", kind.resource,
                               self.account, exc)  # fmt: skip
                record_problem(self.account, kind.resource, exc, item)
        page = upsert(self.account, kind, parsed, timezone.now())
        result.changed += page.changed
        result.seen += len(page.seen_ids)
        if page.newest_update and (result.cursor is None or page.newest_update > result.cursor):
            result.cursor = page.newest_update
        self.renew_lease()
        return parsed


def key_fingerprint(account: CloudAccount) -> str:
    """Return a digest that changes whenever the key, address or organization is edited."""
    material = f"{account.base_url}\n{account.org_id}\n{account.encrypted_api_key}"
    return hashlib.sha256(material.encode()).hexdigest()


def run_account_sync(
    account_id: int,
    *,
    force: bool = False,
    full: bool = False,
    inner_transport: httpx.BaseTransport | None = None,
    agent_transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
) -> list[SyncState] | None:
    """Sync one account if it is enabled and no other worker is syncing it.

    Return the updated job states, or None when the run was skipped (unknown or disabled
    account, lease held elsewhere, or a rejected key that was not edited since — unless
    `force`, which an operator's "sync now" sets). `full` reconciles the conversations even
    when that is not due ("reconcile now").
    """
    account = CloudAccount.objects.filter(pk=account_id).first()
    if account is None or not account.enabled:
        return None
    lease = AccountLease(account.pk, ttl=settings.SYNC_LOCK_SECONDS)
    if not lease.acquire():
        logger.info("Sync of %s skipped: another worker is syncing it", account)
        return None
    try:
        states = {
            resource: SyncState.objects.get_or_create(account=account, resource=resource)[0]
            for resource in Resource
        }
        if not force and _rejected_key_unchanged(account, states[Resource.CONVERSATIONS]):
            logger.info("Sync of %s skipped: its key was rejected and has not been edited", account)
            return None
        client, transport = budgeted_client(account, inner=inner_transport, clock=clock)
        with client:
            context = SyncContext(
                account, client, transport, lease, timezone.now(), agent_transport, full
            )
            _run_resources(context, states)
        return list(states.values())
    finally:
        lease.release()


def _run_resources(context: SyncContext, states: dict[Resource, SyncState]) -> None:
    steps: list[tuple[Resource, Callable[[SyncContext, SyncState], ResourceResult]]] = [
        (Resource.CONVERSATIONS, sync_conversations),
        (Resource.SANDBOXES, sync_sandboxes),
    ]
    for resource, step in steps:
        status = _run_step(context, states[resource], step)
        if status == SyncState.Status.AUTH_FAILED:
            # The same key serves every resource: don't spend another request to learn that.
            for other in states.values():
                if other.status != SyncState.Status.AUTH_FAILED:
                    _copy_auth_failure(states[resource], other)
            return


def _run_step(
    context: SyncContext,
    state: SyncState,
    step: Callable[[SyncContext, SyncState], ResourceResult],
) -> str:
    """Run one resource's sync and write its outcome to `state`; return the new status."""
    state.last_started_at = timezone.now()
    state.save(update_fields=["last_started_at"])
    requests_before = context.transport.requests
    began = time.monotonic()
    try:
        result = step(context, state)
    except AuthenticationError as exc:
        _record_failure(state, exc, SyncState.Status.AUTH_FAILED)
        state.rejected_key_fingerprint = key_fingerprint(context.account)
    except (OpenHandsError, RateBudgetExceededError, LeaseLostError) as exc:
        _record_failure(state, exc, SyncState.Status.FAILING)
    else:
        _record_success(state, result)
    state.last_finished_at = timezone.now()
    state.last_duration_seconds = time.monotonic() - began
    state.last_requests = context.transport.requests - requests_before
    state.save()
    return state.status


def _record_success(state: SyncState, result: ResourceResult) -> None:
    state.status = SyncState.Status.OK
    state.cursor = result.cursor or state.cursor
    state.last_changed = result.changed
    state.last_seen = result.seen
    state.last_was_full = result.full
    state.last_error = (
        f"{result.problems} malformed record(s) skipped; see the sync problems."
        if result.problems
        else ""
    )
    state.consecutive_failures = 0
    state.rejected_key_fingerprint = ""
    state.last_success_at = timezone.now()
    if result.full:
        state.last_full_sync_at = state.last_started_at


def _record_failure(state: SyncState, exc: Exception, status: str) -> None:
    logger.warning("Sync of %s %s failed: %s", state.account, state.resource, exc)
    state.status = status
    state.last_error = redact(str(exc))[:ERROR_MAX_CHARS]
    state.consecutive_failures += 1
    state.last_changed = 0


def _copy_auth_failure(source: SyncState, target: SyncState) -> None:
    target.status = source.status
    target.last_error = source.last_error
    target.rejected_key_fingerprint = source.rejected_key_fingerprint
    target.consecutive_failures += 1
    target.last_started_at = target.last_finished_at = source.last_finished_at
    target.last_requests = 0
    target.last_changed = 0
    target.save()


def _rejected_key_unchanged(account: CloudAccount, state: SyncState) -> bool:
    """Return True while a rejected key is unchanged and the hourly probe is not due."""
    if state.status != SyncState.Status.AUTH_FAILED or state.last_started_at is None:
        return False
    if state.rejected_key_fingerprint != key_fingerprint(account):
        return False
    probe_due = state.last_started_at + timedelta(seconds=settings.SYNC_AUTH_PROBE_SECONDS)
    return timezone.now() < probe_due


# Conversations -----------------------------------------------------------------------------


def _reconciliation_due(state: SyncState, now: datetime) -> bool:
    if state.cursor is None or state.last_full_sync_at is None:
        return True
    interval = timedelta(seconds=settings.SYNC_RECONCILE_INTERVAL_SECONDS)
    return now - state.last_full_sync_at >= interval


def sync_conversations(context: SyncContext, state: SyncState) -> ResourceResult:
    """Mirror the conversations changed since the cursor, or all of them in a full run."""
    full = context.full or _reconciliation_due(state, context.started)
    result = ResourceResult(full=full, cursor=state.cursor)
    params: dict[str, Any] = {"include_sub_conversations": True}
    if not full:
        overlap = timedelta(seconds=settings.SYNC_CURSOR_OVERLAP_SECONDS)
        params["updated_at__gte"] = to_query_datetime(state.cursor - overlap)
    seen: set[str] = set()
    for items in upstream.iter_raw_pages(context.client, upstream.CONVERSATION_SEARCH, params):
        parsed_page = context.mirror_page(CONVERSATIONS, items, result)
        seen.update(parsed.record.id for parsed in parsed_page)
    if full:
        _reconcile(context, CONVERSATIONS, upstream.CONVERSATION_BATCH, seen, result)
    return result


def _reconcile(
    context: SyncContext,
    kind: MirrorKind,
    batch: tuple[str, str, int],
    seen: set[str],
    result: ResourceResult,
) -> None:
    """Mark rows not seen in a complete listing as deleted upstream, once the server agrees.

    Offset paging over a list that shrinks meanwhile can skip an item, so each unseen id is
    confirmed with the batch lookup before it is marked; items it still returns are upserted.
    """
    live = kind.model.objects.filter(account=context.account, deleted_upstream_at__isnull=True)
    unseen = sorted(set(live.values_list("remote_id", flat=True)) - seen)
    if not unseen:
        return
    found = upstream.fetch_raw_batch(context.client, batch, unseen)
    gone = [remote_id for remote_id, item in found.items() if item is None]
    context.mirror_page(kind, [item for item in found.values() if item is not None], result)
    marked = kind.model.objects.filter(
        account=context.account, remote_id__in=gone, deleted_upstream_at__isnull=True
    ).update(deleted_upstream_at=timezone.now())
    result.changed += marked
    if marked:
        logger.info("%s: %d %s deleted upstream", context.account, marked, kind.resource)


# Sandboxes ---------------------------------------------------------------------------------


def sync_sandboxes(context: SyncContext, state: SyncState) -> ResourceResult:
    """Mirror every sandbox (a short list), mark vanished ones, and derive idle times."""
    result = ResourceResult(full=True)
    seen: set[str] = set()
    running: dict[str, SandboxRecord] = {}
    for items in upstream.iter_raw_pages(context.client, upstream.SANDBOX_SEARCH, {}):
        for parsed in context.mirror_page(SANDBOXES, items, result):
            seen.add(parsed.record.id)
            if parsed.record.status == "RUNNING":
                running[parsed.record.id] = parsed.record
    _reconcile(context, SANDBOXES, upstream.SANDBOX_BATCH, seen, result)
    update_idle_times(context, seen, running)
    return result


def update_idle_times(
    context: SyncContext, remote_ids: set[str], running: dict[str, SandboxRecord]
) -> None:
    """Set each sandbox's idle_since to its latest known activity.

    Activity is the newest `updated_at` of the conversations it hosts and, for a RUNNING
    sandbox, what its agent server reports as `idle_time` (asked at most every
    SYNC_AGENT_PROBE_SECONDS; the session key comes from this run's record and is dropped).
    """
    last_update = dict(
        Conversation.objects.filter(account=context.account, sandbox_id__in=remote_ids)
        .values("sandbox_id")
        .annotate(last=Max("remote_updated_at"))
        .values_list("sandbox_id", "last")
    )
    rows = list(Sandbox.objects.filter(account=context.account, remote_id__in=remote_ids))
    now = timezone.now()
    for row in rows:
        agent_activity = None
        record = running.get(row.remote_id)
        if record is not None and _agent_probe_due(row, now):
            row.agent_checked_at = now
            agent_activity = _agent_last_activity(context, record, now)
        elif record is not None and row.idle_source == Sandbox.IdleSource.AGENT_SERVER:
            agent_activity = row.idle_since
        candidates = [
            (moment, source)
            for moment, source in (
                (last_update.get(row.remote_id), Sandbox.IdleSource.CONVERSATIONS),
                (agent_activity, Sandbox.IdleSource.AGENT_SERVER),
            )
            if moment is not None
        ]
        row.idle_since, row.idle_source = max(candidates, default=(None, ""))
    Sandbox.objects.bulk_update(rows, ["idle_since", "idle_source", "agent_checked_at"])


def _agent_probe_due(row: Sandbox, now: datetime) -> bool:
    interval = settings.SYNC_AGENT_PROBE_SECONDS
    if interval <= 0:
        return False
    return row.agent_checked_at is None or now - row.agent_checked_at >= timedelta(seconds=interval)


def _agent_last_activity(
    context: SyncContext, record: SandboxRecord, now: datetime
) -> datetime | None:
    """Ask a RUNNING sandbox's agent server how long it has been idle; None if unreachable."""
    try:
        with AgentServerClient.for_sandbox(
            record, max_retries=0, transport=context.agent_transport
        ) as agent:
            idle_time = agent.server_info().get("idle_time")
    except OpenHandsError as exc:
        logger.info("Agent server of sandbox %s not reachable for idle time: %s", record.id, exc)
        return None
    if isinstance(idle_time, bool) or not isinstance(idle_time, int | float) or idle_time < 0:
        return None
    return now - timedelta(seconds=float(idle_time))
