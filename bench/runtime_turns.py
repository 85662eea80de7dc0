"""Benchmark: the overhead KumiAI adds around Claude, measured against a scripted server.

Run by hand from the repository root (not part of the test suite):

    KUMIAI_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/runtime_turns.py

Without ``KUMIAI_TEST_DATABASE_URL`` an embedded PostgreSQL is started. It serves the
app on a loopback port, creates SESSIONS specialist sessions and sends each TURNS
messages concurrently. Every reply streams one text block in DELTAS deltas plus one
tool call (``Write``), so a turn exercises persistence, the state machine, tool
execution and the event fan-out. SUBSCRIBERS SSE clients follow every session. The
scripted server answers instantly, so the numbers are KumiAI's own cost (plus the
scripted server, which shares the process and its GIL: an upper bound). Results go to
stdout and ``bench/results/runtime_turns.{json,md}``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The repository root instead of bench/, whose http.py would shadow the standard library.
sys.path[0] = str(ROOT)

from bench import reporting  # noqa: E402
from kumiai.core.config import load_settings  # noqa: E402
from kumiai.infrastructure.database.migrations import runner  # noqa: E402
from tests.integration.runtime.helpers import (  # noqa: E402
    create_specialist,
    create_team,
    wait_until_idle,
)
from tests.support.database import (  # noqa: E402
    create_scratch_database,
    drop_database,
    postgres_server,
)
from tests.support.live import LiveApp, live_app  # noqa: E402
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, Text, ToolUse  # noqa: E402
from tests.support.sse import collect, events  # noqa: E402

SESSIONS = 10
TURNS = 10
DELTAS = 50
SUBSCRIBERS = 2


def _script(claude: ScriptedAnthropic) -> None:
    for _ in range(SESSIONS * TURNS):
        claude.enqueue(
            Reply.turn(
                [
                    Text("word " * DELTAS, chunks=DELTAS),
                    ToolUse("Write", {"file_path": "n.txt", "content": "x"}),
                ],
                stop_reason="tool_use",
            ),
            Reply.text("done", chunks=2),
        )


async def _follow(live: LiveApp, session_id: str, turns: int) -> int:
    seen, done = 0, 0
    async with live.client.stream(
        "GET", f"/api/v2/sessions/{session_id}/events", params={"after": 0}, timeout=None
    ) as response:
        async for event in events(response):
            seen += 1
            done += event.type == "done"
            if done == turns:
                break
    return seen


async def _converse(live: LiveApp, session_id: str) -> list[float]:
    latencies = []
    for turn in range(TURNS):
        started = time.perf_counter()
        async with live.client.stream(
            "POST",
            f"/api/v2/sessions/{session_id}/messages",
            json={"content": f"turn {turn}"},
            headers={"accept": "text/event-stream"},
        ) as response:
            await collect(response, until="done")
        latencies.append(time.perf_counter() - started)
    return latencies


async def _measure(live: LiveApp) -> dict[str, float]:
    team = await create_team(live, "Dana")
    sessions = [await create_specialist(live, team, "Dana") for _ in range(SESSIONS)]
    followers = [
        asyncio.create_task(_follow(live, session_id, TURNS))
        for session_id in sessions
        for _ in range(SUBSCRIBERS)
    ]
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    latencies = [
        latency
        for per_session in await asyncio.gather(*(_converse(live, s) for s in sessions))
        for latency in per_session
    ]
    elapsed = time.perf_counter() - started
    events = sum(await asyncio.gather(*followers))
    for session_id in sessions:
        await wait_until_idle(live, session_id)
    latencies.sort()
    return {
        "turns": len(latencies),
        "elapsed_s": elapsed,
        "turns_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "events_delivered": events,
        "events_per_s": events / elapsed,
    }


async def _run(database_url: str, claude: ScriptedAnthropic, home: Path) -> dict[str, float]:
    settings = load_settings(
        home=home,
        database_url=database_url,
        ANTHROPIC_API_KEY="bench",
        ANTHROPIC_BASE_URL=claude.base_url,
        log_level="warning",
        _env_file=None,
    )
    async with live_app(settings) as live:
        return await _measure(live)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch, postgres_server() as server:
        url = create_scratch_database(server, prefix="kumiai_bench")
        try:
            runner.upgrade(url)
            with ScriptedAnthropic() as claude:
                _script(claude)
                result = asyncio.run(_run(url, claude, Path(scratch) / "home"))
        finally:
            drop_database(url)
    load = (
        f"{SESSIONS} sessions x {TURNS} turns, each turn = {DELTAS} text deltas + 1 Write tool "
        f"call + a final text; {SUBSCRIBERS} extra SSE followers per session"
    )
    print(
        reporting.write(
            "runtime_turns",
            "Runtime turns against scripted Claude",
            {"load": load, **result},
            [["measure", "value"], *([key, value] for key, value in result.items())],
            notes=[
                f"Load: {load}. App, clients and scripted Claude share one process.",
                "Text deltas a follower has not read yet reach it joined into one event, so "
                "events_delivered counts deliveries, not deltas. The first turns wait for the "
                "runtime's SDK import (about a second), which shows in p95.",
            ],
        )
    )


if __name__ == "__main__":
    main()
