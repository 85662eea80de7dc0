"""The SQLAlchemy unit of work behind the application's ``UnitOfWork`` port."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self
from uuid import UUID

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kumiai.application.ports.events import EventPublisher
from kumiai.application.ports.unit_of_work import UnitOfWork
from kumiai.core.exceptions import ConflictError, DatabaseUnavailableError
from kumiai.infrastructure.database.repositories.activity import SqlActivityLogRepository
from kumiai.infrastructure.database.repositories.definitions import (
    SqlCharacterRepository,
    SqlSkillRepository,
)
from kumiai.infrastructure.database.repositories.messages import SqlMessageRepository
from kumiai.infrastructure.database.repositories.pending_inputs import SqlPendingInputRepository
from kumiai.infrastructure.database.repositories.profiles import SqlUserProfileRepository
from kumiai.infrastructure.database.repositories.projects import SqlProjectRepository
from kumiai.infrastructure.database.repositories.sessions import SqlSessionRepository
from kumiai.infrastructure.database.repositories.tasks import SqlTaskRepository

# Failing to connect at all is turned into DatabaseUnavailableError by the engine
# (engine.py). These are the failures of a connection that was open: a lost socket, a
# pool with no free connection, and the SQLSTATE classes of an outage: 08 connection
# exception, 53 insufficient resources, 57P admin/crash shutdown, cannot connect now.
CONNECTION_ERRORS = (OperationalError, InterfaceError, PoolTimeoutError)
OUTAGE_SQLSTATE_PREFIXES = ("08", "53", "57P")


class SqlUnitOfWork(UnitOfWork):
    """The port's repositories over one SQLAlchemy session, opened on enter."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        read_only: bool = False,
        events: EventPublisher | None = None,
    ) -> None:
        self._factory = session_factory
        self._read_only = read_only
        self._events = events
        self._outbox: list[tuple[UUID, str, dict[str, Any]]] = []
        self._db: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        db = self._factory()
        self._db = db
        self.characters = SqlCharacterRepository(db)
        self.skills = SqlSkillRepository(db)
        self.projects = SqlProjectRepository(db)
        self.tasks = SqlTaskRepository(db)
        self.sessions = SqlSessionRepository(db)
        self.messages = SqlMessageRepository(db)
        self.pending = SqlPendingInputRepository(db)
        self.activity = SqlActivityLogRepository(db)
        self.profiles = SqlUserProfileRepository(db)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._db is not None
        # close() rolls back whatever was not committed but, unlike rollback(), leaves
        # loaded entities readable, so a service may shape its answer after the exit.
        await self._db.close()
        self._db = None
        self._outbox.clear()  # what was not committed is not announced
        translated = translate_database_error(exc)
        if translated is not None:
            raise translated from exc

    async def commit(self) -> None:
        assert self._db is not None
        if self._read_only:
            raise TypeError("a read-only unit of work cannot commit")
        await self._db.commit()
        outbox, self._outbox = self._outbox, []
        for session_id, event_type, data in outbox:
            assert self._events is not None, "checked by publish()"
            self._events.publish(session_id, event_type, **data)

    def publish(self, session_id: UUID, event_type: str, **data: Any) -> None:
        if self._read_only or self._events is None:
            raise TypeError("this unit of work announces no events")
        self._outbox.append((session_id, event_type, data))


def translate_database_error(error: BaseException | None) -> Exception | None:
    """Driver errors the user can act on, as KumiAI errors; None for everything else."""
    if isinstance(error, IntegrityError):
        return ConflictError(
            "the change conflicts with existing data",
            details={"constraint": _constraint_name(error)},
        )
    if error is not None and _is_outage(error):
        return DatabaseUnavailableError(f"the database is unavailable: {_first_line(error)}")
    return None


def _is_outage(error: BaseException) -> bool:
    if isinstance(error, CONNECTION_ERRORS):
        return True
    if not isinstance(error, DBAPIError):
        return False
    sqlstate = getattr(_driver_error(error), "sqlstate", None) or ""
    return error.connection_invalidated or sqlstate.startswith(OUTAGE_SQLSTATE_PREFIXES)


def _driver_error(error: DBAPIError) -> object:
    """asyncpg's own exception, which SQLAlchemy's adapter wraps as ``error.orig``."""
    return getattr(error.orig, "__cause__", None) or error.orig


def _constraint_name(error: IntegrityError) -> str | None:
    return getattr(_driver_error(error), "constraint_name", None)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
