"""Cloud accounts (with their API key encrypted at rest), memberships and the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.views.decorators.debug import sensitive_variables

from apps.accounts import crypto
from apps.openhands import AppServerClient, AuthStyle

if TYPE_CHECKING:
    from apps.accounts.connection import ConnectionCheck

AUTH_STYLE_CHOICES = [
    (AuthStyle.BEARER.value, "Cloud API key (sent as Authorization: Bearer)"),
    (AuthStyle.SESSION_KEY.value, "Self-hosted server key (sent as X-Session-API-Key)"),
    (AuthStyle.NONE.value, "None (unauthenticated local server)"),
]

# Shorter keys would give away too large a share of themselves in the last four characters.
_SHORTEST_KEY_WITH_VISIBLE_TAIL = 12
MASK = "••••"


def default_base_url() -> str:
    """Return the App Server address new accounts start with (a callable, so that migrations
    do not freeze the current setting)."""
    return settings.OPENHANDS_DEFAULT_BASE_URL


def validate_base_url(value: str) -> None:
    """Reject anything but a plain http(s) address of a server (optionally with a path)."""
    if any(character.isspace() for character in value):
        raise ValidationError("The address cannot contain spaces.")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"}:
        raise ValidationError("Use an address that starts with https:// or http://.")
    if not parts.hostname:
        raise ValidationError("The address needs a host name, e.g. https://app.all-hands.dev.")
    if parts.username is not None or parts.password is not None:
        # Credentials in the URL would be shown on every page that displays the address.
        raise ValidationError("Leave credentials out of the address; use the API key field.")
    if parts.query or parts.fragment:
        raise ValidationError("The address cannot contain ?query or #fragment parts.")
    try:
        parts.port  # noqa: B018 -- evaluating it validates the port number
    except ValueError:
        raise ValidationError("The port number in the address is not valid.") from None


def validate_positive(value: float) -> None:
    """Reject zero and negative numbers (a rate of 0 would never let a request through)."""
    if value <= 0:
        raise ValidationError("Enter a number greater than 0, or leave it blank.")


# Shown next to the rate overrides: the limits a Cloud key has, which the defaults stay below.
CLOUD_RATE_LIMITS = "The Cloud allows 10 requests per second and 100 per minute per API key."


class Role(models.IntegerChoices):
    """A member's power over one Cloud account; a higher value includes every lower one."""

    VIEWER = 10, "Viewer"
    OPERATOR = 20, "Operator"
    ADMIN = 30, "Admin"


class CloudAccount(models.Model):
    """One OpenHands App Server login: where it is, how to authenticate, and whether it works."""

    name = models.CharField(max_length=100, unique=True)
    base_url = models.CharField(
        "base URL",
        max_length=500,
        default=default_base_url,
        validators=[validate_base_url],
        help_text="The App Server's address, without /api/v1; it may include a path prefix.",
    )
    auth_style = models.CharField(
        "authentication", max_length=20, choices=AUTH_STYLE_CHOICES, default=AuthStyle.BEARER.value
    )
    # A Fernet token (see apps.accounts.crypto); the plaintext key is never stored or shown.
    encrypted_api_key = models.TextField(blank=True, editable=False)
    key_last4 = models.CharField(max_length=4, blank=True, editable=False)
    org_id = models.CharField(
        "organization id",
        max_length=100,
        blank=True,
        help_text="Optional: sent as X-Org-Id to pick one of the key owner's organizations.",
    )
    enabled = models.BooleanField(default=True)
    # Blank means the global SYNC_RATE_PER_MINUTE / SYNC_RATE_BURST: a self-hosted App Server
    # has other limits than the Cloud (apps.sync.budget reads these per account).
    sync_rate_per_minute = models.FloatField(
        "sync requests per minute",
        null=True,
        blank=True,
        validators=[validate_positive],
        help_text=f"Blank: the global default. {CLOUD_RATE_LIMITS}",
    )
    sync_rate_burst = models.IntegerField(
        "sync burst",
        null=True,
        blank=True,
        validators=[MinValueValidator(1, "Enter a whole number of at least 1, or leave it blank.")],
        help_text="Requests the sync may send at once before it must wait for the rate. "
        "Blank: the global default.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    last_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_check_ok = models.BooleanField(null=True, editable=False)
    last_check_message = models.CharField(max_length=500, blank=True, editable=False)
    key_owner_email = models.CharField(max_length=254, blank=True, editable=False)
    key_owner_user_id = models.CharField(max_length=100, blank=True, editable=False)
    key_owner_org_name = models.CharField(max_length=200, blank=True, editable=False)

    # What record_check() writes, for save(update_fields=...).
    CHECK_FIELDS = (
        "last_check_at",
        "last_check_ok",
        "last_check_message",
        "key_owner_email",
        "key_owner_user_id",
        "key_owner_org_name",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def needs_api_key(self) -> bool:
        return self.auth_style != AuthStyle.NONE

    @property
    def has_api_key(self) -> bool:
        return bool(self.encrypted_api_key)

    @property
    def masked_api_key(self) -> str:
        """Return the only form of the key a page may show, e.g. "••••abcd"."""
        return MASK + self.key_last4 if self.has_api_key else ""

    @sensitive_variables("api_key")
    def set_api_key(self, api_key: str | None) -> None:
        """Store ``api_key`` encrypted (or forget the key when it is empty); does not save."""
        if not api_key:
            self.encrypted_api_key = ""
            self.key_last4 = ""
            return
        self.encrypted_api_key = crypto.encrypt(api_key)
        self.key_last4 = api_key[-4:] if len(api_key) >= _SHORTEST_KEY_WITH_VISIBLE_TAIL else ""

    @sensitive_variables()
    def client(self, **options: Any) -> AppServerClient:
        """Return a client for this account; the key is decrypted here and nowhere else."""
        api_key = crypto.decrypt(self.encrypted_api_key) if self.has_api_key else None
        return AppServerClient(
            self.base_url,
            api_key=api_key,
            auth_style=AuthStyle(self.auth_style),
            org_id=self.org_id or None,
            user_agent="openhands-cloud-dashboard",
            **options,
        )

    def record_check(self, check: ConnectionCheck) -> None:
        """Copy a connection check's outcome onto the account; does not save."""
        self.last_check_at = check.checked_at
        self.last_check_ok = check.ok
        self.last_check_message = check.message[:500]
        if check.user is not None:
            self.key_owner_email = check.user.email or ""
            self.key_owner_user_id = str(check.user.id or "")
            self.key_owner_org_name = check.user.org_name or ""


class Membership(models.Model):
    """Give one dashboard user a role on one Cloud account."""

    account = models.ForeignKey(CloudAccount, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cloud_memberships"
    )
    role = models.PositiveSmallIntegerField(choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="one_membership_per_user")
        ]
        ordering = ["account__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}) on {self.account}"


class AuditLog(models.Model):
    """Record one mutating action: who did what to which object, when, and how it went."""

    class Result(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    # The user may be deleted later; the username snapshot keeps the entry readable.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.SlugField(max_length=60)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    account = models.ForeignKey(
        CloudAccount,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    result = models.CharField(max_length=10, choices=Result.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The audit page filters by account and by action, newest first.
            models.Index(fields=["account", "-created_at"], name="audit_by_account"),
            models.Index(fields=["action", "-created_at"], name="audit_by_action"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action}"
