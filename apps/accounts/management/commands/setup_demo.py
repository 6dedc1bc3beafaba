"""Point a demo account at the fake App Server and make every superuser its admin."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.accounts.audit import audit
from apps.accounts.models import CloudAccount, Membership, Role, validate_base_url
from apps.openhands import AuthStyle

DEMO_ACCOUNT_NAME = "Demo (fake App Server)"
ACTOR = "manage.py setup_demo"


class Command(BaseCommand):
    help = (
        f"Create or update the account {DEMO_ACCOUNT_NAME!r} pointing at the fake App Server "
        "(no authentication unless --api-key is given) and make every superuser an admin of it. "
        "Idempotent."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8090")
        parser.add_argument("--api-key", default="", help="the fake server's key, if it has one")
        parser.add_argument(
            "--auth-style",
            choices=[AuthStyle.BEARER.value, AuthStyle.SESSION_KEY.value],
            default=AuthStyle.BEARER.value,
            help="how to send --api-key (default: as a Cloud key, Authorization: Bearer)",
        )

    def handle(self, *args, base_url: str, api_key: str, auth_style: str, **options) -> None:
        base_url = base_url.rstrip("/")
        try:
            validate_base_url(base_url)
        except ValidationError as exc:
            raise CommandError(f"--base-url {base_url!r}: {' '.join(exc.messages)}") from None
        with transaction.atomic():
            account, created = self._save_account(base_url, api_key, auth_style)
            admins_added = self._make_superusers_admins(account)
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} account {account.name!r}: {account.base_url} "
            f"(authentication: {account.auth_style})."
        )
        for username in admins_added:
            self.stdout.write(f"Made {username} an admin of it.")
        if not admins_added:
            self.stdout.write("Every superuser was already an admin of it.")

    def _save_account(
        self, base_url: str, api_key: str, auth_style: str
    ) -> tuple[CloudAccount, bool]:
        account = CloudAccount.objects.filter(name=DEMO_ACCOUNT_NAME).first()
        created = account is None
        if created:
            account = CloudAccount(name=DEMO_ACCOUNT_NAME)
        account.base_url = base_url
        account.auth_style = auth_style if api_key else AuthStyle.NONE.value
        account.set_api_key(api_key or None)
        account.enabled = True
        account.save()
        action = "account.create" if created else "account.update"
        audit(None, action, account, True, f"demo account at {base_url}", actor=ACTOR)
        return account, created

    def _make_superusers_admins(self, account: CloudAccount) -> list[str]:
        """Make every superuser an admin member; return the ones that were not already."""
        added = []
        for user in get_user_model().objects.filter(is_superuser=True).order_by("pk"):
            member, created = Membership.objects.get_or_create(
                account=account, user=user, defaults={"role": Role.ADMIN}
            )
            if created or member.role != Role.ADMIN:
                member.role = Role.ADMIN
                member.save(update_fields=["role"])
                audit(None, "member.add", member, True, "role: Admin", account, actor=ACTOR)
                added.append(user.get_username())
        return added
