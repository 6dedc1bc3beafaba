"""Command-line client for the OpenHands Cloud V1 API: ``openhands-cloud COMMAND [options]``.

Every command prints one JSON document on stdout (``--format table`` prints aligned columns
for people instead); progress notes and errors go to stderr, errors as one ``error: ...`` line.

Configuration comes from the environment, so the API key never lands in shell history.

Environment:

    OPENHANDS_API_KEY     API key (or --api-key-file PATH)
    OPENHANDS_APP_BASE    App Server base URL (default https://app.all-hands.dev)
    OPENHANDS_ORG_ID      organization id, sent as X-Org-Id (optional)
    OPENHANDS_AUTH_STYLE  bearer (Cloud, default), session_key (self-hosted server) or none

Exit codes:

    0    success
    1    unexpected or local failure (e.g. a file that cannot be written)
    2    usage error: bad arguments, or input the server rejected (HTTP 400/422)
    3    authentication failed: no key, wrong key, or no access (HTTP 401/403)
    4    not found or gone (HTTP 404/410)
    5    upstream failure: server error, unreachable, rate limited, not JSON, too large,
         a start task that failed, or a wait that timed out
    6    conflict, e.g. the sandbox is paused (HTTP 409)
    130  interrupted (Ctrl-C)

Session keys of sandboxes (``session_api_key`` and anything that embeds one, such as a
VS Code URL) and sandbox spec environments are masked unless ``--show-secrets`` is given;
``agent_vscode_url`` prints its URL as is, since the URL only works with its key.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import metadata
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn, Protocol, TextIO
from urllib.parse import urlsplit

from apps.openhands import (
    AgentServerClient,
    AppServerClient,
    AuthenticationError,
    AuthStyle,
    BadRequestError,
    ConflictError,
    GoneError,
    NotFoundError,
    OpenHandsError,
)
from apps.openhands.paging import iterate_pages
from apps.openhands.records import Page

PROG = "openhands-cloud"
DEFAULT_APP_BASE = "https://app.all-hands.dev"
MAX_PAGE_SIZE = 100

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_UPSTREAM = 5
EXIT_CONFLICT = 6
EXIT_INTERRUPTED = 130


def _docstring_section(title: str) -> str:
    """Return one section of this module's docstring (e.g. the exit codes) for --help."""
    # One source for the docstring and --help; under `python -OO` docstrings are stripped.
    sections = (__doc__ or "").split(f"\n{title}:\n\n", 1)
    if len(sections) < 2:
        return ""
    body = sections[1].split("\n\n", 1)[0]
    return f"{title.lower()}:\n{body}"


MASK = "**********"
# Fields whose value is a secret wherever they appear in a record: sandbox session keys, and
# sandbox spec environments, which can carry forwarded LLM keys.
SECRET_FIELDS = frozenset({"session_api_key", "initial_env"})
# Shorter strings are not masked inside other text: replacing them would garble the output.
MIN_MASKED_LENGTH = 8

# Table cells are cut here so one long title does not push the other columns off screen.
MAX_CELL_WIDTH = 60
_FRACTIONAL_SECONDS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d+")
_SAFE_ID = re.compile(r"[0-9A-Za-z_-]+")

# The server compares event timestamp filters as strings against naive ISO timestamps, so a
# filter formatted differently from the stored values can skip events that share the cursor's
# second. Re-reading a short overlap and de-duplicating by id cannot miss any.
TAIL_OVERLAP = timedelta(seconds=2)


class CliError(Exception):
    """A failure the CLI reports as one ``error:`` line and a specific exit code."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def usage_error(message: str) -> CliError:
    """Build the error for bad input that argparse could not catch itself."""
    return CliError(EXIT_USAGE, message)


# ---------------------------------------------------------------------------------------------
# Settings and the per-run context


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything a run needs besides the command's own arguments."""

    base_url: str
    api_key: str | None = dataclasses.field(repr=False)
    auth_style: AuthStyle
    org_id: str | None
    output_format: str
    quiet: bool
    verbose: bool
    show_secrets: bool


def load_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """Combine global flags with the environment; flags win."""
    base_url = _option(args, "base_url") or environ.get("OPENHANDS_APP_BASE") or DEFAULT_APP_BASE
    base_url = _checked_base_url(base_url)
    auth_style = _auth_style(_option(args, "auth_style") or environ.get("OPENHANDS_AUTH_STYLE"))
    api_key_file = _option(args, "api_key_file")
    api_key = _read_api_key(api_key_file) if api_key_file else environ.get("OPENHANDS_API_KEY")
    api_key = (api_key or "").strip() or None
    if auth_style is not AuthStyle.NONE and api_key is None:
        raise CliError(
            EXIT_AUTH,
            "no API key: set OPENHANDS_API_KEY or pass --api-key-file PATH "
            "(or --auth-style none for a server without authentication)",
        )
    return Settings(
        base_url=base_url,
        api_key=api_key,
        auth_style=auth_style,
        org_id=_option(args, "org_id") or environ.get("OPENHANDS_ORG_ID") or None,
        output_format=_option(args, "format") or "json",
        quiet=bool(_option(args, "quiet")),
        verbose=bool(_option(args, "verbose")),
        show_secrets=bool(_option(args, "show_secrets")),
    )


def _option(args: argparse.Namespace, name: str) -> Any:
    # Global options may sit before or after the command name; both parsers leave them unset
    # (argparse.SUPPRESS) unless given, so a missing attribute means "not given".
    return getattr(args, name, None)


def _auth_style(value: str | None) -> AuthStyle:
    if not value:
        return AuthStyle.BEARER
    try:
        return AuthStyle(value.strip().lower())
    except ValueError:
        choices = ", ".join(style.value for style in AuthStyle)
        raise usage_error(f"auth style must be one of {choices} (got {value!r})") from None


def _read_api_key(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise usage_error(f"cannot read the API key file {path}: {error}") from None


def _checked_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise usage_error(f"base URL must start with http:// or https:// (got {base_url!r})")
    return base_url.strip().rstrip("/")


class Context:
    """Hold the run's settings, its lazily created API client and its output streams."""

    def __init__(self, settings: Settings, stdout: TextIO, stderr: TextIO) -> None:
        self.settings = settings
        self.stdout = stdout
        self.stderr = stderr
        self._client: AppServerClient | None = None

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._client is not None:
            self._client.close()

    @property
    def client(self) -> AppServerClient:
        """Return the App Server client, creating it on first use."""
        if self._client is None:
            self._client = AppServerClient(
                base_url=self.settings.base_url,
                api_key=self.settings.api_key,
                auth_style=self.settings.auth_style,
                org_id=self.settings.org_id,
                user_agent=USER_AGENT,
            )
        return self._client

    @contextmanager
    def agent(self, sandbox_id: str) -> Iterator[AgentServerClient]:
        """Yield a client for the sandbox's agent server, with its current session key."""
        # Read the sandbox fresh every time: its session key rotates on pause/resume.
        sandbox = self.client.get_sandbox(sandbox_id)
        with AgentServerClient.for_sandbox(sandbox, user_agent=USER_AGENT) as agent:
            yield agent

    def note(self, message: str) -> None:
        """Tell a person what is going on (stderr, silenced by --quiet)."""
        if not self.settings.quiet:
            self.stderr.write(f"{message}\n")
            self.stderr.flush()

    def report_error(self, message: str) -> None:
        """Write one ``error:`` line on stderr; never silenced."""
        self.stderr.write(f"error: {self.scrub(message)}\n")
        self.stderr.flush()

    def emit(self, value: Any, view: View | None = None) -> None:
        """Print a command's result as one JSON document or as a table."""
        document = self.redact(to_json(value))
        if self.settings.output_format == "table":
            text = render_table(document, view, is_page=isinstance(value, Page))
        else:
            text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
        self.stdout.write(f"{text}\n")
        self.stdout.flush()

    def emit_line(self, value: Any, view: View) -> None:
        """Print one item of a stream: a JSON line, or a table row without a header."""
        document = self.redact(to_json(value))
        if self.settings.output_format == "table":
            cells = [_cell(_lookup(document, path)) for path in view.columns]
            widths = view.stream_widths
            padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
            text = "  ".join([*padded, *cells[len(widths) :]]).rstrip()
        else:
            text = json.dumps(document, ensure_ascii=False, default=str)
        self.stdout.write(f"{text}\n")
        self.stdout.flush()

    def redact(self, document: Any) -> Any:
        """Mask session keys (and the API key, should a server echo it) in a JSON document."""
        if self.settings.show_secrets:
            return document
        secrets = set(_secret_values(document))
        if self.settings.api_key:
            secrets.add(self.settings.api_key)
        return _masked(document, {secret for secret in secrets if len(secret) >= MIN_MASKED_LENGTH})

    def scrub(self, message: str) -> str:
        """Remove the API key from a message and keep it on one line."""
        if self.settings.api_key:
            message = message.replace(self.settings.api_key, MASK)
        return " ".join(message.split())


def _version() -> str:
    try:
        return metadata.version("openhands-cloud-dashboard")
    except metadata.PackageNotFoundError:
        return "unknown"


USER_AGENT = f"{PROG}/{_version()}"


def _secret_values(document: Any) -> Iterator[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            if key in SECRET_FIELDS and isinstance(value, str) and value:
                yield value
            else:
                yield from _secret_values(value)
    elif isinstance(document, list):
        for item in document:
            yield from _secret_values(item)


def _masked(document: Any, secrets: set[str]) -> Any:
    if isinstance(document, dict):
        return {
            key: MASK if key in SECRET_FIELDS and value else _masked(value, secrets)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_masked(item, secrets) for item in document]
    if isinstance(document, str):
        for secret in secrets:
            document = document.replace(secret, MASK)
    return document


# ---------------------------------------------------------------------------------------------
# Output: JSON documents and tables


def to_json(value: Any) -> Any:
    """Turn a client result into JSON: records give their raw JSON, so nothing is lost."""
    if isinstance(value, Page):
        return {
            "items": [to_json(item) for item in value.items],
            "next_page_id": value.next_page_id,
        }
    raw = getattr(value, "raw", None)
    if isinstance(raw, dict):
        return raw
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Fields hidden from repr hold secrets; they stay out of the output too.
        return {
            field.name: to_json(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if field.repr
        }
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


@dataclasses.dataclass(frozen=True)
class View:
    """The fields ``--format table`` shows for one kind of record (dotted JSON paths)."""

    columns: tuple[str, ...]
    details: tuple[str, ...] = ()
    # Streamed rows cannot be measured in advance: pad their first cells to these widths.
    stream_widths: tuple[int, ...] = ()

    @property
    def detail_fields(self) -> tuple[str, ...]:
        return self.details or self.columns


CONVERSATION_VIEW = View(
    columns=("id", "title", "execution_status", "sandbox_status", "updated_at"),
    details=(
        "id",
        "title",
        "execution_status",
        "sandbox_status",
        "sandbox_id",
        "selected_repository",
        "selected_branch",
        "git_provider",
        "trigger",
        "llm_model",
        "metrics.accumulated_cost",
        "parent_conversation_id",
        "public",
        "created_at",
        "updated_at",
    ),
)
START_TASK_VIEW = View(
    columns=("id", "status", "app_conversation_id", "sandbox_id", "updated_at"),
    details=(
        "id",
        "status",
        "detail",
        "app_conversation_id",
        "sandbox_id",
        "agent_server_url",
        "created_at",
        "updated_at",
    ),
)
SANDBOX_VIEW = View(
    columns=("id", "status", "sandbox_spec_id", "created_at"),
    details=(
        "id",
        "status",
        "status_detail",
        "sandbox_spec_id",
        "created_by_user_id",
        "created_at",
    ),
)
SANDBOX_SPEC_VIEW = View(columns=("id", "working_dir", "created_at"))
EVENT_VIEW = View(columns=("timestamp", "kind", "source", "id"), stream_widths=(19, 28, 11))
USER_VIEW = View(columns=("id", "email", "org_id", "org_name", "role"))
GIT_CHANGE_VIEW = View(columns=("status", "path"))
BASH_VIEW = View(columns=("exit_code", "stdout", "stderr", "command_id"))


def render_table(document: Any, view: View | None, *, is_page: bool = False) -> str:
    """Render a JSON document as aligned columns (lists) or as field/value lines (objects)."""
    if is_page:
        document = document["items"]
    if isinstance(document, list):
        if view is None:
            return "\n".join(json.dumps(item, ensure_ascii=False) for item in document)
        return _grid(document, view.columns)
    if isinstance(document, dict):
        fields = view.detail_fields if view else tuple(document)
        return _field_lines(document, fields)
    return _cell(document)


def _grid(items: Sequence[Any], columns: Sequence[str]) -> str:
    headers = [path.rsplit(".", 1)[-1].upper() for path in columns]
    rows = [[_cell(_lookup(item, path), MAX_CELL_WIDTH) for path in columns] for item in items]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    )


def _field_lines(document: Mapping[str, Any], fields: Sequence[str]) -> str:
    width = max((len(field) for field in fields), default=0)
    lines = []
    for field in fields:
        value = _lookup(document, field)
        text = value if isinstance(value, str) and "\n" in value else _cell(value)
        first, *rest = text.rstrip("\n").split("\n")
        lines.append(f"{field.ljust(width)}  {first}".rstrip())
        lines.extend(f"{' ' * width}  {line}".rstrip() for line in rest)
    return "\n".join(lines)


def _lookup(document: Any, path: str) -> Any:
    value = document
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _cell(value: Any, max_width: int | None = None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, list):
        text = ", ".join(_cell(item) for item in value)
    else:
        text = _FRACTIONAL_SECONDS.sub(r"\1", " ".join(str(value).split()))
    if max_width is not None and len(text) > max_width:
        return text[: max_width - 1] + "…"
    return text


# ---------------------------------------------------------------------------------------------
# Command registry and argument helpers


class _ArgumentHolder(Protocol):
    def add_argument(self, *name_or_flags: str, **kwargs: Any) -> argparse.Action: ...


Configure = Callable[[_ArgumentHolder], object]
Run = Callable[[Context, argparse.Namespace], None]


@dataclasses.dataclass(frozen=True)
class Command:
    """One subcommand: its name, one-line summary, examples, arguments and implementation."""

    name: str
    summary: str
    examples: tuple[str, ...]
    arguments: tuple[Configure, ...]
    run: Run


COMMANDS: dict[str, Command] = {}


def command(
    name: str, summary: str, *, examples: Sequence[str], arguments: Sequence[Configure] = ()
) -> Callable[[Run], Run]:
    """Register the decorated function as the subcommand ``name``."""

    def register(run: Run) -> Run:
        COMMANDS[name] = Command(name, summary, tuple(examples), tuple(arguments), run)
        return run

    return register


def arg(*flags: str, **options: Any) -> Configure:
    """Describe one argparse argument, added when the command's parser is built."""
    return lambda parser: parser.add_argument(*flags, **options)


def one_of(*arguments: Configure) -> Configure:
    """Describe arguments that cannot be given together."""

    def configure(parser: _ArgumentHolder) -> None:
        assert isinstance(parser, argparse.ArgumentParser), "groups cannot be nested"
        group = parser.add_mutually_exclusive_group()
        for argument in arguments:
            argument(group)

    return configure


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds (got {text})")
    return value


def _timestamp(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date or time: {text!r} (e.g. 2026-01-27 or 2026-01-27T15:00:00Z)"
        ) from None


def _seconds(flag: str, default: float, meaning: str) -> Configure:
    return arg(
        flag,
        type=_positive_seconds,
        default=default,
        metavar="SECONDS",
        help=f"{meaning} (default {default:g})",
    )


def _time_filter(flag: str, meaning: str) -> Configure:
    return arg(
        flag,
        type=_timestamp,
        metavar="WHEN",
        help=f"only {meaning} (ISO 8601; a time without zone is UTC)",
    )


CONVERSATION_ID = arg(
    "conversation_id", metavar="CONVERSATION_ID", help="conversation id (32 hex characters)"
)
SANDBOX_ID = arg("sandbox_id", metavar="SANDBOX_ID", help="sandbox id")
CONVERSATION_FILTERS = (
    arg("--title-contains", metavar="TEXT", help="only conversations whose title contains TEXT"),
    _time_filter("--created-after", "conversations created at or after WHEN"),
    _time_filter("--created-before", "conversations created before WHEN"),
    _time_filter("--updated-after", "conversations updated at or after WHEN"),
    _time_filter("--updated-before", "conversations updated before WHEN"),
    arg("--sandbox-id", help="only conversations running in this sandbox"),
)
KIND_FILTER = arg(
    "--kind", metavar="KIND", help="only events of this kind, e.g. MessageEvent, ActionEvent"
)
EVENT_FILTERS = (
    KIND_FILTER,
    _time_filter("--after", "events at or after WHEN"),
    _time_filter("--before", "events before WHEN"),
)
PAGING = (
    arg(
        "--limit",
        type=_positive_int,
        metavar="N",
        help=f"page size, 1-{MAX_PAGE_SIZE} (default {MAX_PAGE_SIZE}); with --all, at most N items",
    ),
    one_of(
        arg("--all", action="store_true", help="follow every page and print all items"),
        arg("--page-id", metavar="ID", help="continue from this next_page_id"),
    ),
)


def _search(
    ctx: Context, args: argparse.Namespace, fetch: PageFetcher, view: View, what: str
) -> None:
    """Print one page of a search, or every page with --all."""
    if args.all:
        page_size = min(args.limit or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
        items = list(islice(all_items(fetch, what, page_size), args.limit))
        ctx.emit(Page(items=items, next_page_id=None), view)
        return
    if args.limit is not None and args.limit > MAX_PAGE_SIZE:
        raise usage_error(f"--limit must be at most {MAX_PAGE_SIZE} without --all")
    page = fetch(args.page_id, args.limit or MAX_PAGE_SIZE)
    ctx.emit(page, view)
    if page.next_page_id:
        ctx.note(f"more results: add --page-id {page.next_page_id}, or use --all")


class PageFetcher(Protocol):
    def __call__(self, page_id: str | None, limit: int) -> Page[Any]: ...


def all_items(fetch: PageFetcher, what: str, page_size: int = MAX_PAGE_SIZE) -> Iterator[Any]:
    """Yield every item of every page once."""
    return iterate_pages(lambda page_id: fetch(page_id, page_size), what=what)


def _emit_batch(
    ctx: Context, what: str, ids: Sequence[str], found: Sequence[Any], view: View
) -> None:
    """Print records fetched by id (null where missing); exit 4 if any id was not found."""
    ctx.emit(list(found), view)
    missing = [item_id for item_id, item in zip(ids, found, strict=True) if item is None]
    if missing:
        raise CliError(EXIT_NOT_FOUND, f"{what} not found: {', '.join(missing)}")


def _emit_success(ctx: Context, target_id: str, success: bool, action: str) -> None:
    ctx.emit({"id": target_id, "success": success})
    if not success:
        raise CliError(EXIT_UPSTREAM, f"the server did not confirm that it {action} {target_id}")


# ---------------------------------------------------------------------------------------------
# App Server commands: conversations


@command(
    "search_conversations",
    "List conversations, newest first, optionally filtered.",
    examples=[
        "search_conversations --limit 10",
        'search_conversations --title-contains "fix" --updated-after 2026-01-27 --all',
        "--format table search_conversations --sandbox-id 22Cnn1FqUu17shZhJ7b5Ka",
    ],
    arguments=[
        *CONVERSATION_FILTERS,
        arg(
            "--include-sub-conversations",
            action="store_true",
            help="also list sub-conversations (left out by default)",
        ),
        *PAGING,
    ],
)
def search_conversations(ctx: Context, args: argparse.Namespace) -> None:
    filters = _conversation_filters(args)

    def fetch(page_id: str | None, limit: int) -> Page[Any]:
        return ctx.client.search_conversations(
            **filters,
            include_sub_conversations=args.include_sub_conversations,
            limit=limit,
            page_id=page_id,
        )

    _search(ctx, args, fetch, CONVERSATION_VIEW, "conversations")


def _conversation_filters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "title_contains": args.title_contains,
        "created_at_gte": args.created_after,
        "created_at_lt": args.created_before,
        "updated_at_gte": args.updated_after,
        "updated_at_lt": args.updated_before,
        "sandbox_id": args.sandbox_id,
    }


@command(
    "count_conversations",
    "Count conversations matching the filters (sub-conversations included).",
    examples=["count_conversations", "count_conversations --updated-after 2026-01-27T00:00:00Z"],
    arguments=CONVERSATION_FILTERS,
)
def count_conversations(ctx: Context, args: argparse.Namespace) -> None:
    ctx.emit(ctx.client.count_conversations(**_conversation_filters(args)))


@command(
    "get_conversation",
    "Show conversations by id: a list in the order given, null (and exit 4) where missing.",
    examples=["get_conversation bb6a1b39c0d44d4db931e53d59897c77", "get_conversation ID1 ID2"],
    arguments=[arg("conversation_ids", nargs="+", metavar="CONVERSATION_ID")],
)
def get_conversation(ctx: Context, args: argparse.Namespace) -> None:
    found = ctx.client.get_conversations(args.conversation_ids)
    _emit_batch(ctx, "conversation", args.conversation_ids, found, CONVERSATION_VIEW)


@command(
    "start_conversation",
    "Start a conversation with a first message and print its start task.",
    examples=[
        'start_conversation --message "Summarise README.md"',
        'start_conversation --message "Fix the failing test" --repo owner/repo --branch main '
        "--git-provider github --wait",
    ],
    arguments=[
        arg("--message", required=True, metavar="TEXT", help="the first user message"),
        arg("--repo", metavar="OWNER/REPO", help="repository to clone into the workspace"),
        arg("--branch", help="branch of --repo"),
        arg("--git-provider", metavar="PROVIDER", help="git provider of --repo, e.g. github"),
        arg("--title", help="title (the server may replace it with a generated one)"),
        arg("--sandbox-id", help="start in this existing sandbox (resumed if paused)"),
        arg("--wait", action="store_true", help="wait until the start task is READY or ERROR"),
        _seconds("--timeout", 180.0, "with --wait, give up after SECONDS"),
        _seconds("--interval", 3.0, "with --wait, seconds between checks"),
    ],
)
def start_conversation(ctx: Context, args: argparse.Namespace) -> None:
    fields = {
        "selected_repository": args.repo,
        "selected_branch": args.branch,
        "git_provider": args.git_provider,
        "title": args.title,
        "sandbox_id": args.sandbox_id,
    }
    task = ctx.client.start_conversation(
        message=args.message, **{name: value for name, value in fields.items() if value is not None}
    )
    if args.wait and not (task.is_ready or task.is_error):
        ctx.note(f"start task {task.id} is {task.status}; waiting up to {args.timeout:g} s")
        task = ctx.client.wait_for_start_task(
            task.id, timeout=args.timeout, poll_interval=args.interval
        )
    ctx.emit(task, START_TASK_VIEW)
    if task.is_error:
        raise CliError(EXIT_UPSTREAM, f"start task {task.id} failed: {task.detail or 'no detail'}")


@command(
    "get_start_task",
    "Show start tasks by id (the progress of start_conversation); exit 4 where missing.",
    examples=["get_start_task 5c1e0f8a9b2d4e6f8a0b1c2d3e4f5a6b"],
    arguments=[arg("task_ids", nargs="+", metavar="TASK_ID")],
)
def get_start_task(ctx: Context, args: argparse.Namespace) -> None:
    found = ctx.client.get_start_tasks(args.task_ids)
    _emit_batch(ctx, "start task", args.task_ids, found, START_TASK_VIEW)


@command(
    "update_conversation",
    "Rename a conversation or change whether it is shared publicly.",
    examples=[
        'update_conversation bb6a1b39c0d44d4db931e53d59897c77 --title "Release notes"',
        "update_conversation bb6a1b39c0d44d4db931e53d59897c77 --private",
    ],
    arguments=[
        CONVERSATION_ID,
        arg("--title", help="new title"),
        one_of(
            arg("--public", dest="public", action="store_const", const=True, help="share it"),
            arg("--private", dest="public", action="store_const", const=False, help="unshare it"),
        ),
    ],
)
def update_conversation(ctx: Context, args: argparse.Namespace) -> None:
    fields = {"title": args.title, "public": args.public}
    changes = {name: value for name, value in fields.items() if value is not None}
    if not changes:
        raise usage_error("nothing to update: give --title, --public or --private")
    ctx.emit(ctx.client.update_conversation(args.conversation_id, **changes), CONVERSATION_VIEW)


@command(
    "delete_conversation",
    "Delete a conversation and its sub-conversations.",
    examples=["delete_conversation bb6a1b39c0d44d4db931e53d59897c77"],
    arguments=[CONVERSATION_ID],
)
def delete_conversation(ctx: Context, args: argparse.Namespace) -> None:
    success = ctx.client.delete_conversation(args.conversation_id)
    _emit_success(ctx, args.conversation_id, success, "deleted conversation")


@command(
    "send_message",
    "Send a follow-up message to a conversation whose sandbox is running.",
    examples=['send_message bb6a1b39c0d44d4db931e53d59897c77 --message "Also update the docs"'],
    arguments=[
        CONVERSATION_ID,
        arg("--message", required=True, metavar="TEXT", help="the message"),
        arg("--no-run", action="store_true", help="deliver the message without running the agent"),
    ],
)
def send_message(ctx: Context, args: argparse.Namespace) -> None:
    ctx.emit(ctx.client.send_message(args.conversation_id, args.message, run=not args.no_run))


@command(
    "download_trajectory",
    "Download a conversation's trajectory zip (meta.json plus one file per event).",
    examples=[
        "download_trajectory bb6a1b39c0d44d4db931e53d59897c77",
        "download_trajectory bb6a1b39c0d44d4db931e53d59897c77 -o run.zip",
    ],
    arguments=[
        CONVERSATION_ID,
        arg("-o", "--output", metavar="PATH", help="where to save (default conversation_<id>.zip)"),
    ],
)
def download_trajectory(ctx: Context, args: argparse.Namespace) -> None:
    destination = Path(args.output or f"conversation_{args.conversation_id}.zip")
    result = ctx.client.download_conversation(args.conversation_id, destination)
    ctx.note(f"saved {result.path} ({result.size} bytes)")
    ctx.emit(result)


@command(
    "wait_conversation",
    "Wait until a conversation is finished, failed or stuck, then show it.",
    examples=["wait_conversation bb6a1b39c0d44d4db931e53d59897c77 --timeout 1800"],
    arguments=[
        CONVERSATION_ID,
        _seconds("--timeout", 600.0, "give up after SECONDS"),
        _seconds("--interval", 5.0, "seconds between checks"),
    ],
)
def wait_conversation(ctx: Context, args: argparse.Namespace) -> None:
    ctx.note(f"waiting up to {args.timeout:g} s for conversation {args.conversation_id}")
    conversation = ctx.client.wait_until_terminal(
        args.conversation_id, timeout=args.timeout, poll_interval=args.interval
    )
    ctx.emit(conversation, CONVERSATION_VIEW)


# ---------------------------------------------------------------------------------------------
# App Server commands: users, sandboxes, specs


@command(
    "get_user",
    "Show the user (and organization) that the API key belongs to.",
    examples=["get_user", "--format table get_user"],
)
def get_user(ctx: Context, args: argparse.Namespace) -> None:
    ctx.emit(ctx.client.get_user(), USER_VIEW)


@command(
    "search_sandboxes",
    "List sandboxes, newest first.",
    examples=["search_sandboxes", "--format table search_sandboxes --all"],
    arguments=PAGING,
)
def search_sandboxes(ctx: Context, args: argparse.Namespace) -> None:
    def fetch(page_id: str | None, limit: int) -> Page[Any]:
        return ctx.client.search_sandboxes(limit=limit, page_id=page_id)

    _search(ctx, args, fetch, SANDBOX_VIEW, "sandboxes")


@command(
    "search_sandbox_specs",
    "List the sandbox specs (agent-server images) that sandboxes start from.",
    examples=["search_sandbox_specs"],
    arguments=PAGING,
)
def search_sandbox_specs(ctx: Context, args: argparse.Namespace) -> None:
    def fetch(page_id: str | None, limit: int) -> Page[Any]:
        return ctx.client.search_sandbox_specs(limit=limit, page_id=page_id)

    _search(ctx, args, fetch, SANDBOX_SPEC_VIEW, "sandbox specs")


@command(
    "start_sandbox",
    "Start a new sandbox (it may pause your oldest running ones to stay within the limit).",
    examples=[
        "start_sandbox",
        "start_sandbox --spec-id ghcr.io/openhands/agent-server:1.58.2-python",
    ],
    arguments=[arg("--spec-id", help="sandbox spec to start from (default: the server's)")],
)
def start_sandbox(ctx: Context, args: argparse.Namespace) -> None:
    ctx.emit(ctx.client.start_sandbox(args.spec_id), SANDBOX_VIEW)


@command(
    "pause_sandbox",
    "Pause a sandbox (its session key stops working).",
    examples=["pause_sandbox 22Cnn1FqUu17shZhJ7b5Ka"],
    arguments=[SANDBOX_ID],
)
def pause_sandbox(ctx: Context, args: argparse.Namespace) -> None:
    _emit_success(ctx, args.sandbox_id, ctx.client.pause_sandbox(args.sandbox_id), "paused sandbox")


@command(
    "resume_sandbox",
    "Resume a paused sandbox (returns before it is RUNNING; it gets a new session key).",
    examples=["resume_sandbox 22Cnn1FqUu17shZhJ7b5Ka"],
    arguments=[SANDBOX_ID],
)
def resume_sandbox(ctx: Context, args: argparse.Namespace) -> None:
    success = ctx.client.resume_sandbox(args.sandbox_id)
    _emit_success(ctx, args.sandbox_id, success, "resumed sandbox")


@command(
    "delete_sandbox",
    "Delete a sandbox and stop its runtime.",
    examples=["delete_sandbox 22Cnn1FqUu17shZhJ7b5Ka"],
    arguments=[SANDBOX_ID],
)
def delete_sandbox(ctx: Context, args: argparse.Namespace) -> None:
    success = ctx.client.delete_sandbox(args.sandbox_id)
    _emit_success(ctx, args.sandbox_id, success, "deleted sandbox")


# ---------------------------------------------------------------------------------------------
# App Server commands: events


@command(
    "search_events",
    "List a conversation's stored events, oldest first (works while the sandbox is paused).",
    examples=[
        "search_events bb6a1b39c0d44d4db931e53d59897c77 --limit 20",
        "search_events bb6a1b39c0d44d4db931e53d59897c77 --kind MessageEvent --all",
        "search_events bb6a1b39c0d44d4db931e53d59897c77 --after 2026-01-27T10:00:00",
    ],
    arguments=[
        CONVERSATION_ID,
        *EVENT_FILTERS,
        arg("--newest-first", action="store_true", help="sort newest first"),
        *PAGING,
    ],
)
def search_events(ctx: Context, args: argparse.Namespace) -> None:
    sort_order = "TIMESTAMP_DESC" if args.newest_first else None

    def fetch(page_id: str | None, limit: int) -> Page[Any]:
        return ctx.client.search_events(
            args.conversation_id,
            **_event_filters(args),
            sort_order=sort_order,
            limit=limit,
            page_id=page_id,
        )

    _search(ctx, args, fetch, EVENT_VIEW, "events")


def _event_filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"kind": args.kind, "timestamp_gte": args.after, "timestamp_lt": args.before}


@command(
    "count_events",
    "Count a conversation's stored events.",
    examples=[
        "count_events bb6a1b39c0d44d4db931e53d59897c77",
        "count_events bb6a1b39c0d44d4db931e53d59897c77 --kind ActionEvent",
    ],
    arguments=[CONVERSATION_ID, *EVENT_FILTERS],
)
def count_events(ctx: Context, args: argparse.Namespace) -> None:
    ctx.emit(ctx.client.count_events(args.conversation_id, **_event_filters(args)))


@command(
    "tail_events",
    "Print a conversation's events as JSON lines; with --follow, keep printing new ones.",
    examples=[
        "tail_events bb6a1b39c0d44d4db931e53d59897c77",
        "tail_events bb6a1b39c0d44d4db931e53d59897c77 --follow --interval 10",
        "tail_events bb6a1b39c0d44d4db931e53d59897c77 --kind MessageEvent | jq .source",
    ],
    arguments=[
        CONVERSATION_ID,
        KIND_FILTER,
        arg("--follow", action="store_true", help="keep polling for new events until Ctrl-C"),
        _seconds("--interval", 5.0, "seconds between polls with --follow"),
    ],
)
def tail_events(ctx: Context, args: argparse.Namespace) -> None:
    # Ids already printed, with their time, kept only while inside the re-read overlap.
    printed: dict[str, datetime | None] = {}
    newest: datetime | None = None
    while True:
        since = newest - TAIL_OVERLAP if newest else None
        for event in all_items(_event_fetcher(ctx, args.conversation_id, since, args), "events"):
            if event.id in printed:
                continue
            when = _event_time(event.timestamp)
            printed[event.id] = when
            if when is not None and (newest is None or when > newest):
                newest = when
            ctx.emit_line(event, EVENT_VIEW)
        if not args.follow:
            return
        if newest is not None:
            horizon = newest - TAIL_OVERLAP
            printed = {
                key: when for key, when in printed.items() if when is None or when >= horizon
            }
        time.sleep(args.interval)


def _event_fetcher(
    ctx: Context, conversation_id: str, since: datetime | None, args: argparse.Namespace
) -> PageFetcher:
    def fetch(page_id: str | None, limit: int) -> Page[Any]:
        return ctx.client.search_events(
            conversation_id, kind=args.kind, timestamp_gte=since, limit=limit, page_id=page_id
        )

    return fetch


def _event_time(timestamp: str | None) -> datetime | None:
    """Parse an event timestamp as naive UTC, the way the server stores it."""
    try:
        when = datetime.fromisoformat(timestamp or "")
    except ValueError:
        return None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


# ---------------------------------------------------------------------------------------------
# export_trajectories


@command(
    "export_trajectories",
    "Download every conversation's trajectory zip into a folder, skipping verified ones.",
    examples=[
        "export_trajectories archive/",
        "export_trajectories archive/ --updated-after 2026-01-27",
    ],
    arguments=[
        arg(
            "folder",
            metavar="FOLDER",
            help="folder for conversation_<id>.zip files (created if missing)",
        ),
        _time_filter("--updated-after", "conversations updated at or after WHEN"),
    ],
)
def export_trajectories(ctx: Context, args: argparse.Namespace) -> None:
    folder = Path(args.folder)
    if folder.exists() and not folder.is_dir():
        raise usage_error(f"{folder} is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"folder": str(folder), "downloaded": 0, "skipped": 0, "failed": 0}
    failures: list[dict[str, str]] = []

    def fetch(page_id: str | None, limit: int) -> Page[Any]:
        return ctx.client.search_conversations(
            updated_at_gte=args.updated_after,
            include_sub_conversations=True,
            limit=limit,
            page_id=page_id,
        )

    for conversation in all_items(fetch, "conversations"):
        try:
            summary[_export_one(ctx, conversation.id, folder)] += 1
        except ExportFailure as failure:
            summary["failed"] += 1
            failures.append({"id": conversation.id, "error": str(failure)})
            ctx.report_error(f"conversation {conversation.id}: {failure}")
    ctx.emit({**summary, "failures": failures})
    if failures:
        total = summary["downloaded"] + summary["skipped"] + summary["failed"]
        raise CliError(EXIT_UPSTREAM, f"{len(failures)} of {total} trajectories failed to download")


class ExportFailure(Exception):
    """One conversation's trajectory could not be exported; the others go on."""


def _export_one(ctx: Context, conversation_id: str, folder: Path) -> str:
    """Make sure ``folder`` holds the conversation's verified zip: "downloaded" or "skipped"."""
    # The id becomes a file name: an id from a misbehaving server must not escape the folder.
    if not _SAFE_ID.fullmatch(conversation_id):
        raise ExportFailure("the server sent an id that is not safe as a file name")
    destination = folder / f"conversation_{conversation_id}.zip"
    if destination.exists():
        problem = trajectory_zip_problem(destination)
        if problem is None:
            return "skipped"
        ctx.note(f"{destination.name}: {problem}; downloading it again")
    try:
        result = ctx.client.download_conversation(conversation_id, destination)
    except AuthenticationError:
        raise  # every other download would fail the same way
    except OpenHandsError as error:
        raise ExportFailure(str(error)) from error
    problem = trajectory_zip_problem(destination)
    if problem is not None:
        destination.unlink()
        raise ExportFailure(f"the downloaded zip is invalid: {problem}")
    ctx.note(f"downloaded {destination.name} ({result.size} bytes)")
    return "downloaded"


def trajectory_zip_problem(path: Path) -> str | None:
    """Return why ``path`` is not a complete trajectory zip, or None when it is one."""
    try:
        with zipfile.ZipFile(path) as archive:
            broken_member = archive.testzip()
            if broken_member is not None:
                return f"{broken_member} fails its CRC check"
            if "meta.json" not in archive.namelist():
                return "meta.json is missing"
            if not isinstance(json.loads(archive.read("meta.json")), dict):
                return "meta.json is not a JSON object"
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        return f"not a valid zip ({error})"
    return None


# ---------------------------------------------------------------------------------------------
# Agent-server commands (through the sandbox's AGENT_SERVER URL)


@command(
    "agent_search_events",
    "List a conversation's events straight from the agent server of its running sandbox.",
    examples=["agent_search_events bb6a1b39c0d44d4db931e53d59897c77 --kind MessageEvent"],
    arguments=[
        CONVERSATION_ID,
        KIND_FILTER,
        *PAGING,
    ],
)
def agent_search_events(ctx: Context, args: argparse.Namespace) -> None:
    with _conversation_agent(ctx, args.conversation_id) as agent:

        def fetch(page_id: str | None, limit: int) -> Page[Any]:
            return agent.search_conversation_events(
                args.conversation_id, kind=args.kind, limit=limit, page_id=page_id
            )

        _search(ctx, args, fetch, EVENT_VIEW, "events")


@command(
    "agent_count_events",
    "Count a conversation's events on the agent server of its running sandbox.",
    examples=["agent_count_events bb6a1b39c0d44d4db931e53d59897c77"],
    arguments=[CONVERSATION_ID, KIND_FILTER],
)
def agent_count_events(ctx: Context, args: argparse.Namespace) -> None:
    with _conversation_agent(ctx, args.conversation_id) as agent:
        ctx.emit(agent.count_conversation_events(args.conversation_id, kind=args.kind))


@contextmanager
def _conversation_agent(ctx: Context, conversation_id: str) -> Iterator[AgentServerClient]:
    conversation = ctx.client.get_conversation(conversation_id)
    if not conversation.sandbox_id:
        raise CliError(EXIT_NOT_FOUND, f"conversation {conversation_id} has no sandbox")
    with ctx.agent(conversation.sandbox_id) as agent:
        yield agent


@command(
    "agent_bash",
    "Run a shell command in a sandbox and print its exit code and output.",
    examples=[
        "agent_bash 22Cnn1FqUu17shZhJ7b5Ka -- ls -la /workspace/project",
        "agent_bash 22Cnn1FqUu17shZhJ7b5Ka --command 'git status' --cwd /workspace/project",
    ],
    arguments=[
        SANDBOX_ID,
        arg("words", nargs="*", metavar="COMMAND", help="the command, after --; run by /bin/sh"),
        arg("--command", dest="command_text", metavar="TEXT", help="the command as one string"),
        arg("--cwd", metavar="DIR", help="working directory in the sandbox"),
        arg("--timeout", type=_positive_int, metavar="SECONDS", help="stop the command after this"),
    ],
)
def agent_bash(ctx: Context, args: argparse.Namespace) -> None:
    if args.words and args.command_text:
        raise usage_error("give the command after -- or with --command, not both")
    # Like ssh, the words are joined with spaces and the remote shell parses the result.
    shell_command = args.command_text or " ".join(args.words)
    if not shell_command.strip():
        raise usage_error("give the command after -- or with --command")
    with ctx.agent(args.sandbox_id) as agent:
        output = agent.execute_bash(shell_command, cwd=args.cwd, timeout=args.timeout)
    ctx.emit(output, BASH_VIEW)


@command(
    "agent_download",
    "Download a file from a sandbox.",
    examples=[
        "agent_download 22Cnn1FqUu17shZhJ7b5Ka /workspace/project/README.md",
        "agent_download 22Cnn1FqUu17shZhJ7b5Ka /workspace/project/out.log -o logs/out.log",
    ],
    arguments=[
        SANDBOX_ID,
        arg("remote_path", metavar="REMOTE_PATH", help="absolute path of the file in the sandbox"),
        arg("-o", "--output", metavar="PATH", help="where to save (default: the file's name)"),
    ],
)
def agent_download(ctx: Context, args: argparse.Namespace) -> None:
    remote_path = _absolute_remote_path(args.remote_path)
    if not remote_path.name and not args.output:
        raise usage_error(f"{remote_path} has no file name; give -o PATH")
    destination = Path(args.output or remote_path.name)
    with ctx.agent(args.sandbox_id) as agent:
        result = agent.download_file(str(remote_path), destination)
    ctx.note(f"saved {result.path} ({result.size} bytes)")
    ctx.emit(result)


@command(
    "agent_upload",
    "Upload a local file into a sandbox (missing folders are created, files replaced).",
    examples=["agent_upload 22Cnn1FqUu17shZhJ7b5Ka notes.md /workspace/project/notes.md"],
    arguments=[
        SANDBOX_ID,
        arg("local_path", metavar="LOCAL_PATH", help="file to upload"),
        arg("remote_path", metavar="REMOTE_PATH", help="absolute destination path in the sandbox"),
    ],
)
def agent_upload(ctx: Context, args: argparse.Namespace) -> None:
    local_path = Path(args.local_path)
    if not local_path.is_file():
        raise usage_error(f"{local_path} is not a readable file")
    remote_path = _absolute_remote_path(args.remote_path)
    with ctx.agent(args.sandbox_id) as agent:
        size = agent.upload_file(str(remote_path), local_path)
    ctx.emit({"remote_path": str(remote_path), "size": size})


def _absolute_remote_path(text: str) -> PurePosixPath:
    path = PurePosixPath(text)
    if not path.is_absolute():
        raise usage_error(f"the sandbox path must be absolute (got {text!r})")
    return path


@command(
    "agent_git_changes",
    "List the changed files of a git repository in a sandbox.",
    examples=["agent_git_changes 22Cnn1FqUu17shZhJ7b5Ka /workspace/project"],
    arguments=[
        SANDBOX_ID,
        arg("repo_path", metavar="REPO_PATH", help="repository folder in the sandbox"),
        arg("--ref", help="compare with this ref (default: the upstream branch)"),
    ],
)
def agent_git_changes(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.agent(args.sandbox_id) as agent:
        changes = agent.git_changes(args.repo_path, ref=args.ref)
    ctx.emit(changes, GIT_CHANGE_VIEW)


@command(
    "agent_git_diff",
    "Show the original and modified text of a file in a sandbox's git repository.",
    examples=["agent_git_diff 22Cnn1FqUu17shZhJ7b5Ka /workspace/project/README.md"],
    arguments=[
        SANDBOX_ID,
        arg("file_path", metavar="FILE_PATH", help="file in the sandbox"),
        arg("--ref", help="compare with this ref (default: the upstream branch)"),
    ],
)
def agent_git_diff(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.agent(args.sandbox_id) as agent:
        diff = agent.git_diff(args.file_path, ref=args.ref)
    ctx.emit(diff)


@command(
    "agent_vscode_url",
    "Print the VS Code URL of a running sandbox (it embeds the session key; exit 4 if none).",
    examples=["agent_vscode_url 22Cnn1FqUu17shZhJ7b5Ka", "--format table agent_vscode_url ID"],
    arguments=[SANDBOX_ID],
)
def agent_vscode_url(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.agent(args.sandbox_id) as agent:
        url = agent.vscode_url()
    if url is None:
        raise CliError(EXIT_NOT_FOUND, f"VS Code is not running in sandbox {args.sandbox_id}")
    # The URL only works with its token (the session key) and is what was asked for, so it is
    # printed as is: masking only applies to session_api_key fields, which this has none of.
    ctx.emit({"url": url})


# ---------------------------------------------------------------------------------------------
# Parser and entry point


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one ``error:`` line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see '{self.prog} --help')\n")


def _global_options() -> argparse.ArgumentParser:
    # Every default is SUPPRESS so the options work before and after the command name
    # without the command's parser overwriting a value given before it.
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("global options")
    hidden = argparse.SUPPRESS
    group.add_argument(
        "--base-url", default=hidden, help="App Server URL (default: $OPENHANDS_APP_BASE)"
    )
    group.add_argument("--org-id", default=hidden, help="organization (default: $OPENHANDS_ORG_ID)")
    group.add_argument(
        "--auth-style",
        choices=[style.value for style in AuthStyle],
        default=hidden,
        help="how to send the key (default: $OPENHANDS_AUTH_STYLE or bearer)",
    )
    group.add_argument(
        "--api-key-file",
        metavar="PATH",
        default=hidden,
        help="read the API key from this file instead of $OPENHANDS_API_KEY",
    )
    group.add_argument(
        "--format",
        choices=["json", "table"],
        default=hidden,
        help="json (default): one JSON document; table: aligned columns",
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", default=hidden, help="no progress notes"
    )
    group.add_argument(
        "-v", "--verbose", action="store_true", default=hidden, help="log every HTTP request"
    )
    group.add_argument(
        "--show-secrets",
        action="store_true",
        default=hidden,
        help="print session keys instead of masking them",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every registered command as a subcommand."""
    formatter = argparse.RawDescriptionHelpFormatter
    global_options = _global_options()
    parser = _Parser(
        prog=PROG,
        description="Command-line client for the OpenHands Cloud V1 API (and self-hosted servers).",
        epilog="\n\n".join(
            section
            for section in (
                _docstring_section("Environment"),
                _docstring_section("Exit codes"),
                f"Run '{PROG} COMMAND --help' for a command's options and examples.",
            )
            if section
        ),
        formatter_class=formatter,
        parents=[global_options],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for spec in COMMANDS.values():
        examples = "\n".join(f"  {PROG} {example}" for example in spec.examples)
        subparser = commands.add_parser(
            spec.name,
            help=spec.summary,
            description=spec.summary,
            epilog=f"examples:\n{examples}\n\nexit codes: see '{PROG} --help'",
            formatter_class=formatter,
            parents=[global_options],
        )
        for configure in spec.arguments:
            configure(subparser)
        subparser.set_defaults(run=spec.run)
    return parser


def exit_code_for(error: OpenHandsError) -> int:
    """Map a client error to the CLI's documented exit code."""
    match error:
        case AuthenticationError():
            return EXIT_AUTH
        case NotFoundError() | GoneError():
            return EXIT_NOT_FOUND
        case ConflictError():
            return EXIT_CONFLICT
        case BadRequestError():
            return EXIT_USAGE
        case _:
            return EXIT_UPSTREAM


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one command and return its exit code, never showing a traceback.

    ``--help``, ``--version`` and argument errors leave through argparse's SystemExit (0 or 2).
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    argv, remote_words = _split_remote_command(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    if remote_words:
        args.words = [*args.words, *remote_words]
    try:
        settings = load_settings(args, os.environ if environ is None else environ)
    except CliError as error:
        stderr.write(f"error: {error}\n")
        return error.exit_code
    _configure_logging(settings, stderr)
    with Context(settings, stdout, stderr) as ctx:
        return _run(ctx, args)


def _split_remote_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """Take the words after ``--`` of ``agent_bash`` out of argv.

    argparse hands a ``nargs="*"`` positional its (empty) share as soon as it passes it, so
    ``agent_bash ID --cwd /tmp -- ls`` would leave ``ls`` unrecognized; splitting first lets
    options sit anywhere before ``--``.
    """
    if "--" in argv and "agent_bash" in argv[: argv.index("--")]:
        split = argv.index("--")
        return argv[:split], argv[split + 1 :]
    return argv, []


def _run(ctx: Context, args: argparse.Namespace) -> int:
    try:
        args.run(ctx, args)
    except CliError as error:
        ctx.report_error(str(error))
        return error.exit_code
    except OpenHandsError as error:
        ctx.report_error(str(error))
        return exit_code_for(error)
    except KeyboardInterrupt:
        ctx.report_error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (e.g. `| head`) has gone: stop quietly, and keep Python's final flush of
        # stdout from raising the same error again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as error:
        ctx.report_error(str(error))
        return EXIT_FAILURE
    except Exception as error:  # a bug: still one line, no traceback, no secrets
        ctx.report_error(f"unexpected {type(error).__name__}: {error}")
        return EXIT_FAILURE
    return EXIT_OK


def _configure_logging(settings: Settings, stderr: TextIO) -> None:
    level = logging.INFO if settings.verbose else logging.WARNING
    if settings.quiet:
        level = logging.ERROR
    logging.basicConfig(level=level, stream=stderr, format=f"{PROG}: %(levelname)s: %(message)s")
