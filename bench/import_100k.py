"""Benchmark: import a synthetic v1 home with 100,000 messages, timed per stage.

Run by hand from the repository root (not part of the test suite):

    KUMIAI_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/import_100k.py

Without ``KUMIAI_TEST_DATABASE_URL`` an embedded PostgreSQL is started. The import runs
into a scratch database that is dropped afterwards; the timings go to stdout and to
``bench/results/import_100k.{json,md}``. The goal is under 60 s on 2 cores.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The repository root instead of bench/, whose http.py would shadow the standard library.
sys.path[0] = str(ROOT)

from rich.console import Console  # noqa: E402

from bench import reporting  # noqa: E402
from kumiai.infrastructure.database.engine import Database  # noqa: E402
from kumiai.infrastructure.database.migrations import runner  # noqa: E402
from kumiai.infrastructure.importer import ImportOptions, run_import  # noqa: E402
from tests.support.database import (  # noqa: E402
    create_scratch_database_async,
    drop_database_async,
    postgres_server,
)
from tests.support.v1_homes import (  # noqa: E402
    V1_SCHEMA,
    agent_md,
    insert_rows,
    skill_md,
    stamp,
)

MESSAGES = 100_000
SESSIONS = 1_000
PROJECTS = 40
AGENTS = [f"agent-{number:02d}" for number in range(12)]
SKILLS = [f"skill-{number:02d}" for number in range(6)]
WORDS = ["the", "order", "api", "returns", "a", "clear", "error", "when", "discount", "code"]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def build_home(root: Path) -> dict[str, int]:
    """Write the synthetic home; returns its row counts."""
    rng = random.Random(1)
    for agent in AGENTS:
        folder = root / "agents" / agent
        folder.mkdir(parents=True)
        (folder / "CLAUDE.md").write_text(agent_md(agent.title(), skills=SKILLS[:2]))
    for skill in SKILLS:
        folder = root / "skills" / skill
        folder.mkdir(parents=True)
        (folder / "SKILL.md").write_text(skill_md(skill.title()))
    projects = [_project(number) for number in range(PROJECTS)]
    sessions = [_session(rng, number, projects) for number in range(SESSIONS)]
    messages = [row for session in sessions for row in _messages(rng, session)]
    connection = sqlite3.connect(root / "kumiai.db")
    try:
        connection.executescript(V1_SCHEMA)
        insert_rows(connection, "projects", projects)
        insert_rows(connection, "sessions", sessions)
        insert_rows(connection, "messages", messages)
        connection.commit()
    finally:
        connection.close()
    return {"projects": len(projects), "sessions": len(sessions), "messages": len(messages)}


def _project(number: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "name": f"Project {number}",
        "path": f"/home/kumi/.kumiai/projects/project-{number}",
        "team_member_ids": json.dumps(AGENTS[:3]),
        "created_at": stamp(number),
        "updated_at": stamp(number),
    }


def _session(rng: random.Random, number: int, projects: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "agent_id": rng.choice(AGENTS),
        "project_id": rng.choice(projects)["id"],
        "session_type": "specialist",
        "status": rng.choice(["idle", "done", "interrupted", "working", "error"]),
        "context": json.dumps({"description": f"Task {number}", "kanban_stage": "active"}),
        "created_at": stamp(1000 + number),
        "updated_at": stamp(1000 + number),
    }


def _messages(rng: random.Random, session: dict[str, Any]) -> list[dict[str, Any]]:
    """A conversation of user text, assistant text, tool calls and their results."""
    rows: list[dict[str, Any]] = []
    per_session = MESSAGES // SESSIONS
    while len(rows) < per_session:
        call = f"toolu_{uuid.uuid4().hex[:24]}"
        turn = [
            ("user", _text(rng, 20), None, "{}"),
            ("assistant", _text(rng, 60), None, "{}"),
            ("tool", "", call, json.dumps({"tool_name": "Read", "tool_args": {"file_path": "a"}})),
            ("tool_result", _text(rng, 80), call, "{}"),
            ("assistant", _text(rng, 40), None, "{}"),
        ]
        for role, content, tool_use_id, metadata in turn[: per_session - len(rows)]:
            rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "session_id": session["id"],
                    "role": role,
                    "content": content,
                    "tool_use_id": tool_use_id,
                    "sequence": len(rows),
                    "metadata": metadata,
                    "created_at": stamp(10_000 + len(rows)),
                    "agent_id": None if role == "user" else session["agent_id"],
                }
            )
    return rows


async def _scratch_database(server_url: str) -> str:
    url = await create_scratch_database_async(server_url, "kumiai_bench")
    database = Database(url, pool_size=1, max_overflow=0)
    try:
        async with database.engine.begin() as connection:
            await runner.upgrade_on(connection)
    finally:
        await database.dispose()
    return url


async def _run(server_url: str, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    counts = build_home(work / "v1")
    generated = time.perf_counter() - started
    url = await _scratch_database(server_url)
    try:
        options = ImportOptions(database_url=url, home=work / "v2", source=work / "v1")
        started = time.perf_counter()
        result = await run_import(options, Console(stderr=True))
        elapsed = time.perf_counter() - started
    finally:
        await drop_database_async(url)
    report = result.report
    return {
        "source": counts,
        "generated_s": round(generated, 2),
        "outcome": report.outcome.value if report.outcome else None,
        "validated_messages": report.validation.get("messages"),
        "validation_ok": report.validation.get("ok"),
        "stages_s": {stage: round(seconds, 2) for stage, seconds in report.stages.items()},
        "total_s": round(elapsed, 2),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch, postgres_server() as server:
        result = asyncio.run(_run(server, Path(scratch)))
    stages: dict[str, float] = result["stages_s"]
    print(
        reporting.write(
            "import_100k",
            "Importing a v1 home with 100,000 messages",
            result,
            [
                ["stage", "seconds"],
                *([stage, seconds] for stage, seconds in stages.items()),
                ["total import (goal < 60 s)", result["total_s"]],
            ],
            notes=[
                f"Source: {result['source']}; outcome {result['outcome']}, "
                f"{result['validated_messages']} messages validated (ok={result['validation_ok']})."
            ],
        )
    )


if __name__ == "__main__":
    main()
