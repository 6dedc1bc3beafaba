"""Django admin for accounts, members and the audit log: read-only, and the key never shown.

Changes go through the dashboard's own pages, which verify keys against the server and write
every change to the audit log; an admin form would bypass both.
"""

from __future__ import annotations

from django.contrib import admin

from apps.accounts.models import AuditLog, CloudAccount, Membership


class ViewOnlyAdmin(admin.ModelAdmin):
    """Let superusers look, not touch."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CloudAccount)
class CloudAccountAdmin(ViewOnlyAdmin):
    list_display = ["name", "base_url", "auth_style", "enabled", "last_check_ok", "last_check_at"]
    list_filter = ["enabled", "auth_style", "last_check_ok"]
    search_fields = ["name", "base_url", "org_id"]
    exclude = ["encrypted_api_key"]
    readonly_fields = ["masked_api_key"]
    inlines = [MembershipInline]

    @admin.display(description="API key")
    def masked_api_key(self, account: CloudAccount) -> str:
        return account.masked_api_key or "(none)"


@admin.register(Membership)
class MembershipAdmin(ViewOnlyAdmin):
    list_display = ["account", "user", "role", "created_at"]
    list_filter = ["role", "account"]
    search_fields = ["user__username", "account__name"]


@admin.register(AuditLog)
class AuditLogAdmin(ViewOnlyAdmin):
    """Entries are evidence and must not be edited."""

    list_display = ["created_at", "username", "action", "target_label", "account", "result"]
    list_filter = ["result", "action"]
    search_fields = ["username", "action", "target_label", "detail"]
    date_hierarchy = "created_at"
