"""Sessions: creating agent instances and moving them through their state machine.

Every status change goes through :mod:`.session_lifecycle`. The module-level helpers
here take the caller's unit of work, so the project service runs them inside its own
transaction (assigning a PM, deleting a project).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TypeVar
from uuid import UUID

from kumiai.application.dtos.sessions import AgentRef, SessionCreate, SessionUpdate, SessionView
from kumiai.application.ports.run_control import QueueWaker, RunControl
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import (
    found,
    project_of,
    record_activity,
    record_session_activity,
    require_session,
    utcnow,
)
from kumiai.application.services.session_lifecycle import (
    cancel_session,
    complete_session,
    open_session,
    reset_session,
    resume_session,
    retire_session,
    stop_if_live,
)
from kumiai.application.services.working_directories import WorkingDirectories
from kumiai.core.exceptions import ConflictError, InvalidTransitionError, ValidationError
from kumiai.domain.entities import Character, Project, Session, Task
from kumiai.domain.repositories import Page, PageRequest, SessionFilter
from kumiai.domain.value_objects import CliBackend, EventType, SessionType

T = TypeVar("T")
V = TypeVar("V")


class SessionService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        runs: RunControl,
        queues: QueueWaker,
        directories: WorkingDirectories,
    ) -> None:
        self._uow = uow
        self._runs = runs
        self._queues = queues
        self._directories = directories

    async def create(self, data: SessionCreate) -> SessionView:
        """A new session, ready (``idle``); a PM session also becomes its project's PM."""
        async with self._uow() as uow:
            character = await _optional_character(uow, data.character_id)
            project = await _optional_project(uow, data.project_id)
            task = await bindable_task(uow, data.task_id, project)
            self._check_context(data.context, project)
            session = Session.create(
                data.session_type,
                character_id=None if character is None else character.id,
                project_id=None if project is None else project.id,
                context=data.context,
                task_id=None if task is None else task.id,
                cli_backend=CliBackend.CLAUDE if character is None else character.cli_backend,
            )
            if project is not None:
                _check_fits_project(session, project)
            await open_session(uow, session)
            if project is not None and session.session_type is SessionType.PM:
                await make_pm(uow, project, session)
            await uow.commit()
            # Created in this transaction: no input can wait for it yet.
            return await self._view(uow, session, {})

    def _check_context(self, context: dict[str, object], project: Project | None) -> None:
        """A folder the client names for the agent must be one the server allows."""
        given = context.get("project_path")
        if given is not None and given != "":
            self._directories.check_client_path(given, project)

    async def get(self, session_id: UUID) -> SessionView:
        """The session, with why its waiting messages wait (if any do)."""
        async with self._uow(read_only=True) as uow:
            # One round trip: the row comes with what its waiting reason is read from.
            session, waiting = await _require_with_waiting(uow, session_id)
            return await self._view(uow, session, waiting)

    async def list_sessions(self, page: PageRequest, filters: SessionFilter) -> Page[SessionView]:
        """Live sessions, oldest first, each with why its waiting messages wait."""
        async with self._uow(read_only=True) as uow:
            found = await uow.sessions.list_page(page, filters)
            return Page(
                items=await self._views(uow, found.items),
                next_cursor=found.next_cursor,
                total=found.total,
                limit=found.limit,
            )

    async def list_all(self, project_id: UUID | None = None) -> list[SessionView]:
        """Every live session (or the project's), oldest first, unpaged, each with why
        its waiting messages wait."""
        async with self._uow(read_only=True) as uow:
            return await self._views(uow, await uow.sessions.list_all(project_id=project_id))

    async def _view(
        self, uow: UnitOfWork, session: Session, waiting: Mapping[UUID, bool] | None = None
    ) -> SessionView:
        (view,) = await self._views(uow, [session], waiting)
        return view

    async def _views(
        self,
        uow: UnitOfWork,
        sessions: Sequence[Session],
        waiting: Mapping[UUID, bool] | None = None,
    ) -> list[SessionView]:
        """The sessions' views with their waiting reasons, read in one query for all (or
        none, given ``waiting`` read with the rows): every session view this service
        answers with is built here, so each says why its messages wait as
        ``GET /sessions/{id}`` and the queue view do."""
        why = await self._queues.why_waiting(uow, sessions, waiting)
        views = [SessionView.of(session) for session in sessions]
        for view in views:
            view.waiting = why.get(view.id)
        return views

    async def agents(self, character_ids: Iterable[UUID | None]) -> dict[UUID, AgentRef]:
        """The agents behind these character ids (deleted ones included), by id."""
        async with self._uow(read_only=True) as uow:
            return await agents_by_character(uow, character_ids)

    async def agent_of(self, session_id: UUID) -> AgentRef | None:
        """The agent a session (live or deleted) acts as, or None for a bare assistant."""
        async with self._uow(read_only=True) as uow:
            return (await agents_of_sessions(uow, [session_id])).get(session_id)

    async def update(self, session_id: UUID, changes: SessionUpdate) -> SessionView:
        async with self._uow() as uow:
            session, waiting = await _require_with_waiting(uow, session_id, for_update=True)
            if "context" in changes.model_fields_set:
                self._check_context(changes.context or {}, await project_of(uow, session))
                session.context = dict(changes.context or {})
            if changes.kanban_stage is not None:
                session.set_kanban_stage(changes.kanban_stage)
            await record_session_activity(
                uow,
                EventType.SESSION_UPDATED,
                session,
                fields=sorted(changes.model_fields_set),
            )
            await uow.commit()
            return await self._view(uow, session, waiting)

    async def cancel(self, session_id: UUID, *, drop_queue: bool = False) -> SessionView:
        """Stop the session; 409 (``InvalidTransitionError``) once it has ended.

        A running turn is stopped first and settles as ``cancelled`` by itself. A cancel
        refused because the session had ended touches nothing: not its queue (even with
        ``drop_queue``), not what runs next.
        """
        async with self._uow(read_only=True) as uow:
            (await require_session(uow, session_id)).check_cancel()
        if await self._runs.cancel(session_id, drop_queue=drop_queue):
            return await self.get(session_id)
        try:
            return await self._move(session_id, cancel_session)
        except InvalidTransitionError:
            # It ended since the check: a refused cancel holds nothing back (a held queue
            # is a cancelled session's), so what waits goes on as it would have.
            self._queues.wake(session_id)
            raise

    async def resume(self, session_id: UUID) -> SessionView:
        """Reopen an ended session; 409 (``InvalidTransitionError``) while it is live."""
        view = await self._move(session_id, resume_session)
        self._queues.wake(session_id)
        return view

    async def complete(self, session_id: UUID) -> SessionView:
        """Mark an idle session's work as done; 409 while a turn runs or once it ended."""
        return await self._move(session_id, complete_session)

    async def _move(
        self, session_id: UUID, move: Callable[[UnitOfWork, Session], Awaitable[None]]
    ) -> SessionView:
        """Apply one lifecycle move to the row-locked session and commit it."""
        async with self._uow() as uow:
            session, waiting = await _require_with_waiting(uow, session_id, for_update=True)
            await move(uow, session)
            await uow.commit()
            return await self._view(uow, session, waiting)

    async def reset(self, session_id: UUID) -> SessionView:
        """Start the session over in place: same id, no messages, ``idle``.

        The running turn and the queue go first, so nothing writes into the emptied
        conversation afterwards. Open event streams stay connected.
        """
        await self._runs.cancel(session_id, drop_queue=True)
        async with self._uow() as uow:
            session, waiting = await _require_with_waiting(uow, session_id, for_update=True)
            await reset_session(uow, session, await uow.messages.delete_all(session.id))
            await uow.commit()
            return await self._view(uow, session, waiting)

    async def delete(self, session_id: UUID) -> None:
        """Soft-delete: stop the session, hide it, and drop it as its project's PM."""
        await self._runs.stop_session(session_id)
        async with self._uow() as uow:
            # Lock the project before the session, in the order PM assignment locks them.
            project = await _project_run_by(uow, await require_session(uow, session_id))
            session = await require_session(uow, session_id, for_update=True)
            await retire_session(uow, session, utcnow())
            if project is not None:
                await clear_pm(uow, project)
            await uow.commit()


# --- helpers shared with the project and message services -----------------------------------


async def make_pm(uow: UnitOfWork, project: Project, session: Session) -> None:
    """Make ``session`` the project's PM session and stop the PM session it replaces."""
    assert session.character_id is not None, "Session.create refuses a PM without a character"
    replaced_id = project.assign_pm(session.character_id, session.id)
    if replaced_id is not None:
        replaced = await uow.sessions.get_for_update(replaced_id)
        if replaced is not None:
            await stop_if_live(uow, replaced)
    await record_activity(
        uow,
        EventType.PM_ASSIGNED,
        session_id=session.id,
        project_id=project.id,
        character_id=session.character_id,
    )


async def clear_pm(uow: UnitOfWork, project: Project) -> None:
    """Clear both PM fields; stopping the PM session is up to the caller."""
    session_id = project.remove_pm()
    await record_activity(uow, EventType.PM_REMOVED, session_id=session_id, project_id=project.id)


async def resolve_characters(uow: UnitOfWork, refs: Sequence[str], field: str) -> list[Character]:
    """Live characters named by UUID or slug, in the given order without repeats.

    A reference that parses as a UUID but matches no id is still tried as a slug (a slug
    may look like a UUID). Unknown references are one 422 that lists them all.
    """
    wanted = list(dict.fromkeys(refs))
    ids = {ref: parsed for ref in wanted if (parsed := _as_uuid(ref)) is not None}
    by_id = {
        character.id: character
        for character in await uow.characters.get_many(list(ids.values()))
        if not character.is_deleted
    }
    found = {ref: by_id[ids[ref]] for ref in ids if ids[ref] in by_id}
    slugs = [ref for ref in wanted if ref not in found]
    found |= {
        character.slug: character for character in await uow.characters.get_many_by_slug(slugs)
    }
    unknown = [ref for ref in wanted if ref not in found]
    if unknown:
        raise ValidationError(
            f"unknown characters: {', '.join(unknown)}",
            details={"field": field, "unknown": unknown},
        )
    return list({found[ref].id: found[ref] for ref in wanted}.values())


async def resolve_character(uow: UnitOfWork, ref: str, field: str) -> Character:
    (character,) = await resolve_characters(uow, [ref], field)
    return character


async def agents_by_character(
    uow: UnitOfWork, character_ids: Iterable[UUID | None]
) -> dict[UUID, AgentRef]:
    wanted = list({character_id for character_id in character_ids if character_id is not None})
    return {
        character.id: AgentRef(slug=character.slug, name=character.name)
        for character in await uow.characters.get_many(wanted)
    }


async def agents_of_sessions(uow: UnitOfWork, session_ids: Iterable[UUID]) -> dict[UUID, AgentRef]:
    """The agent of each session that has one; deleted sessions count, since their
    messages stay attributed to them."""
    sessions = [
        session
        for session_id in set(session_ids)
        if (session := await uow.sessions.get(session_id, include_deleted=True)) is not None
    ]
    agents = await agents_by_character(uow, (session.character_id for session in sessions))
    found = {
        session.id: agents.get(session.character_id) for session in sessions if session.character_id
    }
    return {session_id: agent for session_id, agent in found.items() if agent is not None}


def page_of(page: Page[T], view: Callable[[T], V]) -> Page[V]:
    """The page with each item turned into its view (done inside the unit of work, while
    the entities are still attached)."""
    return Page(
        items=[view(item) for item in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
        limit=page.limit,
    )


async def bindable_task(
    uow: UnitOfWork, task_id: UUID | None, project: Project | None
) -> Task | None:
    """The live task a new session (of ``project``) is bound to, or None without one;
    a 422 naming ``task_id`` when it is unknown, deleted or another project's. Every path
    that creates a bound session checks it here (``spawn_instance`` too).

    Share-locked, so the task cannot be deleted (which unbinds its sessions) before this
    session is committed with it.
    """
    if task_id is None:
        return None
    if project is None:
        raise ValidationError(
            "a session bound to a task needs the task's project: give project_id",
            details={"field": "task_id", "task_id": str(task_id)},
        )
    task = await uow.tasks.get_for_share(task_id)
    if task is None:
        raise ValidationError(
            f"unknown task: {task_id} (it does not exist or was deleted)",
            details={"field": "task_id", "unknown": [str(task_id)]},
        )
    if task.project_id != project.id:
        raise ValidationError(
            f"task {task_id} belongs to another project than {project.id}",
            details={"field": "task_id", "task_id": str(task_id), "project_id": str(project.id)},
        )
    return task


# --- private -----------------------------------------------------------------------------------


async def _optional_character(uow: UnitOfWork, ref: str | None) -> Character | None:
    return None if ref is None else await resolve_character(uow, ref, "character_id")


async def _optional_project(uow: UnitOfWork, project_id: UUID | None) -> Project | None:
    if project_id is None:
        return None
    # Locked: a PM session created here must not race another PM assignment.
    project = await uow.projects.get_for_update(project_id)
    if project is None:
        raise ValidationError(
            f"unknown project: {project_id}",
            details={"field": "project_id", "unknown": [str(project_id)]},
        )
    return project


def _check_fits_project(session: Session, project: Project) -> None:
    if session.session_type is SessionType.PM and project.pm_session_id is not None:
        raise ConflictError(
            "the project has a PM already; assign a new one with POST /projects/{id}/pm",
            details={"project_id": str(project.id), "pm_session_id": str(project.pm_session_id)},
        )
    needs_member = session.session_type is SessionType.SPECIALIST
    if needs_member and (
        session.character_id is None or not project.has_member(session.character_id)
    ):
        raise ValidationError(
            "a specialist's character must be on the project's team",
            details={"field": "character_id", "project_id": str(project.id)},
        )


async def _project_run_by(uow: UnitOfWork, session: Session) -> Project | None:
    """The project whose PM session this is, locked, or None."""
    if session.project_id is None or session.session_type is not SessionType.PM:
        return None
    project = await uow.projects.get_for_update(session.project_id)
    if project is None or project.pm_session_id != session.id:
        return None
    return project


def _as_uuid(ref: str) -> UUID | None:
    try:
        return UUID(ref)
    except ValueError:
        return None


async def _require_with_waiting(
    uow: UnitOfWork, session_id: UUID, *, for_update: bool = False
) -> tuple[Session, dict[UUID, bool]]:
    """The live session (404 otherwise) and what ``why_waiting`` needs of it
    (``waiting_among``'s answer), read with the row in one round trip."""
    row, in_archive = await uow.sessions.get_with_waiting(session_id, for_update=for_update)
    session = found(row, "session", session_id)
    return session, {} if in_archive is None else {session.id: in_archive}
