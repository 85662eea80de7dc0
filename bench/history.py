"""Benchmark: does a long session cost more than a short one, to read and to talk to?

Run by hand from the repository root (not part of the test suite):

    KUMIAI_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/history.py

Without ``KUMIAI_TEST_DATABASE_URL`` an embedded PostgreSQL is started. Assistant
sessions get SIZES messages each (user and assistant text, written straight into the
database), then ``kumiai serve`` answers, against the scripted Claude of
``bench/scripted_claude.py``:

- page reads: the latest 50 messages (``order=desc``) and the first 50;
- a turn: send a message and stream the reply to its end (``done``).

Each is timed ROUNDS times per session; the ratios are the long sessions' medians over
the shortest one's. Results go to ``bench/results/history.{json,md}``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
# The repository root instead of bench/, whose http.py would shadow the standard library.
sys.path[0] = str(ROOT)

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import reporting  # noqa: E402
from bench.stream import relaying  # noqa: E402

SIZES = (20, 20_000, 100_000)
# Every size: a turn sends Claude the newest history that fits the token budget, so the
# 100k row shows whether a turn's cost stops growing once a session outgrows the budget.
TURN_SIZES = SIZES
ROUNDS = 10
MARKER = "history-route"
# One warm-up round, then a round per size.
SCRIPT = {MARKER: {"replies": ROUNDS * (len(TURN_SIZES) + 1) + 5, "deltas": 5, "delay": 0.0}}
TURN_TARGET = 1.5


def create_sessions(base_url: str, folder: Path) -> dict[int, str]:
    workspace = folder / "home" / "workspace" / MARKER  # inside the allowed roots
    workspace.mkdir(parents=True)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        created = {}
        for size in SIZES:
            response = client.post(
                "/api/v2/sessions",
                json={"session_type": "assistant", "context": {"project_path": str(workspace)}},
            )
            response.raise_for_status()
            created[size] = response.json()["data"]["id"]
    return created


async def fill(database_url: str, sessions: dict[int, str]) -> None:
    """Write each session's conversation in one statement, and move its sequence on."""
    dsn = make_url(database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        for size, session_id in sessions.items():
            await connection.execute(
                """
                INSERT INTO messages (id, session_id, role, content, sequence)
                SELECT gen_random_uuid(), $1,
                       (CASE WHEN n % 2 = 0 THEN 'user' ELSE 'assistant' END)::message_role,
                       repeat('history ', 20) || n, n
                FROM generate_series(0, $2 - 1) AS n
                """,
                UUID(session_id),
                size,
            )
            await connection.execute(
                "UPDATE sessions SET next_sequence = $2 WHERE id = $1", UUID(session_id), size
            )
        await connection.execute("ANALYZE messages")
    finally:
        await connection.close()


async def timed_reads(client: httpx.AsyncClient, session_id: str) -> dict[str, float]:
    latest, first = [], []
    for _ in range(ROUNDS):
        for samples, order in ((latest, "desc"), (first, "asc")):
            started = time.perf_counter()
            response = await client.get(
                f"/api/v2/sessions/{session_id}/messages", params={"limit": 50, "order": order}
            )
            response.raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
    return {"latest_50_ms": statistics.median(latest), "first_50_ms": statistics.median(first)}


async def timed_turns(client: httpx.AsyncClient, session_id: str) -> float:
    samples = []
    for turn in range(ROUNDS):
        started = time.perf_counter()
        async with client.stream(
            "POST",
            f"/api/v2/sessions/{session_id}/messages",
            json={"content": f"turn {turn}"},
            headers={"accept": "text/event-stream"},
        ) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("event: done"):
                    break
                if line.startswith("event: error"):
                    raise RuntimeError("the turn failed")
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def measure(base_url: str, sessions: dict[int, str]) -> dict[int, dict[str, float]]:
    results: dict[int, dict[str, float]] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        await timed_turns(client, sessions[SIZES[0]])  # warm up
        for size, session_id in sessions.items():
            reads = await timed_reads(client, session_id)
            results[size] = reads
            if size in TURN_SIZES:
                results[size]["turn_ms"] = await timed_turns(client, session_id)
    return results


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with relaying(SCRIPT) as relay:
        sessions = create_sessions(relay.kumiai, relay.folder)
        asyncio.run(fill(relay.database_url, sessions))
        results = asyncio.run(measure(relay.kumiai, sessions))
    small = results[SIZES[0]]
    table: list[list[object]] = [
        ["messages", "latest 50 ms", "ratio", "first 50 ms", "ratio", "turn ms", "ratio", "target"]
    ]
    for size, values in results.items():
        table.append(
            [
                f"{size:,}",
                values["latest_50_ms"],
                reporting.ratio(values["latest_50_ms"], small["latest_50_ms"]),
                values["first_50_ms"],
                reporting.ratio(values["first_50_ms"], small["first_50_ms"]),
                values.get("turn_ms", "-"),
                reporting.ratio(values["turn_ms"], small["turn_ms"])
                if "turn_ms" in values
                else "-",
                f"turn <= {TURN_TARGET}" if size == SIZES[1] else "-",
            ]
        )
    print(
        reporting.write(
            "history",
            "Long sessions: reads and a turn, against a 20-message session",
            {"sizes": SIZES, "rounds": ROUNDS, "results": results, "turn_target": TURN_TARGET},
            table,
            notes=[
                f"Medians of {ROUNDS}. A turn is sent and streamed to `done`, against a scripted "
                "Claude that answers at once; its time includes the scripted server reading "
                "the request, which grows with the history sent (trimmed to the token budget)."
            ],
        )
    )


if __name__ == "__main__":
    main()
