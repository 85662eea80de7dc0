"""Building blocks for runtime tests: a project with a team, sending, waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import event as sa_event

from kumiai.application.ports.events import SessionEvent
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, Text, ToolUse
from tests.support.sse import Event, collect

TERMINAL = {"done", "error", "cancelled"}

DATABASE = "Which database should the service use?"
EXTRAS = "Which extras do you want?"
QUESTIONS: dict[str, Any] = {
    "questions": [
        {
            "question": DATABASE,
            "header": "Database",
            "multiSelect": False,
            "options": [
                {"label": "PostgreSQL", "description": "Relational, what we run today."},
                {"label": "SQLite", "description": "A file, no server."},
            ],
        },
        {
            "question": EXTRAS,
            "header": "Extras",
            "multiSelect": True,
            "options": [
                {"label": "Redis", "description": "A cache."},
                {"label": "Metrics", "description": "Prometheus metrics."},
            ],
        },
    ]
}


@dataclass(frozen=True)
class Team:
    project: dict[str, Any]
    pm_session_id: str
    members: dict[str, dict[str, Any]]


@contextmanager
def counting_statements(live: LiveApp) -> Iterator[list[str]]:
    """Every statement the app's engine sends while the block runs."""
    engine = live.container.database.engine.sync_engine
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)


async def create_character(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v2/characters", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


async def create_team(live: LiveApp, *specialists: str) -> Team:
    """A project whose PM is 'Pat' and whose team is the given specialists."""
    client = live.client
    pm = await create_character(client, "Pat", role="project manager")
    members = {name: await create_character(client, name) for name in specialists}
    response = await client.post(
        "/api/v2/projects",
        json={
            "name": "Apollo",
            "team_character_ids": [member["slug"] for member in members.values()],
            "pm_character_id": pm["slug"],
        },
    )
    assert response.status_code == 201, response.text
    project = response.json()["data"]
    return Team(project=project, pm_session_id=project["pm_session_id"], members=members)


async def create_specialist(live: LiveApp, team: Team, name: str) -> str:
    response = await live.client.post(
        "/api/v2/sessions",
        json={
            "session_type": "specialist",
            "character_id": team.members[name]["slug"],
            "project_id": team.project["id"],
            "context": {"description": "a task"},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]  # type: ignore[no-any-return]


async def specialist_of_dana_with(live: LiveApp, **character: list[str]) -> str:
    """A specialist session of 'Dana', her character changed first (``allowed_tools``...)."""
    team = await create_team(live, "Dana")
    slug = team.members["Dana"]["slug"]
    response = await live.client.patch(f"/api/v2/characters/{slug}", json=character)
    assert response.status_code == 200, response.text
    return await create_specialist(live, team, "Dana")


async def send(client: httpx.AsyncClient, session_id: str, content: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v2/sessions/{session_id}/messages", json={"content": content}
    )
    assert response.status_code == 202, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


async def start_a_long_task(
    live: LiveApp, claude: ScriptedAnthropic, session_id: str
) -> dict[str, Any]:
    """Send "long task", whose turn hangs (until cancelled), and wait until Claude has
    its request: a turn stopped before that (the first turn builds the runtime first)
    would leave the hanging reply to the next one."""
    asked = len(claude.requests)
    claude.enqueue(Reply.hang())
    sent = await send(live.client, session_id, "long task")
    await wait_for_event(live, session_id, "run_started", run_id=sent["run_id"])
    # As long as the start's wait: the first turn of a test process loads the model SDK
    # before its request (2-3 s at a load of 3, past the default 5 s under more).
    await claude.wait_for_requests_async(asked + 1, timeout=15)
    return sent


async def session(client: httpx.AsyncClient, session_id: str) -> dict[str, Any]:
    return (await client.get(f"/api/v2/sessions/{session_id}")).json()["data"]  # type: ignore[no-any-return]


async def wait_for_status(
    client: httpx.AsyncClient, session_id: str, *statuses: str, timeout: float = 10
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        current = await session(client, session_id)
        if current["status"] in statuses:
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"session stayed {current['status']}, wanted {statuses}")
        await asyncio.sleep(0.05)


async def wait_until_idle(live: LiveApp, session_id: str, timeout: float = 15) -> None:
    """Until the session's worker has nothing running, nothing queued and has retired
    (a worker reads its queue once more after a turn: that read belongs to this turn)."""
    deadline = asyncio.get_running_loop().time() + timeout
    inbox, workers = live.container.inbox, live.container.workers
    key = UUID(session_id)
    # The worker first, then the queue (an input leaves it only once it is the running
    # one): the queue is read once a worker retired, so a test that counts statements
    # counts one read here however long the worker took.
    while workers.draining(key) or (await inbox.queue(key)).waiting:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the session kept running")
        await asyncio.sleep(0.05)


async def wait_for_event(
    live: LiveApp,
    session_id: str,
    event_type: str,
    *,
    run_id: str | None = None,
    timeout: float = 15,
) -> SessionEvent:
    """The first event of ``event_type`` (of ``run_id``) in the session's log, replayed
    from the start, or the next one to come; fails after ``timeout`` seconds."""
    subscription = await live.container.events.subscribe(UUID(session_id), after=0)
    try:
        async with asyncio.timeout(timeout):
            async for event in subscription:
                if event.type == event_type and run_id in (None, event.data.get("run_id")):
                    return event
    finally:
        subscription.close()
    raise AssertionError(f"no {event_type} event")


async def wait_for_subscriber(live: LiveApp, session_id: str, timeout: float = 10) -> None:
    """Until a client has subscribed to the session's live events."""
    log = live.container.events.log(UUID(session_id))
    async with asyncio.timeout(timeout):
        while log.subscriber_count == 0:
            await asyncio.sleep(0.01)


async def settle(live: LiveApp, claude: ScriptedAnthropic, session_ids: list[str]) -> None:
    """Until every scripted reply is used and no session has a turn running or queued."""
    async with asyncio.timeout(30):
        while claude.pending:
            await asyncio.sleep(0.02)
    for session_id in session_ids:
        await wait_until_idle(live, session_id, timeout=20)


async def messages(client: httpx.AsyncClient, session_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v2/sessions/{session_id}/messages", params={"limit": 200})
    return response.json()["data"]  # type: ignore[no-any-return]


def assert_history_pairs(rows: list[dict[str, Any]]) -> None:
    """Every tool result answers an earlier call, and every call gets an answer."""
    calls = [
        row["tool_use_id"] for row in rows if row["role"] == "assistant" and row["tool_use_id"]
    ]
    results = [row["tool_use_id"] for row in rows if row["role"] == "tool_result"]
    assert sorted(calls) == sorted(results)
    seen: set[str] = set()
    for row in rows:
        if row["role"] == "assistant" and row["tool_use_id"]:
            seen.add(row["tool_use_id"])
        if row["role"] == "tool_result":
            assert row["tool_use_id"] in seen
    assert [row["sequence"] for row in rows] == list(range(len(rows)))


async def follow_events(app: LiveApp, session_id: str, **kwargs: object) -> list[Event]:
    """A session's v2 event stream (``GET …/events``), read until a ``done``."""
    async with app.client.stream(
        "GET",
        f"/api/v2/sessions/{session_id}/events",
        **kwargs,  # type: ignore[arg-type]
    ) as response:
        assert response.status_code == 200
        assert response.headers["x-accel-buffering"] == "no"
        return await collect(response, until="done")


def stream_reading(events: list[Event]) -> tuple[str, list[tuple[str | None, str]]]:
    """What a client makes of a stream: the streamed text, and every other event. A
    reader that falls behind reads adjacent deltas joined under the newest id (and a
    replay reads them as they were written), so two readings agree on the text and on
    every other event, not on delta ids."""
    text = "".join(str(event.data["text"]) for event in events if event.type == "text_delta")
    others = [(event.id, event.type) for event in events if event.type != "text_delta"]
    return text, others


async def ask_questions(live: LiveApp, claude: ScriptedAnthropic, session_id: str) -> ToolUse:
    """Send a message whose turn asks :data:`QUESTIONS`; return once the session waits."""
    call = ToolUse("AskUserQuestion", QUESTIONS)
    claude.enqueue(
        Reply.turn([Text("Two questions first."), call], stop_reason="tool_use"),
        Reply.text("Setting it up with your choices."),
    )
    await send(live.client, session_id, "set up the service")
    await wait_for_status(live.client, session_id, "waiting", timeout=30)
    return call
