"""``--undo`` removes exactly what one import added, and nothing that was there before."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from kumiai.domain.value_objects.event_type import EventType
from kumiai.domain.value_objects.session_type import SessionType
from kumiai.infrastructure.database.tables import (
    activity_logs,
    characters,
    metadata,
    projects,
    sessions,
)
from kumiai.infrastructure.importer import (
    ImportOptions,
    ImportResult,
    UndoResult,
    UnknownImportError,
    run_import,
    undo_import,
)
from tests.integration.importer.conftest import TABLES, fetch_all, quiet_console, table_counts
from tests.support.v1_homes import copy_fixture_home, load_manifest

SPECIAL = load_manifest()["special_rows"]
PRE_EXISTING_CHARACTER = uuid.uuid4()
PRE_EXISTING_PROJECT = uuid.uuid4()
V2_SESSION = uuid.uuid4()


@dataclass
class UndoRun:
    home: Path
    before: dict[str, set[uuid.UUID]]
    imported: ImportResult
    undone: UndoResult
    again: UndoResult
    after: dict[str, set[uuid.UUID]]


async def _ids(engine: AsyncEngine) -> dict[str, set[uuid.UUID]]:
    return {
        table: {row[0] for row in await fetch_all(engine, sa.select(metadata.tables[table].c.id))}
        for table in TABLES
    }


async def _seed_v2_data(engine: AsyncEngine, home: Path) -> None:
    """Rows the user made in v2 before importing: one clashes with a v1 agent's slug."""
    async with engine.begin() as connection:
        await connection.execute(
            characters.insert().values(
                id=PRE_EXISTING_CHARACTER,
                slug="qa-tester",
                name="QA (made in v2)",
                file_path=str(home / "characters" / "qa-tester" / "agent.md"),
            )
        )
        await connection.execute(
            projects.insert().values(id=PRE_EXISTING_PROJECT, name="Mine", path="/srv/mine")
        )


async def _add_v2_session_to_imported_project(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            sessions.insert().values(
                id=V2_SESSION,
                project_id=uuid.UUID(SPECIAL["project_with_pm"]),
                session_type=SessionType.ASSISTANT,
            )
        )


@pytest.fixture(scope="module")
async def run(
    import_database: str, import_engine: AsyncEngine, tmp_path_factory: pytest.TempPathFactory
) -> UndoRun:
    scratch = tmp_path_factory.mktemp("undo")
    home = scratch / "v2-home"
    await _seed_v2_data(import_engine, home)
    before = await _ids(import_engine)
    options = ImportOptions(
        database_url=import_database, home=home, source=copy_fixture_home(scratch / "v1")
    )
    imported = await run_import(options, quiet_console())
    await _add_v2_session_to_imported_project(import_engine)
    undone = await undo_import(import_database, imported.report.import_id)
    again = await undo_import(import_database, imported.report.import_id)
    return UndoRun(home, before, imported, undone, again, await _ids(import_engine))


def test_undo_deletes_the_imported_rows(run: UndoRun) -> None:
    assert run.imported.ok
    assert run.undone.deleted["sessions"] == 15
    assert run.undone.deleted["characters"] == 7  # qa-tester existed before the import
    assert run.undone.deleted["skills"] == 7
    assert run.undone.deleted["user_profiles"] == 1
    assert run.undone.deleted["activity_logs"] == 20


def test_rows_from_before_the_import_are_untouched(run: UndoRun) -> None:
    kept_project = uuid.UUID(SPECIAL["project_with_pm"])
    assert run.after["characters"] == run.before["characters"] == {PRE_EXISTING_CHARACTER}
    assert run.after["projects"] == run.before["projects"] | {kept_project}
    assert run.after["sessions"] == {V2_SESSION}
    assert run.after["messages"] == set()
    assert run.after["skills"] == run.after["user_profiles"] == set()


async def test_a_project_holding_v2_sessions_is_kept_without_its_pm(
    run: UndoRun, import_engine: AsyncEngine
) -> None:
    assert run.undone.kept["projects"] == [SPECIAL["project_with_pm"]]
    (project,) = await fetch_all(
        import_engine,
        sa.select(projects).where(projects.c.id == uuid.UUID(SPECIAL["project_with_pm"])),
    )
    assert (project.pm_character_id, project.pm_session_id) == (None, None)


async def test_undo_is_recorded_and_only_runs_once(
    run: UndoRun, import_engine: AsyncEngine
) -> None:
    rows = await fetch_all(
        import_engine, sa.select(activity_logs.c.event_type, activity_logs.c.event_data)
    )
    assert sorted(row.event_type for row in rows) == [
        EventType.IMPORT_COMPLETED,
        EventType.IMPORT_UNDONE,
    ]
    undone = next(row for row in rows if row.event_type == EventType.IMPORT_UNDONE)
    assert undone.event_data["import_id"] == run.imported.report.import_id
    assert run.again.already_undone
    assert run.again.deleted == {}


def test_undo_removes_the_folders_the_import_created(run: UndoRun) -> None:
    assert len(run.undone.folders_removed) == 14  # 7 characters + 7 skills
    assert list((run.home / "characters").iterdir()) == []
    assert list((run.home / "skills").iterdir()) == []
    assert (run.imported.report_json).exists()  # the audit trail stays


async def test_unknown_import_id_is_an_error(
    run: UndoRun, import_database: str, import_engine: AsyncEngine
) -> None:
    counts = await table_counts(import_engine)
    with pytest.raises(UnknownImportError):
        await undo_import(import_database, str(uuid.uuid4()))
    assert await table_counts(import_engine) == counts
