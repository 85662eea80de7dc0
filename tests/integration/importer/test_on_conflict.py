"""Re-importing a v1 home that changed: ``skip`` leaves existing rows, ``update`` refreshes them."""

from __future__ import annotations

import dataclasses
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from kumiai.domain.value_objects.message_role import MessageRole
from kumiai.infrastructure.database.tables import (
    characters,
    messages,
    projects,
    sessions,
    user_profiles,
)
from kumiai.infrastructure.filesystem.documents import AGENT_FORMAT
from kumiai.infrastructure.importer import (
    ImportOptions,
    ImportResult,
    OnConflict,
    run_import,
    undo_import,
)
from kumiai.infrastructure.importer.report import Outcome
from tests.integration.importer.conftest import fetch_all, quiet_console
from tests.support.v1_homes import copy_fixture_home, file_digests, load_manifest, new_id

MANIFEST = load_manifest()
SESSION = "09155a50-6657-48e0-aa88-68fa593cf519"
SESSION_MESSAGES = MANIFEST["messages_per_session"][SESSION]
CHANGED_MESSAGE = "8754da17-c828-4e0c-9535-bc76e3dc526a"
PROJECT = "bf30555a-b55f-4d1f-b307-65a8bcb1ccbe"
V2_MESSAGE = uuid.uuid4()
V2_PREFS = {"theme": "v2"}
TAKEN_PATH = "/srv/taken-in-v2"
NEW_V1_MESSAGE = new_id()


@dataclass
class Reimport:
    home: Path
    skipped: ImportResult
    updated: ImportResult


async def _keep_using_v2(engine: AsyncEngine) -> None:
    """Changes made in v2 after the first import."""
    async with engine.begin() as connection:
        await connection.execute(
            user_profiles.update().values(
                settings={"onboarding": {"completed": False, "team": None}, "preferences": V2_PREFS}
            )
        )
        await connection.execute(projects.insert().values(name="Mine", path=TAKEN_PATH))
        await connection.execute(
            messages.insert().values(
                id=V2_MESSAGE,
                session_id=uuid.UUID(SESSION),
                role=MessageRole.USER,
                content="written in v2",
                sequence=SESSION_MESSAGES,
            )
        )
        await connection.execute(
            sessions.update()
            .where(sessions.c.id == uuid.UUID(SESSION))
            .values(next_sequence=SESSION_MESSAGES + 1)
        )


def _keep_using_v1(source: Path) -> None:
    """Changes a user could make in v1 after a first import."""
    connection = sqlite3.connect(source / "kumiai.db")
    with connection:
        connection.execute(
            "UPDATE projects SET name = 'Q3 Metrics (renamed in v1)', path = ? WHERE id = ?",
            (TAKEN_PATH, PROJECT),
        )
        connection.execute(
            "UPDATE messages SET content = 'changed in v1' WHERE id = ?", (CHANGED_MESSAGE,)
        )
        # The newer v1 code path saves messages with a literal sequence 0.
        connection.execute(
            "INSERT INTO messages (id, session_id, role, content, sequence, metadata, created_at) "
            "VALUES (?, ?, 'user', 'new in v1', 0, '{}', '2026-01-14 12:30:00.000000')",
            (NEW_V1_MESSAGE, SESSION),
        )
    connection.close()
    agent = source / "agents" / "data-analyst" / "CLAUDE.md"
    text = agent.read_text(encoding="utf-8")
    agent.write_text(
        text.replace("Turns raw exports into numbers people trust", "Now also draws charts"),
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
async def run(
    import_database: str, import_engine: AsyncEngine, tmp_path_factory: pytest.TempPathFactory
) -> Reimport:
    scratch = tmp_path_factory.mktemp("on-conflict")
    source = copy_fixture_home(scratch / "v1")
    options = ImportOptions(database_url=import_database, home=scratch / "v2", source=source)
    first = await run_import(options, quiet_console())
    assert first.report.outcome is Outcome.COMMITTED
    await _keep_using_v2(import_engine)
    _keep_using_v1(source)
    skipped = await run_import(options, quiet_console())
    updated = await run_import(
        dataclasses.replace(options, on_conflict=OnConflict.UPDATE), quiet_console()
    )
    return Reimport(scratch / "v2", skipped, updated)


def test_skip_leaves_existing_rows_alone(run: Reimport) -> None:
    assert run.skipped.report.outcome is Outcome.NOTHING_TO_DO
    counts = run.skipped.report.counts
    assert counts["messages"].existing == MANIFEST["counts"]["messages"] + 1
    assert counts["projects"].existing == 3
    (entry,) = run.skipped.report.entries_for("sessions", SESSION)
    assert "1 of its v1 messages were not imported" in entry.reason


async def test_update_refreshes_rows_from_v1(run: Reimport, import_engine: AsyncEngine) -> None:
    assert run.updated.report.outcome is Outcome.COMMITTED
    assert run.updated.report.validation["ok"] is True
    (project,) = await fetch_all(
        import_engine, sa.select(projects).where(projects.c.id == uuid.UUID(PROJECT))
    )
    assert project.name == "Q3 Metrics (renamed in v1)"
    # A v2 project holds the new path, so the imported one keeps its old path.
    assert project.path == "/home/kumi/code/q3-metrics"
    (entry,) = run.updated.report.entries_for("projects", PROJECT)
    assert "path left unchanged" in entry.reason
    counts = run.updated.report.counts
    assert (counts["messages"].inserted, counts["messages"].updated) == (
        1,
        MANIFEST["counts"]["messages"],
    )
    assert counts["characters"].updated == 8


async def test_update_replays_v1_order_and_keeps_v2_messages_last(
    run: Reimport, import_engine: AsyncEngine
) -> None:
    query = (
        sa.select(messages.c.id, messages.c.content, messages.c.sequence)
        .where(messages.c.session_id == uuid.UUID(SESSION))
        .order_by(messages.c.sequence)
    )
    rows = await fetch_all(import_engine, query)
    assert [row.sequence for row in rows] == list(range(SESSION_MESSAGES + 2))
    # Three rows already shared sequence 0; the new one is the latest of them.
    assert str(rows[3].id) == NEW_V1_MESSAGE
    assert rows[-1].id == V2_MESSAGE
    assert {row.content for row in rows if str(row.id) == CHANGED_MESSAGE} == {"changed in v1"}
    (next_sequence,) = await fetch_all(
        import_engine,
        sa.select(sessions.c.next_sequence).where(sessions.c.id == uuid.UUID(SESSION)),
    )
    assert next_sequence[0] == SESSION_MESSAGES + 2
    assert run.updated.report.entries_for("sessions", SESSION)


async def test_update_rewrites_the_character_and_its_file(
    run: Reimport, import_engine: AsyncEngine
) -> None:
    (row,) = await fetch_all(
        import_engine,
        sa.select(characters.c.description).where(characters.c.slug == "data-analyst"),
    )
    assert row[0] == "Now also draws charts"
    document = AGENT_FORMAT.parse(
        (run.home / "characters" / "data-analyst" / "agent.md").read_text(encoding="utf-8")
    )
    assert document.fields["description"] == "Now also draws charts"
    assert len(run.updated.report.folders["updated"]) == 15


async def test_undo_of_an_update_keeps_updates_and_restores_the_profile(
    run: Reimport, import_database: str, import_engine: AsyncEngine
) -> None:
    (profile,) = await fetch_all(import_engine, sa.select(user_profiles.c.settings))
    assert profile[0]["onboarding"] == {"completed": True, "team": "dev"}
    assert profile[0]["preferences"] == V2_PREFS
    undone = await undo_import(import_database, run.updated.report.import_id)
    assert undone.profile_restored
    assert set(undone.deleted.values()) == {0}
    (profile,) = await fetch_all(import_engine, sa.select(user_profiles.c.settings))
    assert profile[0] == {"onboarding": {"completed": False, "team": None}, "preferences": V2_PREFS}
    (name,) = await fetch_all(
        import_engine, sa.select(projects.c.name).where(projects.c.id == uuid.UUID(PROJECT))
    )
    assert name[0] == "Q3 Metrics (renamed in v1)"


async def test_same_home_for_v1_and_v2_never_rewrites_v1_files(
    run: Reimport, import_database: str, tmp_path: Path
) -> None:
    """v1 and v2 both default to ~/.kumiai, where skills/<id> is the same folder."""
    home = copy_fixture_home(tmp_path / "kumiai")
    before = file_digests(home)
    options = ImportOptions(
        database_url=import_database, home=home, source=home, on_conflict=OnConflict.UPDATE
    )
    result = await run_import(options, quiet_console())
    assert result.ok, result.report.error
    after = file_digests(home)
    assert {path: after[path] for path in before} == before
    same = [e for e in result.report.entries if "is the v1 folder itself" in e.reason]
    assert len(same) == len(MANIFEST["skills"])
    assert (home / "characters" / "qa-tester" / "agent.md").is_file()
