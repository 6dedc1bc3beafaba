"""Turn upstream JSON into mirror rows: validate, scrub secrets, upsert a page at a time."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models, transaction

from apps.accounts.models import CloudAccount
from apps.conversations.models import Conversation
from apps.openhands.records import Conversation as ConversationRecord
from apps.openhands.records import Record
from apps.openhands.records import Sandbox as SandboxRecord
from apps.sandboxes.models import Sandbox
from apps.sync.models import Resource, SyncProblem

# Never stored anywhere, at any depth: they carry (or embed) agent-server session keys.
ALWAYS_DROPPED = frozenset({"session_api_key"})
SAMPLE_MAX_CHARS = 2000


class MalformedRecordError(ValueError):
    """Signal an upstream item that cannot be mirrored; `remote_id` may be empty."""

    def __init__(self, message: str, remote_id: str = "") -> None:
        super().__init__(message)
        self.remote_id = remote_id


def scrub(value: Any, dropped: frozenset[str]) -> Any:
    """Return a copy of JSON `value` without the `dropped` keys (at any depth) and NUL chars.

    PostgreSQL cannot store NUL in text or JSON, so one odd title must not fail a whole page.
    """
    if isinstance(value, Mapping):
        return {
            str(key): scrub(item, dropped)
            for key, item in value.items()
            if key not in dropped and key not in ALWAYS_DROPPED
        }
    if isinstance(value, list):
        return [scrub(item, dropped) for item in value]
    if isinstance(value, str):
        return value.replace("\x00", "")
    return value


def _fit(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    """Return `values` with None made "" in text columns and strings cut to their max_length."""
    fitted = {}
    for name, value in values.items():
        model_field = model._meta.get_field(name)
        if isinstance(model_field, models.CharField | models.TextField):
            text = (value or "").replace("\x00", "")
            value = text[: model_field.max_length] if model_field.max_length else text
        fitted[name] = value
    return fitted


def _conversation_fields(record: ConversationRecord) -> dict[str, Any]:
    metrics = record.metrics
    return {
        "title": record.title,
        "sandbox_id": record.sandbox_id,
        "sandbox_status": record.sandbox_status,
        "execution_status": record.execution_status,
        "selected_repository": record.selected_repository,
        "selected_branch": record.selected_branch,
        "git_provider": record.git_provider,
        "pr_numbers": list(record.pr_number),
        "trigger": record.trigger,
        "llm_model": record.llm_model,
        "agent_kind": record.agent_kind,
        "accumulated_cost": metrics.accumulated_cost if metrics else None,
        "prompt_tokens": metrics.prompt_tokens if metrics else None,
        "completion_tokens": metrics.completion_tokens if metrics else None,
        "cache_read_tokens": metrics.cache_read_tokens if metrics else None,
        "reasoning_tokens": metrics.reasoning_tokens if metrics else None,
        "tags": scrub(record.tags, frozenset()),
        "parent_remote_id": record.parent_conversation_id,
        "sub_conversation_ids": list(record.sub_conversation_ids),
        "public": record.public,
        "created_by_user_id": record.created_by_user_id,
        "remote_created_at": record.created_at,
        "remote_updated_at": record.updated_at,
    }


def _sandbox_fields(record: SandboxRecord) -> dict[str, Any]:
    return {
        "status": record.status,
        "sandbox_spec_id": record.sandbox_spec_id,
        "remote_created_at": record.created_at,
        "created_by_user_id": record.created_by_user_id,
        "exposed_url_names": [exposed.name for exposed in record.exposed_urls if exposed.name],
        "status_detail": record.status_detail,
    }


@dataclass(frozen=True)
class MirrorKind:
    """Everything that differs between mirroring conversations and mirroring sandboxes."""

    resource: Resource
    model: type[models.Model]
    record_class: type[Record]
    dropped: frozenset[str]
    fields_of: Callable[[Any], dict[str, Any]]
    # Fields the sync derives itself: an upsert from upstream JSON leaves them alone.
    derived_fields: tuple[str, ...] = ()

    def update_fields(self) -> list[str]:
        """Return the columns an upsert overwrites (never first_seen_at or derived ones)."""
        fixed = {"id", "account", "remote_id", "first_seen_at", *self.derived_fields}
        return [f.name for f in self.model._meta.concrete_fields if f.name not in fixed]


CONVERSATIONS = MirrorKind(
    resource=Resource.CONVERSATIONS,
    model=Conversation,
    record_class=ConversationRecord,
    dropped=frozenset({"session_api_key", "conversation_url"}),
    fields_of=_conversation_fields,
)
SANDBOXES = MirrorKind(
    resource=Resource.SANDBOXES,
    model=Sandbox,
    record_class=SandboxRecord,
    dropped=frozenset({"session_api_key", "exposed_urls"}),
    fields_of=_sandbox_fields,
    derived_fields=("idle_since", "idle_source", "agent_checked_at"),
)


@dataclass(frozen=True)
class Parsed:
    """One valid upstream item: its record (which may hold secrets) and its scrubbed JSON."""

    record: Any
    raw: dict[str, Any]


def parse_item(kind: MirrorKind, item: Any) -> Parsed:
    """Validate one upstream item; raise MalformedRecordError if it cannot be mirrored."""
    if not isinstance(item, Mapping):
        raise MalformedRecordError(f"expected a JSON object, got {type(item).__name__}")
    remote_id = item.get("id")
    if not isinstance(remote_id, str) or not remote_id.strip():
        # A number here is a damaged record, not an id: storing it would invent a phantom row.
        shown = remote_id if isinstance(remote_id, str | int | float) else ""
        raise MalformedRecordError("the record has no string id", str(shown)[:64])
    try:
        record = kind.record_class.from_json(item)
    except (TypeError, ValueError) as exc:
        raise MalformedRecordError(str(exc), remote_id[:64]) from exc
    return Parsed(record=record, raw=scrub(item, kind.dropped))


@dataclass
class UpsertResult:
    """What one page changed in the mirror."""

    changed: int = 0
    seen_ids: list[str] = field(default_factory=list)
    newest_update: datetime | None = None


def upsert(
    account: CloudAccount, kind: MirrorKind, items: Iterable[Parsed], now: datetime
) -> UpsertResult:
    """Insert or update the rows of `items` (idempotent; safe if another worker does the same)."""
    latest = {parsed.record.id: parsed for parsed in items}  # a repeated id: the last copy wins
    result = UpsertResult(seen_ids=list(latest))
    if not latest:
        return result
    existing = {
        remote_id: (raw, deleted)
        for remote_id, raw, deleted in kind.model.objects.filter(
            account=account, remote_id__in=list(latest)
        ).values_list("remote_id", "raw", "deleted_upstream_at")
    }
    rows, unchanged = [], []
    for remote_id, parsed in latest.items():
        updated_at = getattr(parsed.record, "updated_at", None)
        if updated_at and (result.newest_update is None or updated_at > result.newest_update):
            result.newest_update = updated_at
        if existing.get(remote_id) == (parsed.raw, None):
            unchanged.append(remote_id)
            continue
        values = _fit(kind.model, kind.fields_of(parsed.record))
        rows.append(
            kind.model(
                account=account,
                remote_id=remote_id,
                raw=parsed.raw,
                first_seen_at=now,
                last_synced_at=now,
                deleted_upstream_at=None,
                **values,
            )
        )
    with transaction.atomic():
        kind.model.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["account", "remote_id"],
            update_fields=kind.update_fields(),
        )
        if unchanged:
            kind.model.objects.filter(account=account, remote_id__in=unchanged).update(
                last_synced_at=now
            )
    result.changed = len(rows)
    return result


def record_problem(
    account: CloudAccount, resource: Resource, error: MalformedRecordError, item: Any
) -> None:
    """Store (or count again) a malformed upstream item, with a scrubbed, truncated sample."""
    sample = scrub(item, frozenset({"conversation_url", "exposed_urls"}))
    text = json.dumps(sample, sort_keys=True, default=str)
    if len(text) > SAMPLE_MAX_CHARS:
        sample = {"truncated": text[:SAMPLE_MAX_CHARS]}
    message = str(error)[:500]
    fingerprint = hashlib.sha256(f"{resource}\n{message}\n{text}".encode()).hexdigest()
    problem, created = SyncProblem.objects.get_or_create(
        account=account,
        resource=resource,
        fingerprint=fingerprint,
        defaults={"remote_id": error.remote_id, "message": message, "sample": sample},
    )
    if not created:
        problem.occurrences = models.F("occurrences") + 1
        problem.save(update_fields=["occurrences", "last_seen_at"])
