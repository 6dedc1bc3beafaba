"""Run the command-line client: ``python -m apps.openhands COMMAND [options]``."""

from __future__ import annotations

from apps.openhands.cli import main

raise SystemExit(main())
