"""Projects: folders on disk with a team of characters and an optional PM."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from uuid import UUID, uuid4

from kumiai.application.dtos.files import FileContent, FileEntryView
from kumiai.application.dtos.projects import (
    ProjectCreate,
    ProjectEdit,
    ProjectUpdate,
    ProjectView,
)
from kumiai.application.ports.files import ProjectFiles
from kumiai.application.ports.run_control import QueueWaker, RunControl
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import found, record_activity, require_project, utcnow
from kumiai.application.services.session_lifecycle import (
    open_session,
    resume_session,
    retire_session,
    stop_if_live,
)
from kumiai.application.services.sessions import (
    clear_pm,
    make_pm,
    page_of,
    resolve_character,
    resolve_characters,
)
from kumiai.application.services.tasks import retire_task
from kumiai.core.exceptions import ConflictError, ValidationError
from kumiai.domain.entities import Character, Project, Session
from kumiai.domain.repositories import Page, PageRequest
from kumiai.domain.value_objects import EventType, SessionStatus, SessionType, slugify

# Used when a name has no ASCII letters or digits to build a folder name from.
_FALLBACK_FOLDER = "project"


class ProjectService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        files: ProjectFiles,
        projects_dir: Path,
        runs: RunControl,
        queues: QueueWaker,
    ) -> None:
        self._uow = uow
        self._files = files
        self._projects_dir = projects_dir
        self._runs = runs
        self._queues = queues

    async def create(self, data: ProjectCreate) -> ProjectView:
        """Create the folder (with ``PROJECT.md``) and the project, and assign its PM."""
        async with self._uow() as uow:
            team = await resolve_characters(uow, data.team_character_ids, "team_character_ids")
            pm = await _optional_pm(uow, data.pm_character_id)
            project = Project.create(
                name=data.name,
                path=self._choose_path(data),
                description=data.description,
                team_character_ids=[character.id for character in team],
            )
            if await uow.projects.path_in_use(project.path):
                raise ConflictError(
                    f"another project uses {project.path}", details={"path": project.path}
                )
            self._files.create_project_dir(project.path)
            self._files.write_project_md(project.path, project.name, project.description or "")
            await uow.projects.add(project)
            await record_activity(
                uow,
                EventType.PROJECT_CREATED,
                project_id=project.id,
                name=project.name,
                path=project.path,
            )
            if pm is not None:
                await _assign_pm(uow, project, pm)
            await uow.commit()
            return ProjectView.of(project)

    async def get(self, project_id: UUID) -> ProjectView:
        async with self._uow(read_only=True) as uow:
            return ProjectView.of(await require_project(uow, project_id))

    async def list_projects(
        self, page: PageRequest, *, archived: bool | None = None
    ) -> Page[ProjectView]:
        """Live projects, oldest first; ``archived`` keeps only (un)archived ones."""
        async with self._uow(read_only=True) as uow:
            projects = await uow.projects.list_page(page, archived=archived)
            return page_of(projects, ProjectView.of)

    async def list_all(self, *, include_archived: bool = False) -> list[ProjectView]:
        """Every live project, oldest first; archived ones only when asked."""
        async with self._uow(read_only=True) as uow:
            projects = await uow.projects.list_all(include_archived=include_archived)
            return [ProjectView.of(project) for project in projects]

    async def update(self, project_id: UUID, changes: ProjectUpdate) -> ProjectView:
        """Change only the fields present; ``description: null`` clears it."""
        async with self._uow() as uow:
            project = await require_project(uow, project_id, for_update=True)
            await _apply_update(uow, project, changes)
            await uow.commit()
            return ProjectView.of(project)

    async def edit(self, project_id: UUID, changes: ProjectEdit) -> ProjectView:
        """Like ``update``, and make ``pm_character_id`` the PM if it is not already.

        One transaction, so a refused PM leaves the other fields unchanged too.
        """
        async with self._uow() as uow:
            project = await require_project(uow, project_id, for_update=True)
            if changes.path is not None and _normalise_path(changes.path) != project.path:
                raise ValidationError(
                    "a project's folder cannot be changed",
                    details={"field": "path", "value": changes.path},
                )
            await _apply_update(uow, project, changes)
            if changes.pm_character_id is not None:
                pm = await resolve_character(uow, changes.pm_character_id, "pm_character_id")
                if pm.id != project.pm_character_id:
                    await _assign_pm(uow, project, pm)
            await uow.commit()
            return ProjectView.of(project)

    async def archive(self, project_id: UUID) -> ProjectView:
        """Hide the project from the default list; its running turns are stopped first."""
        await self._stop_runs(project_id)
        return await self._mark(
            project_id, EventType.PROJECT_ARCHIVED, lambda project: project.archive(utcnow())
        )

    async def unarchive(self, project_id: UUID) -> ProjectView:
        """Unarchive, then let its sessions' waiting messages run (paused queues stay paused)."""
        view = await self._mark(project_id, EventType.PROJECT_UNARCHIVED, Project.unarchive)
        for session_id in await self._session_ids(project_id):
            self._queues.wake(session_id)
        return view

    async def delete(self, project_id: UUID) -> None:
        """Soft-delete the project, its tasks and its sessions (stopping the live ones)."""
        await self._stop_runs(project_id, drop_queues=True)
        async with self._uow() as uow:
            project = await require_project(uow, project_id, for_update=True)
            now = utcnow()
            project.soft_delete(now)
            # Tasks first: a task deletion locks the task before its sessions.
            for task in await uow.tasks.list_for_project(project.id, for_update=True):
                await retire_task(uow, task, now)
            for session in await uow.sessions.list_for_project(project.id):
                await retire_session(uow, session, now)
            await record_activity(uow, EventType.PROJECT_DELETED, project_id=project.id)
            await uow.commit()

    async def delete_permanently(self, project_id: UUID) -> None:
        """Stop its sessions' runs, then remove the row (sessions and messages cascade);
        the folder stays on disk."""
        for session_id in await self._session_ids(project_id, include_deleted=True):
            await self._runs.stop_session(session_id)
        async with self._uow() as uow:
            project = found(
                await uow.projects.get(project_id, include_deleted=True), "project", project_id
            )
            await uow.projects.delete(project)
            # The row is gone, so the entry keeps the id in its data instead of the FK.
            await record_activity(
                uow,
                EventType.PROJECT_DELETED,
                deleted_project_id=project_id,
                name=project.name,
                path=project.path,
                permanent=True,
            )
            await uow.commit()

    async def assign_pm(self, project_id: UUID, character_ref: str) -> ProjectView:
        """Make the character the PM, reusing its PM session of this project if it has one."""
        async with self._uow() as uow:
            project = await require_project(uow, project_id, for_update=True)
            character = await resolve_character(uow, character_ref, "character_id")
            await _assign_pm(uow, project, character)
            await uow.commit()
            return ProjectView.of(project)

    async def remove_pm(self, project_id: UUID) -> None:
        """Clear the PM and cancel its session, unless that session has already ended."""
        pm_session_id = (await self.get(project_id)).pm_session_id
        if pm_session_id is not None:
            await self._runs.cancel(pm_session_id)
        async with self._uow() as uow:
            project = await require_project(uow, project_id, for_update=True)
            if project.pm_session_id is None:
                raise ConflictError(
                    "the project has no PM", details={"project_id": str(project_id)}
                )
            session = await uow.sessions.get_for_update(project.pm_session_id)
            if session is not None:
                await stop_if_live(uow, session)
            await clear_pm(uow, project)
            await uow.commit()
        if session is not None and session.status is not SessionStatus.CANCELLED:
            # It had ended otherwise: its queue is not held (a held queue is a cancelled
            # session's), so what waits goes on as it would have.
            self._queues.wake(session.id)

    async def list_files(self, project_id: UUID) -> list[FileEntryView]:
        """The project folder, flat and recursive, directories included."""
        path = await self._path_of(project_id)
        return [FileEntryView.of(entry) for entry in self._files.list_files(path)]

    async def read_file(self, project_id: UUID, rel: str) -> FileContent:
        """A file inside the project folder; a path leading outside it is refused (400)."""
        return FileContent.of(rel, await self.read_bytes(project_id, rel))

    async def read_bytes(self, project_id: UUID, rel: str) -> bytes:
        """A file's raw bytes, for downloads; the same paths as ``read_file``."""
        path = await self._path_of(project_id)
        return self._files.read_file(path, rel)

    async def write_file(self, project_id: UUID, rel: str, data: bytes) -> None:
        """Create or replace a file in the project folder, with any missing folders."""
        path = await self._path_of(project_id)
        self._files.write_file(path, rel, data)
        await self._record_file_change(project_id, rel, change="written")

    async def delete_file(self, project_id: UUID, rel: str) -> None:
        """Delete a file or folder inside the project folder."""
        path = await self._path_of(project_id)
        self._files.delete_file(path, rel)
        await self._record_file_change(project_id, rel, change="deleted")

    async def _record_file_change(self, project_id: UUID, rel: str, *, change: str) -> None:
        async with self._uow() as uow:
            await record_activity(
                uow, EventType.PROJECT_UPDATED, project_id=project_id, file=rel, change=change
            )
            await uow.commit()

    async def _mark(
        self, project_id: UUID, event: EventType, change: Callable[[Project], None]
    ) -> ProjectView:
        async with self._uow() as uow:
            project = await require_project(uow, project_id, for_update=True)
            change(project)
            await record_activity(uow, event, project_id=project.id)
            await uow.commit()
            return ProjectView.of(project)

    async def _stop_runs(self, project_id: UUID, *, drop_queues: bool = False) -> None:
        """Stop running turns before any session row is locked (they settle themselves)."""
        for session_id in await self._session_ids(project_id):
            await self._runs.cancel(session_id, drop_queue=drop_queues)
            await self._runs.release(session_id)

    async def _session_ids(self, project_id: UUID, *, include_deleted: bool = False) -> list[UUID]:
        """The ids of the project's live sessions; 404 if there is no such project."""
        async with self._uow() as uow:
            found(
                await uow.projects.get(project_id, include_deleted=include_deleted),
                "project",
                project_id,
            )
            return [session.id for session in await uow.sessions.list_for_project(project_id)]

    async def _path_of(self, project_id: UUID) -> str:
        async with self._uow(read_only=True) as uow:
            return (await require_project(uow, project_id)).path

    def _choose_path(self, data: ProjectCreate) -> str:
        if data.path is None:
            folder = f"{_folder_name(data.name)}-{uuid4().hex[:8]}"
            return str(self._projects_dir / folder)
        return _normalise_path(data.path)


async def _apply_update(uow: UnitOfWork, project: Project, changes: ProjectUpdate) -> None:
    given = changes.model_fields_set
    if changes.team_character_ids is not None:
        team = await resolve_characters(uow, changes.team_character_ids, "team_character_ids")
        project.set_team(character.id for character in team)
    if "name" in given:
        project.update(name=_required_name(changes.name))
    if "description" in given:
        project.update(description=changes.description)
    await record_activity(
        uow, EventType.PROJECT_UPDATED, project_id=project.id, fields=sorted(given)
    )


async def _optional_pm(uow: UnitOfWork, ref: str | None) -> Character | None:
    return None if ref is None else await resolve_character(uow, ref, "pm_character_id")


async def _assign_pm(uow: UnitOfWork, project: Project, character: Character) -> None:
    """Reuse the character's live PM session of this project (resumed if it ended), or
    open a new one, and make it the project's PM session."""
    session = await uow.sessions.latest_pm_session(project.id, character.id)
    if session is None:
        session = Session.create(
            SessionType.PM,
            character_id=character.id,
            project_id=project.id,
            cli_backend=character.cli_backend,
        )
        await open_session(uow, session)
    elif session.status.is_terminal:
        await resume_session(uow, session)
    await make_pm(uow, project, session)


def _normalise_path(raw: str) -> str:
    """An absolute, normalised folder path (``~`` expanded); 422 for anything else."""
    expanded = os.path.expanduser(raw.strip())
    # A relative path would depend on the server's working directory.
    if "\x00" in expanded or not os.path.isabs(expanded):
        raise ValidationError(
            f"project path must be absolute: {raw!r}", details={"field": "path", "value": raw}
        )
    return os.path.normpath(expanded)


def _folder_name(name: str) -> str:
    try:
        return slugify(name)
    except ValidationError:
        return _FALLBACK_FOLDER


def _required_name(name: str | None) -> str:
    if name is None:
        raise ValidationError("name must not be empty", details={"field": "name"})
    return name
