"""The audit trail: one row per mutating action, written by the one function ``audit``."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from django.db import models
from django.http import HttpRequest

from apps.accounts.models import AuditLog, CloudAccount
from apps.core.logging import redact

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditTarget:
    """Describe the object an action was applied to, independently of whether it still exists."""

    type: str
    id: str
    label: str

    @classmethod
    def of(cls, obj: models.Model) -> AuditTarget:
        """Snapshot ``obj`` (take it before deleting the object, while it still has a pk)."""
        return cls(type=obj._meta.model_name or "", id=str(obj.pk or ""), label=str(obj)[:200])


def _client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: forwarded-for headers can be forged by the client unless a proxy that
    # rewrites them is guaranteed to sit in front.
    address = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def audit(
    request: HttpRequest | None,
    action: str,
    target: models.Model | AuditTarget | None,
    result: bool,
    detail: str = "",
    account: CloudAccount | None = None,
    *,
    actor: str = "system",
) -> AuditLog:
    """Write one audit entry and log it.

    ``action`` is a slug such as ``account.create``; ``result`` is True when the action
    succeeded. ``detail`` is redacted before it is stored. Without a request (management
    commands) the entry names ``actor`` instead of a user.
    """
    snapshot = (
        target if isinstance(target, AuditTarget) or target is None else AuditTarget.of(target)
    )
    if account is None and isinstance(target, CloudAccount) and target.pk is not None:
        account = target
    user = request.user if request is not None and request.user.is_authenticated else None
    entry = AuditLog.objects.create(
        user=user,
        username=user.get_username() if user is not None else actor,
        action=action,
        target_type=snapshot.type if snapshot else "",
        target_id=snapshot.id if snapshot else "",
        target_label=snapshot.label if snapshot else "",
        account=account,
        result=AuditLog.Result.OK if result else AuditLog.Result.FAILED,
        detail=redact(detail),
        client_ip=_client_ip(request) if request is not None else None,
    )
    logger.info(
        "audit: %s %s %s (%s) -> %s%s",
        entry.username,
        action,
        entry.target_type,
        entry.target_label,
        entry.result,
        f": {entry.detail}" if entry.detail else "",
    )
    return entry
