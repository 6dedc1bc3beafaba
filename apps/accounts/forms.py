"""Forms for Cloud accounts and their members."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.views.decorators.debug import sensitive_variables

from apps.accounts.connection import ConnectionCheck, check_connection
from apps.accounts.models import CLOUD_RATE_LIMITS, CloudAccount, Membership, Role
from apps.openhands import AuthStyle

# Settings that change which server is asked, or how: changing any of them re-verifies.
_CONNECTION_FIELDS = ("base_url", "auth_style", "org_id", "api_key")


class AccountForm(forms.ModelForm):
    """Create or edit an account; saving is allowed only once the connection works.

    The view calls ``is_valid()`` and then ``connection_ok()``, which asks the server who the
    key belongs to; nothing is written unless both succeed.
    """

    api_key = forms.CharField(
        label="API key",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = CloudAccount
        fields = [
            "name",
            "base_url",
            "auth_style",
            "org_id",
            "enabled",
            "sync_rate_per_minute",
            "sync_rate_burst",
        ]
        widgets = {"base_url": forms.URLInput()}

    field_order = ["name", "base_url", "auth_style", "api_key", "org_id", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A callable model default makes Django compare against a hidden "initial-" input;
        # compare against the stored value instead, so that changed_data is right.
        self.fields["base_url"].show_hidden_initial = False
        if self.instance.has_api_key:
            key_help = f"Leave blank to keep the current key ({self.instance.masked_api_key})."
        else:
            key_help = (
                "A Cloud API key (Settings → API Keys, starts with sk-oh-) or the self-hosted "
                "server's SESSION_API_KEY. Stored encrypted; never shown again."
            )
        self.fields["api_key"].help_text = key_help
        self._describe_rate_defaults()
        self.connection_check: ConnectionCheck | None = None

    def _describe_rate_defaults(self) -> None:
        """Name the global defaults that a blank override falls back to."""
        rate = self.fields["sync_rate_per_minute"]
        rate.widget.attrs.update(min="0", step="any")
        rate.help_text = (
            f"Blank: the global default ({settings.SYNC_RATE_PER_MINUTE:g} per minute). "
            f"{CLOUD_RATE_LIMITS} A self-hosted server may allow more, or less."
        )
        burst = self.fields["sync_rate_burst"]
        burst.widget.attrs.update(min="1")
        burst.help_text = (
            "Requests the sync may send at once before it waits for the rate. Blank: the "
            f"global default ({settings.SYNC_RATE_BURST}); keep it below the per-second limit."
        )

    def clean_base_url(self) -> str:
        # The client appends /api/v1 itself; people often paste it along with the address.
        base_url = self.cleaned_data["base_url"].strip().rstrip("/")
        base_url = base_url.removesuffix("/api/v1").rstrip("/")
        return base_url

    @sensitive_variables()
    def clean_api_key(self) -> str:
        api_key = self.cleaned_data["api_key"]
        if not api_key.isascii() or any(character.isspace() for character in api_key):
            raise forms.ValidationError("An API key cannot contain spaces, line breaks or accents.")
        return api_key

    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean()
        auth_style = cleaned_data.get("auth_style")
        has_key = bool(cleaned_data.get("api_key")) or self.instance.has_api_key
        if auth_style and auth_style != AuthStyle.NONE and not has_key:
            self.add_error("api_key", "This authentication style needs an API key.")
        return cleaned_data

    def _connection_changed(self) -> bool:
        if self.instance._state.adding:
            return True
        changed = any(name in self.changed_data for name in _CONNECTION_FIELDS)
        re_enabled = "enabled" in self.changed_data and self.cleaned_data["enabled"]
        return changed or re_enabled

    @sensitive_variables()
    def connection_ok(self) -> bool:
        """Apply the key and verify the connection if it changed; add a form error if not OK.

        Call after ``is_valid()``. Nothing is saved here, so a failure leaves the stored
        account exactly as it was.
        """
        if self.cleaned_data["auth_style"] == AuthStyle.NONE:
            self.instance.set_api_key(None)
        elif self.cleaned_data["api_key"]:
            self.instance.set_api_key(self.cleaned_data["api_key"])
        if not self._connection_changed():
            return True
        self.connection_check = check_connection(self.instance)
        if not self.connection_check.ok:
            self.add_error(self.connection_check.problem, self.connection_check.message)
            return False
        self.instance.record_check(self.connection_check)
        return True


class AddMemberForm(forms.Form):
    """Give an existing dashboard user a role on an account."""

    username = forms.CharField(max_length=150)
    role = forms.TypedChoiceField(choices=Role.choices, coerce=int, initial=Role.VIEWER)

    def __init__(self, *args: Any, account: CloudAccount, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_username(self) -> AbstractBaseUser:
        """Return the active user with this username (so cleaned_data holds the user)."""
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(
                f"There is no active dashboard user named {username!r}; create the user first."
            )
        if Membership.objects.filter(account=self.account, user=user).exists():
            raise forms.ValidationError(f"{username} is already a member; change the role below.")
        return user


class MemberRoleForm(forms.Form):
    """Change one member's role."""

    role = forms.TypedChoiceField(choices=Role.choices, coerce=int)
