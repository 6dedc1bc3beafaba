from __future__ import annotations

from django.apps import AppConfig


class SandboxesConfig(AppConfig):
    name = "apps.sandboxes"
    label = "sandboxes"
    verbose_name = "Sandboxes"
