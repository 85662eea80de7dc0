"""Stage 3: write an :class:`ImportPlan` into PostgreSQL, inside the caller's transaction.

Rows go in with Core bulk inserts. A row that already exists (same id; same slug for
characters and skills) is left alone with ``--on-conflict skip`` and overwritten with
``update``. The writer records which ids it inserted and updated, so validation can check
exactly those rows and ``--undo`` can remove exactly what the import added.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.infrastructure.database.tables import (
    activity_logs,
    characters,
    messages,
    projects,
    sessions,
    skills,
    tasks,
    user_profiles,
)
from kumiai.infrastructure.filesystem.home import HomeLayout
from kumiai.infrastructure.importer.conflicts import OnConflict
from kumiai.infrastructure.importer.entries import Action
from kumiai.infrastructure.importer.folders import folder_path
from kumiai.infrastructure.importer.legacy import derived_uuid
from kumiai.infrastructure.importer.plan import DefinitionFolder, ImportPlan, Row
from kumiai.infrastructure.importer.report import ImportReport

# Imports and undos take this transaction-level advisory lock, so two of them never
# interleave their existence checks and inserts.
IMPORT_LOCK_KEY = 0x6B756D69
CHUNK_ROWS = 2000
# Moves kept v2 messages out of the way while an updated session is renumbered; far
# above any real sequence and below the int4 limit.
_SEQUENCE_PARKING = 1 << 30

_UUIDS = pg.ARRAY(pg.UUID(as_uuid=True))


@dataclass(slots=True)
class Written:
    """What the import changed: ids per table, folders, and the profile before it."""

    inserted: dict[str, list[uuid.UUID]] = field(default_factory=lambda: defaultdict(list))
    updated: dict[str, list[uuid.UUID]] = field(default_factory=lambda: defaultdict(list))
    folders_to_create: list[DefinitionFolder] = field(default_factory=list)
    folders_to_update: list[DefinitionFolder] = field(default_factory=list)
    profile_before: dict[str, Any] | None = None

    def ids(self, table: str) -> list[uuid.UUID]:
        return [*self.inserted.get(table, []), *self.updated.get(table, [])]


def uuid_list(values: Iterable[uuid.UUID]) -> sa.BindParameter[Any]:
    """A ``uuid[]`` parameter: ``= ANY(...)`` stays one parameter for any number of ids."""
    return sa.bindparam(None, list(values), type_=_UUIDS, unique=True)


class PlanWriter:
    def __init__(
        self,
        connection: AsyncConnection,
        plan: ImportPlan,
        report: ImportReport,
        *,
        layout: HomeLayout,
        on_conflict: OnConflict,
        now: datetime,
        on_messages: Callable[[int], None] | None = None,
    ) -> None:
        self._db = connection
        self._plan = plan
        self._report = report
        self._layout = layout
        self._update = on_conflict is OnConflict.UPDATE
        self._now = now
        self._on_messages = on_messages or (lambda _count: None)
        self._written = Written()
        self._character_ids: dict[uuid.UUID, uuid.UUID] = {}  # planned id -> id in the DB
        self._skipped_definitions: set[tuple[str, str]] = set()  # (kind, slug)
        self._folders = {(folder.kind, folder.slug): folder for folder in plan.folders}

    async def write(self) -> Written:
        await self._db.execute(sa.select(sa.func.pg_advisory_xact_lock(IMPORT_LOCK_KEY)))
        await self._write_definitions(characters, "characters", "character", self._plan.characters)
        await self._write_definitions(skills, "skills", "skill", self._plan.skills)
        self._point_at_existing_characters()
        await self._write_projects()
        # A task never moves to another project, whatever the v1 row says now.
        await self._write_rows(tasks, "tasks", self._plan.tasks, frozen=("project_id",))
        await self._unbind_tasks_gone_in_v2()
        await self._write_rows(sessions, "sessions", self._plan.sessions)
        self._count_session_files()
        await self._write_messages()
        await self._write_pm_links()
        await self._write_rows(activity_logs, "activity_logs", self._plan.activity_logs)
        await self._write_profile()
        self._plan_folders()
        return self._written

    # ------------------------------------------------------------ characters and skills

    async def _write_definitions(
        self, table: sa.Table, name: str, kind: str, rows: list[Row]
    ) -> None:
        existing = await self._existing_slugs(table, [row["slug"] for row in rows])
        to_insert, to_update = [], []
        for row in rows:
            found = existing.get(row["slug"])
            if found is None:
                to_insert.append(row)
                continue
            if table is characters:
                self._character_ids[row["id"]] = found
            row["id"] = found
            if self._update:
                to_update.append(row)
            else:
                self._skipped_definitions.add((kind, row["slug"]))
                self._report.counts[name].existing += 1
        if table is characters:
            await self._keep_live_names_unique([*to_insert, *to_update])
        await self._insert(table, name, to_insert)
        await self._upsert(table, name, to_update, key="slug")

    async def _existing_slugs(self, table: sa.Table, slugs: list[str]) -> dict[str, uuid.UUID]:
        query = sa.select(table.c.slug, table.c.id).where(table.c.slug.in_(slugs))
        return {slug: row_id for slug, row_id in (await self._db.execute(query)).all()}

    async def _keep_live_names_unique(self, rows: list[Row]) -> None:
        """A live character name already used by a different character gets a suffix."""
        live = [row for row in rows if row["deleted_at"] is None]
        query = sa.select(characters.c.name, characters.c.slug).where(
            characters.c.deleted_at.is_(None),
            characters.c.name.in_([row["name"] for row in live]),
        )
        taken = {name: slug for name, slug in (await self._db.execute(query)).all()}
        for row in live:
            holder = taken.get(row["name"])
            if holder is None or holder == row["slug"]:
                continue
            new_name = _free_name(row["name"], taken)
            self._report.add(
                "characters",
                row["slug"],
                Action.REPAIRED,
                f"name {row['name']!r} is used by character {holder!r}: renamed to {new_name!r}",
            )
            row["name"] = new_name
            self._folders[("character", row["slug"])].document.fields["name"] = new_name
            taken[new_name] = row["slug"]

    def _point_at_existing_characters(self) -> None:
        """Rows refer to characters by planned id; existing characters keep their own."""
        remap = self._character_ids
        for session in self._plan.sessions:
            session["character_id"] = remap.get(session["character_id"], session["character_id"])
        for project in self._plan.projects:
            project["team_character_ids"] = [
                remap.get(member, member) for member in project["team_character_ids"]
            ]
        self._plan.pm_links = {
            project: (remap.get(character, character), session)
            for project, (character, session) in self._plan.pm_links.items()
        }

    # ------------------------------------------------------------ projects

    async def _write_projects(self) -> None:
        rows = self._plan.projects
        query = sa.select(projects.c.id, projects.c.path, projects.c.deleted_at).where(
            projects.c.id == sa.any_(uuid_list(row["id"] for row in rows))
        )
        existing = {row.id: row for row in (await self._db.execute(query)).all()}
        to_insert, to_update = self._split(rows, "projects", set(existing))
        await self._keep_live_paths_unique(to_insert, to_update, existing)
        await self._insert(projects, "projects", to_insert)
        await self._upsert(projects, "projects", to_update, key="id")

    async def _keep_live_paths_unique(
        self, to_insert: list[Row], to_update: list[Row], existing: dict[uuid.UUID, Any]
    ) -> None:
        live = [row for row in [*to_insert, *to_update] if row["deleted_at"] is None]
        query = sa.select(projects.c.path, projects.c.id).where(
            projects.c.deleted_at.is_(None), projects.c.path.in_([row["path"] for row in live])
        )
        holders = {path: row_id for path, row_id in (await self._db.execute(query)).all()}
        for row in live:
            holder = holders.get(row["path"])
            if holder is None or holder == row["id"]:
                continue
            if row["id"] in existing:
                row["path"] = existing[row["id"]].path
                row["deleted_at"] = existing[row["id"]].deleted_at
                reason = "its v1 path is used by live project {holder}: path left unchanged"
            else:
                row["deleted_at"] = self._now
                reason = "its path is used by live project {holder}: imported as soft-deleted"
            self._report.add("projects", row["id"], Action.REPAIRED, reason.format(holder=holder))

    async def _write_pm_links(self) -> None:
        written = set(self._written.ids("projects"))
        links = [
            {"project": project, "character": character, "session": session}
            for project, (character, session) in self._plan.pm_links.items()
            if project in written
        ]
        if not links:
            return
        statement = (
            projects.update()
            .where(projects.c.id == sa.bindparam("project"))
            .values(
                pm_character_id=sa.bindparam("character"), pm_session_id=sa.bindparam("session")
            )
        )
        await self._db.execute(statement, links)

    # ------------------------------------------------------------ sessions and messages

    async def _unbind_tasks_gone_in_v2(self) -> None:
        """A task imported earlier may have been deleted in v2 since: a session is never
        written pointing at a task that is not live."""
        wanted = {row["task_id"] for row in self._plan.sessions if row["task_id"] is not None}
        query = sa.select(tasks.c.id, tasks.c.project_id).where(
            tasks.c.id == sa.any_(uuid_list(wanted)), tasks.c.deleted_at.is_(None)
        )
        live = {task_id: project_id for task_id, project_id in await self._db.execute(query)}
        for row in self._plan.sessions:
            task_id = row["task_id"]
            if task_id is None or live.get(task_id) == row["project_id"]:
                continue
            row["task_id"] = None
            row["context"]["v1_task_id"] = str(task_id)
            self._report.add(
                "sessions",
                row["id"],
                Action.REPAIRED,
                f"task {task_id} is no longer a live task of the session's project in v2: "
                "imported without a task",
                v1_task_id=str(task_id),
            )

    def _count_session_files(self) -> None:
        counts = self._report.counts["session_files"]
        inserted, updated = (
            set(self._written.inserted["sessions"]),
            set(self._written.updated["sessions"]),
        )
        for session in self._plan.sessions:
            files = len(session["context"].get("v1_files", []))
            if session["id"] in inserted:
                counts.inserted += files
            elif session["id"] in updated:
                counts.updated += files
            else:
                counts.existing += files

    async def _write_messages(self) -> None:
        written = set(self._written.ids("sessions"))
        rows = [row for row in self._plan.messages if row["session_id"] in written]
        left_alone = [row for row in self._plan.messages if row["session_id"] not in written]
        await self._report_messages_left_out(left_alone)
        self._report.counts["messages"].existing += len(left_alone)
        self._on_messages(len(left_alone))
        already = await self._existing_messages(rows)
        updated_sessions = set(self._written.updated["sessions"])
        replaced = self._rekey_collisions(rows, already, updated_sessions)
        await self._clear_updated_sessions(rows, replaced, updated_sessions)
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            await self._db.execute(sa.insert(messages), chunk)
            self._on_messages(len(chunk))
        for row in rows:
            target = self._written.updated if row["id"] in replaced else self._written.inserted
            target["messages"].append(row["id"])
        self._report.counts["messages"].inserted += len(rows) - len(replaced)
        self._report.counts["messages"].updated += len(replaced)
        if updated_sessions:
            await self._refresh_next_sequence(list(updated_sessions))

    async def _report_messages_left_out(self, rows: list[Row]) -> None:
        """Sessions skipped because they exist may lack messages v1 has gained since."""
        if not rows:
            return
        present = await self._existing_messages(rows)
        missing = Counter(row["session_id"] for row in rows if row["id"] not in present)
        for session_id, count in missing.items():
            self._report.add(
                "sessions",
                session_id,
                Action.KEPT,
                f"session already exists: {count} of its v1 messages were not imported "
                "(--on-conflict update imports them)",
            )

    async def _existing_messages(self, rows: list[Row]) -> dict[uuid.UUID, uuid.UUID]:
        query = sa.select(messages.c.id, messages.c.session_id).where(
            messages.c.id == sa.any_(uuid_list(row["id"] for row in rows))
        )
        return {row_id: session for row_id, session in (await self._db.execute(query)).all()}

    def _rekey_collisions(
        self, rows: list[Row], already: dict[uuid.UUID, uuid.UUID], updated: set[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Ids that will be replaced in place; ids used by another session get a new id."""
        replaced = set()
        for row in rows:
            owner = already.get(row["id"])
            if owner is None:
                continue
            if owner == row["session_id"] and owner in updated:
                replaced.add(row["id"])
                continue
            new_id = derived_uuid("messages", "collision", row["id"])
            self._report.add(
                "messages",
                row["id"],
                Action.REPAIRED,
                "id already used by a message of another session: imported under a new id",
                new_id=str(new_id),
            )
            row["id"] = new_id
        return replaced

    async def _clear_updated_sessions(
        self, rows: list[Row], replaced: set[uuid.UUID], updated: set[uuid.UUID]
    ) -> None:
        """Make room for the v1 history of updated sessions: delete the rows it replaces
        and renumber the messages added in v2 so they follow it."""
        if not updated:
            return
        await self._db.execute(
            messages.delete().where(messages.c.id == sa.any_(uuid_list(replaced)))
        )
        imported: dict[uuid.UUID, int] = defaultdict(int)
        for row in rows:
            imported[row["session_id"]] += 1
        in_updated = messages.c.session_id == sa.any_(uuid_list(updated))
        # Park first: renumbering in place could collide with UNIQUE (session_id, sequence).
        await self._db.execute(
            messages.update()
            .where(in_updated)
            .values(sequence=messages.c.sequence + _SEQUENCE_PARKING)
        )
        rank = sa.func.row_number().over(
            partition_by=messages.c.session_id, order_by=messages.c.sequence
        )
        result = await self._db.execute(
            sa.select(messages.c.id, messages.c.session_id, rank).where(in_updated)
        )
        kept: dict[uuid.UUID, int] = defaultdict(int)
        renumbered = []
        for row_id, session_id, position in result.all():
            kept[session_id] += 1
            renumbered.append({"row": row_id, "sequence": imported[session_id] + position - 1})
        if renumbered:
            await self._db.execute(
                messages.update()
                .where(messages.c.id == sa.bindparam("row"))
                .values(sequence=sa.bindparam("sequence")),
                renumbered,
            )
        for session_id, count in kept.items():
            self._report.add(
                "sessions",
                session_id,
                Action.KEPT,
                f"{count} messages added in v2 kept after the re-imported v1 history",
            )

    async def _refresh_next_sequence(self, session_ids: Sequence[uuid.UUID]) -> None:
        highest = (
            sa.select(sa.func.coalesce(sa.func.max(messages.c.sequence) + 1, 0))
            .where(messages.c.session_id == sessions.c.id)
            .scalar_subquery()
        )
        await self._db.execute(
            sessions.update()
            .where(sessions.c.id == sa.any_(uuid_list(session_ids)))
            .values(next_sequence=highest)
        )

    # ------------------------------------------------------------ profile

    async def _write_profile(self) -> None:
        planned = self._plan.profile
        if planned is None:
            return
        counts = self._report.counts["user_profiles"]
        current = (
            await self._db.execute(sa.select(user_profiles.c.id, user_profiles.c.settings))
        ).first()
        if current is None:
            await self._db.execute(sa.insert(user_profiles), [planned])
            self._written.inserted["user_profiles"].append(planned["id"])
            counts.inserted += 1
            return
        if not self._update:
            counts.existing += 1
            return
        self._written.profile_before = dict(current.settings)
        await self._db.execute(
            user_profiles.update()
            .where(user_profiles.c.id == current.id)
            .values(settings=merge_settings(current.settings, planned["settings"]))
        )
        self._written.updated["user_profiles"].append(current.id)
        counts.updated += 1

    # ------------------------------------------------------------ folders

    def _plan_folders(self) -> None:
        """Decide which folders to write; they are written only after validation."""
        for folder in self._plan.folders:
            if (folder.kind, folder.slug) in self._skipped_definitions:
                continue
            path = folder_path(self._layout, folder)
            if not path.exists():
                self._written.folders_to_create.append(folder)
            elif self._update and not _same_folder(path, folder.source):
                self._written.folders_to_update.append(folder)
            else:
                why = (
                    "is the v1 folder itself (same home)"
                    if _same_folder(path, folder.source)
                    else "already exists in the v2 home"
                )
                self._report.add("folders", str(path), Action.KEPT, f"folder {why}: left as it is")

    # ------------------------------------------------------------ generic rows

    async def _write_rows(
        self, table: sa.Table, name: str, rows: list[Row], *, frozen: Sequence[str] = ()
    ) -> None:
        query = sa.select(table.c.id).where(table.c.id == sa.any_(uuid_list(r["id"] for r in rows)))
        existing = set((await self._db.execute(query)).scalars().all())
        to_insert, to_update = self._split(rows, name, existing)
        await self._insert(table, name, to_insert)
        await self._upsert(table, name, to_update, key="id", frozen=frozen)

    def _split(
        self, rows: list[Row], name: str, existing: set[uuid.UUID]
    ) -> tuple[list[Row], list[Row]]:
        to_insert = [row for row in rows if row["id"] not in existing]
        present = [row for row in rows if row["id"] in existing]
        if self._update:
            return to_insert, present
        self._report.counts[name].existing += len(present)
        return to_insert, []

    async def _insert(self, table: sa.Table, name: str, rows: list[Row]) -> None:
        for start in range(0, len(rows), CHUNK_ROWS):
            await self._db.execute(sa.insert(table), rows[start : start + CHUNK_ROWS])
        self._written.inserted[name].extend(row["id"] for row in rows)
        self._report.counts[name].inserted += len(rows)

    async def _upsert(
        self, table: sa.Table, name: str, rows: list[Row], *, key: str, frozen: Sequence[str] = ()
    ) -> None:
        """Overwrite existing rows, except ``id``, ``created_at``, ``key`` and ``frozen``."""
        if not rows:
            return
        statement = pg.insert(table)
        kept = {"id", "created_at", key, *frozen}
        statement = statement.on_conflict_do_update(
            index_elements=[table.c[key]],
            set_={column: statement.excluded[column] for column in rows[0] if column not in kept},
        )
        for start in range(0, len(rows), CHUNK_ROWS):
            await self._db.execute(statement, rows[start : start + CHUNK_ROWS])
        self._written.updated[name].extend(row["id"] for row in rows)
        self._report.counts[name].updated += len(rows)


def merge_settings(current: dict[str, Any], imported: dict[str, Any]) -> dict[str, Any]:
    """v1 onboarding state wins; v1 preferences are added to the v2 ones."""
    merged = dict(current)
    merged["onboarding"] = imported["onboarding"]
    merged["preferences"] = {**(current.get("preferences") or {}), **imported["preferences"]}
    return merged


def _same_folder(path: Path, source: Path | None) -> bool:
    return source is not None and source.exists() and path.resolve() == source.resolve()


def _free_name(name: str, taken: dict[str, str]) -> str:
    candidate, number = f"{name} (v1)", 2
    while candidate in taken:
        candidate = f"{name} (v1 {number})"
        number += 1
    return candidate
