"""Run the fake App Server: ``python -m apps.fake_app_server --help``.

Once listening it writes ``LISTENING http://127.0.0.1:PORT`` on stdout (so ``--port 0`` can be
used by a parent process), logs to stderr, and stops cleanly on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from apps.fake_app_server.config import (
    AUTH_MODES,
    DEFAULT_IDLE_PAUSE_SECONDS,
    SCENARIOS,
    VOLUME_DEFAULTS,
    AccessParams,
    ScenarioParams,
    Settings,
    SettingsError,
)
from apps.fake_app_server.server import FakeHTTPServer, NotLoopbackError
from apps.fake_app_server.timeutil import parse_datetime

logger = logging.getLogger("apps.fake_app_server")


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m apps.fake_app_server",
        description="A fake OpenHands Cloud App Server (V1 API) on loopback, for tests and demos.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address (default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8090, help="0 picks a free port")
    parser.add_argument("--scenario", choices=SCENARIOS, default="demo")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start-time", help="ISO-8601 start of the fake clock (default: now)")
    parser.add_argument(
        "--frozen-clock",
        action="store_true",
        help="the clock moves only when told to (POST /_fake/clock)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        dest="api_keys",
        help="accepted key; repeat for more users (each key is its own user)",
    )
    parser.add_argument(
        "--auth", choices=AUTH_MODES, help="default: bearer when keys are given, else none"
    )
    volume = parser.add_argument_group("volume scenario")
    volume.add_argument("--conversations", type=int, default=VOLUME_DEFAULTS["conversations"])
    volume.add_argument("--sandboxes", type=int, default=VOLUME_DEFAULTS["sandboxes"])
    volume.add_argument(
        "--events-per-conversation", type=int, default=VOLUME_DEFAULTS["events_per_conversation"]
    )
    volume.add_argument(
        "--large-conversation-events",
        type=int,
        default=0,
        help="give the newest conversation this many events",
    )
    volume.add_argument(
        "--observation-bytes",
        type=int,
        default=0,
        help="size of each terminal output in that large conversation",
    )
    pace = parser.add_argument_group("time (fake seconds; 0 switches off)")
    pace.add_argument(
        "--new-conversation-every",
        type=float,
        help="a new conversation appears this often (demo: 300)",
    )
    pace.add_argument(
        "--delete-conversation-every",
        type=float,
        help="a conversation is deleted upstream this often (demo: 1800)",
    )
    pace.add_argument("--sandbox-idle-pause-after", type=float, default=DEFAULT_IDLE_PAUSE_SECONDS)
    limits = parser.add_argument_group("rate limits (per key, fixed windows)")
    limits.add_argument("--rate-limit-per-second", type=int, default=10)
    limits.add_argument("--rate-limit-per-minute", type=int, default=100)
    limits.add_argument("--no-rate-limit", action="store_true")
    parser.add_argument(
        "--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Return the settings the command line asks for; raise ``SettingsError`` if invalid."""
    try:
        start_time = parse_datetime(args.start_time) if args.start_time else None
    except ValueError:
        raise SettingsError(
            f"--start-time {args.start_time!r} is not an ISO-8601 date-time"
        ) from None
    scenario = ScenarioParams(
        scenario=args.scenario,
        seed=args.seed,
        start_time=start_time,
        conversations=args.conversations,
        sandboxes=args.sandboxes,
        events_per_conversation=args.events_per_conversation,
        large_conversation_events=args.large_conversation_events,
        observation_bytes=args.observation_bytes,
        new_conversation_every=args.new_conversation_every,
        delete_conversation_every=args.delete_conversation_every,
        sandbox_idle_pause_after=args.sandbox_idle_pause_after,
        frozen_clock=args.frozen_clock,
    )
    access = AccessParams(
        auth=args.auth or ("bearer" if args.api_keys else "none"),
        api_keys=tuple(args.api_keys),
        rate_limit_per_second=None if args.no_rate_limit else args.rate_limit_per_second,
        rate_limit_per_minute=None if args.no_rate_limit else args.rate_limit_per_minute,
    )
    return Settings(scenario=scenario, access=access)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until SIGTERM or SIGINT; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        server = FakeHTTPServer(args.host, args.port, settings_from_args(args))
    except (SettingsError, NotLoopbackError) as error:
        parser.error(str(error))
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    serving = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name="fake-app-server",
        daemon=True,
    )
    serving.start()
    sys.stdout.write(f"LISTENING {server.base_url}\n")
    sys.stdout.flush()
    # A timeout keeps the main thread responsive to signals.
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    serving.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
