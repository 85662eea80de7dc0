"""A home in the 2026-03 schema (tasks, ``sessions.task_id``, ``sessions.cli_backend``)
imports its tasks and the bindings that check out, reports the rest, and undoes cleanly."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from kumiai.domain.value_objects import CliBackend
from kumiai.domain.value_objects.session_type import SessionType
from kumiai.infrastructure.database.tables import characters, sessions, tasks
from kumiai.infrastructure.importer import (
    ImportOptions,
    ImportResult,
    UndoResult,
    run_import,
    undo_import,
)
from kumiai.infrastructure.importer.report import Outcome
from tests.integration.importer.conftest import fetch_all, quiet_console
from tests.support.database import create_scratch_database_async, drop_database_async
from tests.support.v1_home_2026_03 import NAME, build_home, fixed_id, manifest, tables
from tests.support.v1_homes import FIXTURES_DIR, file_digests

FIXTURE = FIXTURES_DIR / NAME
MANIFEST: dict[str, Any] = json.loads(
    (FIXTURES_DIR / f"{NAME}.manifest.json").read_text(encoding="utf-8")
)
V2_SESSION = uuid.uuid4()


@dataclass
class Run:
    source: Path
    digests_before: dict[str, str]
    first: ImportResult
    second: ImportResult
    undone: UndoResult
    tasks_after_undo: set[uuid.UUID]


def _copy(target: Path) -> Path:
    shutil.copytree(FIXTURE, target)
    return target


def _report(result: ImportResult) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(result.report_json.read_text(encoding="utf-8"))
    return report


async def _task_rows(engine: AsyncEngine) -> dict[str, Any]:
    return {str(row.id): row for row in await fetch_all(engine, sa.select(tasks))}


async def _session_rows(engine: AsyncEngine) -> dict[str, Any]:
    return {str(row.id): row for row in await fetch_all(engine, sa.select(sessions))}


@pytest.fixture(scope="module")
async def run(import_database: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Import, then import again (``undone`` undoes it, for the last test)."""
    scratch = tmp_path_factory.mktemp("home-2026-03")
    source = _copy(scratch / "v1-home")
    options = ImportOptions(database_url=import_database, home=scratch / "v2-home", source=source)
    digests_before = file_digests(source)
    first = await run_import(options, quiet_console())
    second = await run_import(options, quiet_console())
    return Run(source, digests_before, first, second, UndoResult(""), set())


@pytest.fixture(scope="module")
async def undone(run: Run, import_database: str, import_engine: AsyncEngine) -> Run:
    """Undo the import after a session made in v2 was bound to an imported task."""
    async with import_engine.begin() as connection:
        await connection.execute(
            sessions.insert().values(
                id=V2_SESSION,
                project_id=uuid.UUID(MANIFEST["tasks"][fixed_id("task:hero")]["project_id"]),
                task_id=uuid.UUID(fixed_id("task:hero")),
                session_type=SessionType.ASSISTANT,
            )
        )
    run.undone = await undo_import(import_database, run.first.report.import_id)
    run.tasks_after_undo = {row.id for row in await fetch_all(import_engine, sa.select(tasks.c.id))}
    return run


def test_the_committed_fixture_is_what_the_builder_writes(tmp_path: Path) -> None:
    rebuilt = build_home(tmp_path / "rebuilt")
    assert file_digests(rebuilt).keys() == file_digests(FIXTURE).keys()
    for relative, digest in file_digests(FIXTURE).items():
        if relative != "kumiai.db":  # SQLite files differ byte for byte between versions
            assert file_digests(rebuilt)[relative] == digest, relative
    with closing(sqlite3.connect(FIXTURE / "kumiai.db")) as connection:
        connection.row_factory = sqlite3.Row
        for table, rows in tables().items():
            stored = [dict(row) for row in connection.execute(f"SELECT * FROM {table}")]
            assert stored == rows, table
    assert json.loads(json.dumps(manifest())) == MANIFEST


def test_the_import_commits_and_validates_tasks_and_bindings(run: Run) -> None:
    report = _report(run.first)
    assert report["outcome"] == Outcome.COMMITTED.value
    assert report["counts"]["tasks"] == {
        "source": 6,
        "planned": 6,
        "added": 0,
        "not_imported": 0,
        "inserted": 6,
        "updated": 0,
        "existing": 0,
    }
    validation = report["validation"]
    assert validation["ok"] is True
    assert validation["tasks"] == 6
    assert validation["messages"] == MANIFEST["counts"]["messages"]


async def test_tasks_keep_their_values_and_soft_deletion(
    run: Run, import_engine: AsyncEngine
) -> None:
    rows = await _task_rows(import_engine)
    assert rows.keys() == MANIFEST["tasks"].keys()
    for task_id, expected in MANIFEST["tasks"].items():
        row = rows[task_id]
        assert str(row.project_id) == expected["project_id"]
        assert (row.name, row.description, row.status.value) == (
            expected["name"],
            expected["description"],
            expected["status"],
        )
        assert (row.deleted_at is not None) is expected["deleted"]
        assert row.created_at.tzinfo is not None


async def test_sessions_are_bound_only_to_live_tasks_of_their_own_project(
    run: Run, import_engine: AsyncEngine
) -> None:
    rows = await _session_rows(import_engine)
    bound = {session_id: row.task_id for session_id, row in rows.items()}
    expected = {
        session_id: (uuid.UUID(value["expected_task_id"]) if value["expected_task_id"] else None)
        for session_id, value in MANIFEST["sessions"].items()
    }
    assert bound == expected
    for session_id, reason in MANIFEST["bindings_dropped"].items():
        assert (
            rows[session_id].context["v1_task_id"] == MANIFEST["sessions"][session_id]["v1_task_id"]
        )
        entries = [
            entry
            for entry in _report(run.first)["entries"]
            if entry["table"] == "sessions" and entry["row_id"] == session_id
        ]
        assert [entry["action"] for entry in entries] == ["repaired"]
        assert reason in entries[0]["reason"]


async def test_sessions_keep_their_cli_backend(run: Run, import_engine: AsyncEngine) -> None:
    rows = await _session_rows(import_engine)
    for session_id, expected in MANIFEST["sessions"].items():
        assert rows[session_id].cli_backend == expected["cli_backend"], session_id
    assert not [e for e in _report(run.first)["entries"] if e["table"] == "sessions.cli_backend"]


async def test_agents_keep_the_cli_backend_of_their_front_matter(
    run: Run, import_engine: AsyncEngine
) -> None:
    backends = {
        row.slug: row.cli_backend for row in await fetch_all(import_engine, sa.select(characters))
    }
    assert backends["frontend-developer"] == CliBackend.CODEX
    assert backends["backend-developer"] == CliBackend.CLAUDE
    assert backends["qa-tester"] == CliBackend.CLAUDE
    (repaired,) = [
        entry
        for entry in _report(run.first)["entries"]
        if entry["table"] == "agents" and entry["row_id"] == "qa-tester"
    ]
    assert repaired["action"] == "repaired"
    assert "'cursor'" in repaired["reason"]
    # Written into agent.md only when it is not claude, as the original does.
    characters_dir = run.source.parent / "v2-home" / "characters"
    assert "cli_backend: codex\n" in (characters_dir / "frontend-developer/agent.md").read_text()
    for claude_agent in ("backend-developer", "qa-tester"):
        assert "cli_backend" not in (characters_dir / claude_agent / "agent.md").read_text()


async def test_the_reported_task_checksum_is_over_the_imported_tasks(
    run: Run, import_engine: AsyncEngine
) -> None:
    rows = await _task_rows(import_engine)
    digest = hashlib.sha256()
    for task_id in sorted(rows, key=uuid.UUID):
        row = rows[task_id]
        values = [row.id, row.project_id, row.name, row.description, row.status.value]
        line = "\x1f".join([*(str(value) for value in values), str(row.deleted_at is not None)])
        digest.update(line.encode("utf-8") + b"\n")
    assert _report(run.first)["validation"]["tasks_sha256"] == digest.hexdigest()


def test_a_second_run_changes_nothing_and_leaves_the_source_alone(run: Run) -> None:
    report = _report(run.second)
    assert report["outcome"] == Outcome.NOTHING_TO_DO.value
    assert report["counts"]["tasks"]["existing"] == 6
    assert file_digests(run.source) == run.digests_before


def test_undo_removes_the_imported_tasks_but_one_a_v2_session_is_bound_to(undone: Run) -> None:
    hero = uuid.UUID(fixed_id("task:hero"))
    assert undone.undone.kept["tasks"] == [str(hero)]
    assert undone.undone.deleted["tasks"] == 5
    assert undone.tasks_after_undo == {hero}


# ---------------------------------------------------------------- hostile task rows


@pytest.fixture
async def fresh_database(postgres_server_url: str, migrated_template: str) -> AsyncIterator[str]:
    url = await create_scratch_database_async(
        postgres_server_url, "kumiai_import_tasks", template=migrated_template
    )
    yield url
    await drop_database_async(url)


def _plant(home: Path, statements: list[tuple[str, tuple[object, ...]]]) -> None:
    """Run ``statements`` on the home's database, past its CHECK constraints, as a hand
    edit could."""
    with closing(sqlite3.connect(home / "kumiai.db")) as connection, connection:
        connection.execute("PRAGMA ignore_check_constraints = ON")
        for sql, parameters in statements:
            connection.execute(sql, parameters)


async def test_hostile_task_rows_are_repaired_or_reported(
    fresh_database: str, tmp_path: Path
) -> None:
    home = _copy(tmp_path / "v1-home")
    project = MANIFEST["tasks"][fixed_id("task:cards")]["project_id"]
    insert = (
        "INSERT INTO tasks (id, project_id, name, status, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, '2026-03-08 10:00:00', 'not a time')"
    )
    planted = {
        "blocked": (fixed_id("hostile:blocked"), project, "Waiting", "blocked"),
        "shouted": (fixed_id("hostile:shouted"), project, "Loud", "IN_PROGRESS"),
        "blank": (fixed_id("hostile:blank"), project, "   ", "open"),
        "long": (fixed_id("hostile:long"), project, "L" * 300, "done"),
        "orphan": (fixed_id("hostile:orphan"), fixed_id("project:gone"), "Lost", "open"),
    }
    _plant(
        home,
        [("ALTER TABLE tasks ADD COLUMN priority INTEGER", ())]
        + [(insert, values) for values in planted.values()]
        + [("UPDATE tasks SET priority = 2 WHERE name = 'Waiting'", ())],
    )
    result = await run_import(
        ImportOptions(database_url=fresh_database, home=tmp_path / "v2-home", source=home),
        quiet_console(),
    )
    report = _report(result)
    assert report["outcome"] == Outcome.COMMITTED.value
    assert report["validation"]["ok"] is True
    assert report["counts"]["tasks"]["source"] == 11
    assert report["counts"]["tasks"]["not_imported"] == 1
    assert report["counts"]["tasks"]["inserted"] == 10

    def reasons(key: str) -> list[str]:
        return [e["reason"] for e in report["entries"] if e["row_id"] == planted[key][0]]

    assert any("unknown status 'blocked'" in reason for reason in reasons("blocked"))
    assert any("name is empty" in reason for reason in reasons("blank"))
    assert any("300 characters" in reason for reason in reasons("long"))
    assert any("does not exist: not imported" in reason for reason in reasons("orphan"))
    assert any("updated_at" in reason for reason in reasons("shouted"))
    assert {
        (m["from"], m["to"], m["count"]) for m in report["mappings"] if m["table"] == "tasks"
    } == {("IN_PROGRESS", "in_progress", 1)}
    (column,) = [e for e in report["entries"] if e["table"] == "tasks.priority"]
    assert column["detail"]["values"] == {"": 10, "2": 1}

    engine = create_async_engine(fresh_database, poolclass=NullPool)
    try:
        rows = await _task_rows(engine)
    finally:
        await engine.dispose()
    assert rows[planted["blocked"][0]].status.value == "open"
    assert rows[planted["shouted"][0]].status.value == "in_progress"
    assert rows[planted["blank"][0]].name == "Untitled task"
    assert rows[planted["long"][0]].name == "L" * 255
    assert planted["orphan"][0] not in rows


async def test_a_task_deleted_in_v2_is_not_bound_again_by_a_later_import(
    fresh_database: str, tmp_path: Path
) -> None:
    """The skipped (existing) task was deleted in v2; a session new to v2 that v1 binds to
    it comes in unbound."""
    options = ImportOptions(
        database_url=fresh_database, home=tmp_path / "v2-home", source=_copy(tmp_path / "v1")
    )
    await run_import(options, quiet_console())
    cards, session = uuid.UUID(fixed_id("task:cards")), uuid.UUID(fixed_id("session:cards"))
    engine = create_async_engine(fresh_database, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(sessions.delete().where(sessions.c.id == session))
            await connection.execute(
                tasks.update().where(tasks.c.id == cards).values(deleted_at=sa.func.now())
            )
        result = await run_import(options, quiet_console())
        rows = await _session_rows(engine)
    finally:
        await engine.dispose()
    report = _report(result)
    assert report["outcome"] == Outcome.COMMITTED.value
    assert rows[str(session)].task_id is None
    assert rows[str(session)].context["v1_task_id"] == str(cards)
    assert any(
        "no longer a live task" in entry["reason"]
        for entry in report["entries"]
        if entry["row_id"] == str(session)
    )
