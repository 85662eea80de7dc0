"""Small helpers every service uses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from kumiai.application.ports.unit_of_work import UnitOfWork
from kumiai.core.exceptions import NotFoundError
from kumiai.domain.entities import ActivityEntry, Project, Session
from kumiai.domain.value_objects import EventType

T = TypeVar("T")
E_co = TypeVar("E_co", covariant=True)


class Lockable(Protocol[E_co]):
    """A repository whose entities can be read, or read and row-locked."""

    async def get(self, key: UUID, /) -> E_co | None: ...
    async def get_for_update(self, key: UUID, /) -> E_co | None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


async def record_activity(
    uow: UnitOfWork,
    event_type: EventType,
    *,
    session_id: UUID | None = None,
    project_id: UUID | None = None,
    **data: Any,
) -> None:
    """Write an activity row inside the caller's unit of work (same transaction)."""
    await uow.activity.add(
        ActivityEntry.record(event_type, session_id=session_id, project_id=project_id, **data)
    )


def session_activity(event_type: EventType, session: Session, **data: Any) -> ActivityEntry:
    """An activity entry about ``session``, filed under its project too."""
    return ActivityEntry.record(
        event_type, session_id=session.id, project_id=session.project_id, **data
    )


async def record_session_activity(
    uow: UnitOfWork, event_type: EventType, session: Session, **data: Any
) -> None:
    """Write :func:`session_activity` inside the caller's unit of work."""
    await uow.activity.add(session_activity(event_type, session, **data))


def found(entity: T | None, kind: str, key: object) -> T:
    """``entity``, or a 404 naming what was looked for."""
    if entity is None:
        raise NotFoundError(kind, key)
    return entity


async def require(repository: Lockable[T], key: UUID, kind: str, *, for_update: bool = False) -> T:
    """The live entity, row-locked when it is about to change; 404 otherwise."""
    lookup = repository.get_for_update(key) if for_update else repository.get(key)
    return found(await lookup, kind, key)


async def require_session(
    uow: UnitOfWork, session_id: UUID, *, for_update: bool = False
) -> Session:
    return await require(uow.sessions, session_id, "session", for_update=for_update)


async def require_project(
    uow: UnitOfWork, project_id: UUID, *, for_update: bool = False
) -> Project:
    """Row-locked also when something is about to be built on it (a task, a session)."""
    return await require(uow.projects, project_id, "project", for_update=for_update)


async def project_of(uow: UnitOfWork, session: Session) -> Project | None:
    """The project the session belongs to, if any."""
    return None if session.project_id is None else await uow.projects.get(session.project_id)
