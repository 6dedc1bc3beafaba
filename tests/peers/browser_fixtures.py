"""The browser tier: Playwright (Python) driving Debian's Chromium, launched by path.

Playwright cannot download its own browser here, so the suite uses the distribution's
Chromium (`bin/test` installs it). A missing browser fails the tier; it is never skipped.
Screenshots of failing tests are kept in $TEST_ARTIFACTS_DIR (test-artifacts/ by default).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def artifacts_dir() -> Path:
    root = Path(os.environ.get("TEST_ARTIFACTS_DIR", "test-artifacts")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a
    # thread with a running loop unless told that this (test-only) use is deliberate.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.access(executable, os.X_OK):
        pytest.fail(
            f"Chromium not found at {executable}: run bin/test (it installs Debian's chromium) "
            "or set CHROMIUM_PATH"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1366, "height": 860})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    console_errors: list[str] = []
    opened.on(
        "console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None
    )
    opened.console_errors = console_errors
    yield opened
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        opened.screenshot(path=str(artifacts_dir() / f"{name}.png"), full_page=True)
    context.close()


@pytest.fixture
def screenshot():
    """Save a named screenshot for the README when SCREENSHOTS_DIR is set."""
    target = os.environ.get("SCREENSHOTS_DIR")

    def take(page, name: str) -> None:
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)

    return take
