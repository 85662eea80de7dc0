"""``kumiai import-v1 --undo IMPORT_ID``: remove exactly what one import added.

The import's ``import_completed`` activity row lists the ids it created and the folders
it wrote. Undo deletes those rows in one transaction (messages go with their sessions),
restores a profile the import merged into, writes an ``import_undone`` row and then
removes the folders. Rows the import only updated keep their new values. A created row
that v2 data now depends on is kept and reported: a project that holds sessions created
after the import, or a character or a task such a session uses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.domain.value_objects.event_type import EventType
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.tables import (
    activity_logs,
    characters,
    projects,
    sessions,
    skills,
    tasks,
    user_profiles,
)
from kumiai.infrastructure.importer.errors import UnknownImportError
from kumiai.infrastructure.importer.folders import remove_folder
from kumiai.infrastructure.importer.writer import IMPORT_LOCK_KEY, uuid_list


@dataclass(slots=True)
class UndoResult:
    import_id: str
    already_undone: bool = False
    deleted: dict[str, int] = field(default_factory=dict)
    kept: dict[str, list[str]] = field(default_factory=dict)
    profile_restored: bool = False
    folders_removed: list[str] = field(default_factory=list)


async def undo_import(database_url: str, import_id: str) -> UndoResult:
    """Undo the import ``import_id``; raises ``UnknownImportError`` if there is none."""
    database = Database(database_url, pool_size=1, max_overflow=0)
    try:
        async with database.engine.connect() as connection, connection.begin():
            result, folders = await _undo_rows(connection, import_id)
    finally:
        await database.dispose()
    # Only after the commit: a rolled-back undo must leave the folders in place.
    for folder in folders:
        remove_folder(Path(folder))
        result.folders_removed.append(folder)
    return result


async def _undo_rows(connection: AsyncConnection, import_id: str) -> tuple[UndoResult, list[str]]:
    await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(IMPORT_LOCK_KEY)))
    data = await _import_record(connection, import_id)
    result = UndoResult(import_id)
    if await _already_undone(connection, import_id):
        result.already_undone = True
        return result, []
    created = {table: [uuid.UUID(value) for value in ids] for table, ids in data["created"].items()}
    await _delete(connection, activity_logs, created.get("activity_logs", []), result)
    await _delete(connection, sessions, created.get("sessions", []), result)
    kept_tasks = await _tasks_in_use(connection, created.get("tasks", []))
    await _delete(connection, tasks, _without(created.get("tasks", []), kept_tasks), result)
    kept_projects = await _projects_in_use(connection, created.get("projects", []))
    await _delete(
        connection, projects, _without(created.get("projects", []), kept_projects), result
    )
    kept_characters = await _characters_in_use(connection, created.get("characters", []))
    await _delete(
        connection, characters, _without(created.get("characters", []), kept_characters), result
    )
    await _delete(connection, skills, created.get("skills", []), result)
    await _undo_profile(connection, created.get("user_profiles", []), data, result)
    await _close_orphaned_pm_links(connection, kept_projects)
    result.kept = {
        "projects": sorted(str(row_id) for row_id in kept_projects),
        "tasks": sorted(str(row_id) for row_id in kept_tasks),
        "characters": sorted(str(row_id) for row_id in kept_characters),
    }
    kept_slugs = await _slugs(connection, kept_characters)
    folders = [
        folder["path"]
        for folder in data.get("folders_created", [])
        if not (folder["kind"] == "character" and folder["slug"] in kept_slugs)
    ]
    await _record_undo(connection, import_id, result, folders)
    return result, folders


async def _import_record(connection: AsyncConnection, import_id: str) -> dict[str, Any]:
    query = sa.select(activity_logs.c.event_data).where(
        activity_logs.c.event_type == EventType.IMPORT_COMPLETED,
        activity_logs.c.event_data["import_id"].astext == import_id,
    )
    data = await connection.scalar(query)
    if data is None:
        raise UnknownImportError(f"no import with id {import_id} in this database")
    record: dict[str, Any] = data
    return record


async def _already_undone(connection: AsyncConnection, import_id: str) -> bool:
    query = sa.select(activity_logs.c.id).where(
        activity_logs.c.event_type == EventType.IMPORT_UNDONE,
        activity_logs.c.event_data["import_id"].astext == import_id,
    )
    return await connection.scalar(query) is not None


async def _delete(
    connection: AsyncConnection, table: sa.Table, ids: list[uuid.UUID], result: UndoResult
) -> None:
    deleted = await connection.execute(table.delete().where(table.c.id == sa.any_(uuid_list(ids))))
    result.deleted[table.name] = deleted.rowcount


async def _projects_in_use(connection: AsyncConnection, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Imported projects that still hold sessions; the imported ones are gone by now."""
    query = sa.select(sessions.c.project_id).where(sessions.c.project_id == sa.any_(uuid_list(ids)))
    return set((await connection.execute(query)).scalars().all())


async def _tasks_in_use(connection: AsyncConnection, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Imported tasks that sessions created after the import are bound to."""
    query = sa.select(sessions.c.task_id).where(sessions.c.task_id == sa.any_(uuid_list(ids)))
    return set((await connection.execute(query)).scalars().all())


async def _characters_in_use(connection: AsyncConnection, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    query = sa.select(sessions.c.character_id).where(
        sessions.c.character_id == sa.any_(uuid_list(ids))
    )
    return set((await connection.execute(query)).scalars().all())


async def _slugs(connection: AsyncConnection, ids: set[uuid.UUID]) -> set[str]:
    query = sa.select(characters.c.slug).where(characters.c.id == sa.any_(uuid_list(ids)))
    return set((await connection.execute(query)).scalars().all())


async def _undo_profile(
    connection: AsyncConnection,
    created: list[uuid.UUID],
    data: dict[str, Any],
    result: UndoResult,
) -> None:
    if created:
        await _delete(connection, user_profiles, created, result)
        return
    before = data.get("profile_settings_before")
    updated = data.get("updated", {}).get("user_profiles", [])
    if before is not None and updated:
        await connection.execute(
            user_profiles.update()
            .where(user_profiles.c.id == uuid.UUID(updated[0]))
            .values(settings=before)
        )
        result.profile_restored = True


async def _close_orphaned_pm_links(connection: AsyncConnection, kept: set[uuid.UUID]) -> None:
    """A kept project whose imported PM session is gone loses its PM too (both or neither)."""
    await connection.execute(
        projects.update()
        .where(
            projects.c.id == sa.any_(uuid_list(kept)),
            projects.c.pm_session_id.is_(None),
        )
        .values(pm_character_id=None)
    )


async def _record_undo(
    connection: AsyncConnection, import_id: str, result: UndoResult, folders: list[str]
) -> None:
    await connection.execute(
        activity_logs.insert().values(
            event_type=EventType.IMPORT_UNDONE,
            event_data={
                "import_id": import_id,
                "deleted": result.deleted,
                "kept": result.kept,
                "profile_restored": result.profile_restored,
                "folders": folders,
            },
        )
    )


def _without(ids: list[uuid.UUID], kept: set[uuid.UUID]) -> list[uuid.UUID]:
    return [row_id for row_id in ids if row_id not in kept]
