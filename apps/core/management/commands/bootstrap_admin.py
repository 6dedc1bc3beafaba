"""Create the first administrator on a fresh instance and print its password once."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from dashboard.env import Env


class Command(BaseCommand):
    help = "Create a superuser named 'admin' when no superuser exists yet (idempotent)."

    def handle(self, *args, **options):
        user_model = get_user_model()
        if user_model.objects.filter(is_superuser=True).exists():
            return
        env = Env()
        username = env.str("DASHBOARD_ADMIN_USERNAME", "admin")
        password = env.str("DASHBOARD_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.WARNING(
                "\n  First administrator created (shown only this once):\n"
                f"    username: {username}\n    password: {password}\n"
                "  Change it after logging in (Account menu -> password).\n"
            )
        )
