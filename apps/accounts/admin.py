"""Django admin for accounts, members and the audit log; the API key is never shown."""

from __future__ import annotations

from django.contrib import admin

from apps.accounts.models import AuditLog, CloudAccount, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(CloudAccount)
class CloudAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "base_url", "auth_style", "enabled", "last_check_ok", "last_check_at"]
    list_filter = ["enabled", "auth_style", "last_check_ok"]
    search_fields = ["name", "base_url", "org_id"]
    # The encrypted key is excluded outright; keys are entered through the dashboard's own
    # form, which verifies them against the server before saving.
    exclude = ["encrypted_api_key"]
    readonly_fields = [
        "masked_api_key",
        "created_at",
        "updated_at",
        *CloudAccount.CHECK_FIELDS,
    ]
    inlines = [MembershipInline]

    @admin.display(description="API key")
    def masked_api_key(self, account: CloudAccount) -> str:
        return account.masked_api_key or "(none)"


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["account", "user", "role", "created_at"]
    list_filter = ["role", "account"]
    search_fields = ["user__username", "account__name"]
    autocomplete_fields = ["user"]


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """Show the audit trail read-only: entries are evidence and must not be edited."""

    list_display = ["created_at", "username", "action", "target_label", "account", "result"]
    list_filter = ["result", "action"]
    search_fields = ["username", "action", "target_label", "detail"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
