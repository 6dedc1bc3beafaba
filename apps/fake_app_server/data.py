"""Generate the fake's world from a seed: users, sandboxes, conversations (events come later).

Scenarios:

* ``demo``: per user, twelve realistic conversations in several repositories, four sandboxes
  (RUNNING, RUNNING, PAUSED, MISSING), every interesting event kind, one event kind from the
  future, and hostile strings (a ``<script>`` title, a file name with ``../`` and quotes) that a
  web page must escape.
* ``empty``: users and sandbox specs, nothing else.
* ``volume``: ``conversations`` x ``sandboxes`` x ``events_per_conversation`` per user, spread
  over 90 days; optionally one conversation with ``large_conversation_events`` big events.

The same seed and start time always give the same world (ids, titles, times, events).
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apps.fake_app_server.config import ScenarioParams
from apps.fake_app_server.ids import base62_id, hex_id, random_uuid
from apps.fake_app_server.model import Conversation, Run, Sandbox, SandboxSpec, User

DEFAULT_SPEC_ID = "ghcr.io/openhands/agent-server:1.58.2-python"
SPEC_IDS = (
    DEFAULT_SPEC_ID,
    "ghcr.io/openhands/agent-server:1.57.0-python",
    "ghcr.io/openhands/agent-server:1.58.2-nodejs",
)
PEOPLE = (
    ("Ada Lovelace", "ada@acme.example", "Acme Corp"),
    ("Grace Hopper", "grace@nimbus.example", "Nimbus Labs"),
    ("Alan Turing", "alan@bletchley.example", "Bletchley Software"),
    ("Katherine Johnson", "katherine@orbit.example", "Orbit Analytics"),
)
VOLUME_SPAN = timedelta(days=90)
VOLUME_RUNNING_SANDBOXES = 3
VOLUME_RECENT_RUNNING = timedelta(minutes=20)
SUB_CONVERSATION_EVERY = 97


@dataclass
class World:
    """Everything the fake serves, as generated (the store indexes and changes it)."""

    seed: int
    start: datetime
    users: list[User]
    specs: list[SandboxSpec]
    sandboxes: list[Sandbox] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)


def world_seed(seed: int) -> str:
    """Return the string every derived id and event is seeded from."""
    return f"fake-app-server:{seed}"


def make_users(seed: int, count: int) -> list[User]:
    """Return ``count`` users (at least one), each in an organization of its own."""
    rng = random.Random(f"{world_seed(seed)}:users")
    users = []
    for index in range(max(1, count)):
        if index < len(PEOPLE):
            name, email, org_name = PEOPLE[index]
        else:
            name, email, org_name = f"User {index}", f"user{index}@example.com", f"Org {index}"
        users.append(
            User(
                index=index,
                id=str(random_uuid(rng)),
                email=email,
                name=name,
                org_id=str(random_uuid(rng)),
                org_name=org_name,
            )
        )
    return users


def make_specs(start: datetime) -> list[SandboxSpec]:
    """Return the preset sandbox specs (newest first, like the Cloud's list)."""
    return [
        SandboxSpec(id=spec_id, created_at=start - timedelta(days=7 * (index + 1)))
        for index, spec_id in enumerate(SPEC_IDS)
    ]


def generate_world(params: ScenarioParams, start: datetime, user_count: int) -> World:
    """Generate the world of ``params.scenario`` as it stands at ``start``."""
    users = make_users(params.seed, user_count)
    world = World(seed=params.seed, start=start, users=users, specs=make_specs(start))
    for user in users:
        rng = random.Random(f"{world_seed(params.seed)}:{params.scenario}:{user.index}")
        if params.scenario == "demo":
            _add_demo(world, user, rng)
        elif params.scenario == "volume":
            _add_volume(world, user, rng, params)
    return world


# -- demo ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DemoSandbox:
    status: str
    created_minutes_ago: int
    status_detail: str | None = None


@dataclass(frozen=True)
class _DemoConversation:
    title: str
    message: str
    repository: str | None
    branch: str | None
    created_minutes_ago: int
    duration_minutes: int
    events: int
    final_status: str
    sandbox: int
    trigger: str | None = "gui"
    pr_number: tuple[int, ...] = ()
    flavor: frozenset[str] = frozenset()
    parent: int | None = None


DEMO_SANDBOXES = (
    _DemoSandbox("RUNNING", 180),
    _DemoSandbox("RUNNING", 75),
    _DemoSandbox("PAUSED", 2 * 24 * 60),
    _DemoSandbox("MISSING", 9 * 24 * 60),
)
DAY = 24 * 60
DEMO_CONVERSATIONS = (
    _DemoConversation(
        "Fix flaky checkout test",
        "The checkout test fails about one run in ten. Find out why and make it reliable.",
        "acme-corp/storefront",
        "main",
        6,
        10,
        40,
        "finished",
        1,
    ),
    _DemoConversation(
        "Add pagination to the /orders endpoint",
        "GET /orders returns every order at once. Add limit/offset pagination with tests.",
        "acme-corp/storefront",
        "feature/orders-pagination",
        70,
        20,
        130,
        "finished",
        1,
        pr_number=(128,),
    ),
    _DemoConversation(
        "Review: pagination for /orders",
        "Review the pagination change on feature/orders-pagination and list any problems.",
        "acme-corp/storefront",
        "feature/orders-pagination",
        48,
        6,
        18,
        "finished",
        1,
        trigger=None,
        parent=1,
    ),
    _DemoConversation(
        "<script>alert(1)</script>",
        "Rename the docs page whose title breaks the site generator.",
        "nimbus-labs/infra",
        "main",
        150,
        12,
        26,
        "finished",
        0,
        flavor=frozenset({"hostile_path"}),
    ),
    _DemoConversation(
        "Upgrade Django to 5.2 and fix deprecations",
        "Upgrade Django to 5.2, fix the deprecation warnings and push the branch.",
        "acme-corp/billing-service",
        "chore/django-5.2",
        100,
        15,
        30,
        "waiting_for_confirmation",
        0,
    ),
    _DemoConversation(
        "Investigate memory leak in the image worker",
        "The image worker's memory grows until it is OOM-killed. Find the leak.",
        "nimbus-labs/image-pipeline",
        "main",
        170,
        25,
        34,
        "error",
        0,
        flavor=frozenset({"agent_error"}),
    ),
    _DemoConversation(
        "Debug CI timeout on arm64 runners",
        "The arm64 CI job times out after 60 minutes since Tuesday. Find out why.",
        "nimbus-labs/image-pipeline",
        "ci/arm64-timeout",
        20,
        45,
        90,
        "finished",
        0,
    ),
    _DemoConversation(
        "Write a README for the deploy CLI",
        "Write a README for deploy-cli: install, configuration, the three commands.",
        "nimbus-labs/deploy-cli",
        "main",
        2 * DAY - 10,
        8,
        22,
        "finished",
        2,
        trigger="openhands_api",
    ),
    _DemoConversation(
        "Terraform: add a staging bucket",
        "Add an S3 bucket for staging next to the production one, same policies.",
        "nimbus-labs/infra",
        "infra/staging-bucket",
        2 * DAY - 40,
        30,
        28,
        "stuck",
        2,
        trigger="slack",
    ),
    _DemoConversation(
        "Explain the retry logic in payments.py",
        "How does the retry logic in payments.py decide when to give up?",
        None,
        None,
        2 * DAY - 90,
        2,
        7,
        "idle",
        2,
    ),
    _DemoConversation(
        "Translate the onboarding docs to German",
        "Translate docs/onboarding/*.md to German into docs/de/onboarding/.",
        "acme-corp/docs",
        "docs/german-onboarding",
        9 * DAY - 5,
        18,
        36,
        "finished",
        3,
        flavor=frozenset({"quantum"}),
    ),
    _DemoConversation(
        "Bump dependencies and regenerate the lockfile",
        "Bump all dependencies to their latest minor versions and regenerate the lockfile.",
        "acme-corp/billing-service",
        "deps/2026-08",
        9 * DAY - 60,
        10,
        24,
        "finished",
        3,
        trigger="resolver",
        pr_number=(311, 312),
    ),
)


def _add_demo(world: World, user: User, rng: random.Random) -> None:
    start = world.start
    sandboxes = []
    for spec in DEMO_SANDBOXES:
        created = start - timedelta(minutes=spec.created_minutes_ago)
        sandboxes.append(
            Sandbox(
                id=base62_id(rng),
                owner=user.index,
                created_by_user_id=user.id,
                sandbox_spec_id=DEFAULT_SPEC_ID,
                created_at=created,
                status=spec.status,
                active_since=created,
                status_detail=spec.status_detail,
            )
        )
    world.sandboxes.extend(sandboxes)
    conversations: list[Conversation] = []
    for spec in DEMO_CONVERSATIONS:
        created = start - timedelta(minutes=spec.created_minutes_ago)
        run = Run(
            started_at=created,
            planned_end=created + timedelta(minutes=spec.duration_minutes),
            planned_count=spec.events,
            final_status=spec.final_status,
            message=spec.message,
            first=True,
            flavor=spec.flavor,
        )
        conversation = _conversation(
            rng,
            user,
            sandboxes[spec.sandbox].id,
            created,
            spec.title,
            run,
            spec.repository,
            spec.branch,
        )
        conversation.trigger = spec.trigger
        conversation.pr_number = list(spec.pr_number)
        if spec.parent is not None:
            _link_sub_conversation(conversations[spec.parent], conversation)
        conversations.append(conversation)
    world.conversations.extend(conversations)


def _conversation(
    rng: random.Random,
    user: User,
    sandbox_id: str,
    created: datetime,
    title: str,
    run: Run,
    repository: str | None,
    branch: str | None,
) -> Conversation:
    tags = {}
    if repository:
        tags = {"repo_name": repository, "git_provider": "github", "selected_branch": branch or ""}
    return Conversation(
        id=hex_id(rng),
        owner=user.index,
        created_by_user_id=user.id,
        sandbox_id=sandbox_id,
        created_at=created,
        title=title,
        runs=[run],
        selected_repository=repository,
        selected_branch=branch,
        git_provider="github" if repository else None,
        tags=tags,
        cost_per_event=round(rng.uniform(0.004, 0.03), 4),
    )


def _link_sub_conversation(parent: Conversation, child: Conversation) -> None:
    child.parent_conversation_id = parent.id
    child.sandbox_id = parent.sandbox_id
    parent.sub_conversation_ids.append(child.id)


# -- volume ----------------------------------------------------------------------------------

VOLUME_VERBS = (
    "Fix",
    "Refactor",
    "Document",
    "Speed up",
    "Add tests for",
    "Investigate",
    "Remove",
    "Upgrade",
    "Translate",
    "Review",
)
VOLUME_TOPICS = (
    "the login form",
    "order pagination",
    "the retry policy",
    "CSV export",
    "the nightly job",
    "webhook signatures",
    "the cache layer",
    "image resizing",
    "the billing report",
    "feature flags",
    "the search index",
    "rate limiting",
)
VOLUME_REPOSITORIES = (
    "acme-corp/storefront",
    "acme-corp/billing-service",
    "acme-corp/docs",
    "nimbus-labs/infra",
    "nimbus-labs/image-pipeline",
    "nimbus-labs/deploy-cli",
    "orbit/analytics",
    "orbit/etl",
    None,
)
VOLUME_OUTCOMES = (("finished", 85), ("error", 5), ("stuck", 5), ("idle", 5))


def _add_volume(world: World, user: User, rng: random.Random, params: ScenarioParams) -> None:
    start = world.start
    sandboxes = _volume_sandboxes(rng, user, start, params.sandboxes)
    world.sandboxes.extend(sandboxes)
    sandbox_times = [sandbox.created_at for sandbox in sandboxes]  # oldest first
    created_times = sorted(start - VOLUME_SPAN * rng.random() for _ in range(params.conversations))
    outcomes = [name for name, weight in VOLUME_OUTCOMES for _ in range(weight)]
    conversations: list[Conversation] = []
    for index, created in enumerate(created_times):
        sandbox = sandboxes[max(0, bisect.bisect_right(sandbox_times, created) - 1)]
        run = _volume_run(rng, start, created, sandbox, params, outcomes)
        title = f"{rng.choice(VOLUME_VERBS)} {rng.choice(VOLUME_TOPICS)} #{index + 1}"
        repository = rng.choice(VOLUME_REPOSITORIES)
        conversation = _conversation(
            rng, user, sandbox.id, created, title, run, repository, "main" if repository else None
        )
        if index % SUB_CONVERSATION_EVERY == SUB_CONVERSATION_EVERY - 1 and conversations:
            _link_sub_conversation(conversations[-1], conversation)
        conversations.append(conversation)
    if params.large_conversation_events:
        _make_large(conversations[-1], start, params)
    world.conversations.extend(conversations)


def _volume_sandboxes(rng: random.Random, user: User, start: datetime, count: int) -> list[Sandbox]:
    sandboxes = []
    for index in range(count):
        # Oldest first; the first one predates every conversation.
        created = start - VOLUME_SPAN - timedelta(hours=1) + (VOLUME_SPAN * index / count)
        newest_rank = count - 1 - index
        if newest_rank < VOLUME_RUNNING_SANDBOXES:
            status, detail = "RUNNING", None
        elif newest_rank == VOLUME_RUNNING_SANDBOXES and count >= 10:
            status, detail = "ERROR", "ImagePullBackOff: agent-server image not found"
        elif newest_rank < VOLUME_RUNNING_SANDBOXES + max(1, count // 5):
            status, detail = "PAUSED", None
        else:
            status, detail = "MISSING", None
        sandboxes.append(
            Sandbox(
                id=base62_id(rng),
                owner=user.index,
                created_by_user_id=user.id,
                sandbox_spec_id=DEFAULT_SPEC_ID,
                created_at=created,
                status=status,
                active_since=created,
                status_detail=detail,
            )
        )
    return sandboxes


def _volume_run(
    rng: random.Random,
    start: datetime,
    created: datetime,
    sandbox: Sandbox,
    params: ScenarioParams,
    outcomes: list[str],
) -> Run:
    events = params.events_per_conversation
    message = f"Please work on task {rng.randrange(10_000)} in this repository."
    if sandbox.status == "RUNNING" and start - created < VOLUME_RECENT_RUNNING:
        # Recent work in a running sandbox is still going on.
        return Run(
            started_at=created,
            planned_end=start + timedelta(minutes=15),
            planned_count=events,
            final_status="finished",
            message=message,
            first=True,
        )
    duration = timedelta(seconds=20 * events)
    end = min(created + duration, start - timedelta(seconds=1))
    return Run(
        started_at=created,
        planned_end=max(created, end),
        planned_count=events,
        final_status=rng.choice(outcomes),
        message=message,
        first=True,
    )


def _make_large(conversation: Conversation, start: datetime, params: ScenarioParams) -> None:
    """Turn ``conversation`` into a long, finished one with big terminal outputs."""
    events = params.large_conversation_events
    created = start - timedelta(seconds=events + 600)
    conversation.created_at = created
    conversation.title = f"Load test: export a {events}-event trajectory"
    conversation.runs = [
        Run(
            started_at=created,
            planned_end=created + timedelta(seconds=events),
            planned_count=events,
            final_status="finished",
            message="Run the long soak test and keep the full logs.",
            first=True,
            observation_bytes=params.observation_bytes,
        )
    ]
