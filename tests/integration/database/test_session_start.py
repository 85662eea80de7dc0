"""A turn's start: the session row's change and its activity row, in one statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.application.services.session_lifecycle import start_turn
from kumiai.domain.entities import Session
from kumiai.domain.value_objects import SessionStatus, SessionType
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.tables import activity_logs, sessions
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork

NOW = datetime(2026, 12, 6, tzinfo=UTC)


class _Events:
    """What the units of work announced once they committed."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, _session_id: UUID, event_type: str, **data: Any) -> None:
        self.published.append((event_type, data))


def _uow(database: Database, events: _Events | None = None) -> SqlUnitOfWork:
    return SqlUnitOfWork(database.session_factory, events=events or _Events())


async def _session(database: Database, *, waiting_slot: str | None = None) -> Session:
    async with SqlUnitOfWork(database.session_factory) as uow:
        session = Session.create(SessionType.ASSISTANT)
        session.mark_ready()
        session.waiting_slot = waiting_slot
        await uow.sessions.add(session)
        await uow.commit()
    return session


async def _locked(uow: SqlUnitOfWork, session: Session) -> Session:
    loaded = await uow.sessions.get_for_update(session.id)
    assert loaded is not None
    return loaded


@contextmanager
def _statements(connection: AsyncConnection) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    target = connection.sync_connection
    assert target is not None
    event.listen(target, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(target, "before_cursor_execute", record)


async def _stored(connection: AsyncConnection, session: Session) -> sa.Row[Any]:
    query = sa.select(sessions).where(sessions.c.id == session.id)
    return (await connection.execute(query)).one()


async def _activity(connection: AsyncConnection, session: Session) -> list[sa.Row[Any]]:
    query = (
        sa.select(activity_logs.c.event_type, activity_logs.c.event_data)
        .where(activity_logs.c.session_id == session.id)
        .order_by(activity_logs.c.created_at)
    )
    return list((await connection.execute(query)).all())


async def test_a_start_writes_the_row_and_its_activity_row_in_one_statement(
    database: Database, connection: AsyncConnection
) -> None:
    session = await _session(database, waiting_slot="server")
    input_id, run_id = uuid4(), uuid4()
    events = _Events()
    async with _uow(database, events) as uow:
        loaded = await _locked(uow, session)
        with _statements(connection) as written:
            await start_turn(uow, loaded, input_id, run_id, NOW)
            await uow.commit()

    # The start's statement, then the commit's savepoint release (no UPDATE of the ORM's).
    assert len(written) == 2, "\n".join(written)
    assert "INSERT INTO activity_logs" in written[0] and "UPDATE sessions" in written[0]
    stored = await _stored(connection, session)
    assert stored.status == SessionStatus.THINKING
    assert (stored.started_at, stored.turn_input_id, stored.turn_run_id) == (NOW, input_id, run_id)
    assert stored.waiting_slot is None
    assert loaded.updated_at == stored.updated_at
    assert events.published == [("status_changed", {"status": "thinking", "run_id": str(run_id)})]
    assert await _activity(connection, session) == [
        ("session_started", {"status": "thinking", "run_id": str(run_id)})
    ]


async def test_a_start_writes_what_the_unit_of_work_changed_before_it(
    database: Database, connection: AsyncConnection
) -> None:
    session = await _session(database)
    async with _uow(database) as uow:
        loaded = await _locked(uow, session)
        loaded.claude_session_id = "claude-1"  # not a column the start writes
        await start_turn(uow, loaded, uuid4(), uuid4(), NOW)
        await uow.commit()

    stored = await _stored(connection, session)
    assert (stored.status, stored.claude_session_id) == (SessionStatus.THINKING, "claude-1")


async def test_a_start_of_an_ended_session_records_its_resume_first(
    database: Database, connection: AsyncConnection
) -> None:
    session = await _session(database)
    async with _uow(database) as uow:
        loaded = await _locked(uow, session)
        loaded.fail("broke")
        await uow.commit()
    run_id = uuid4()
    async with _uow(database) as uow:
        loaded = await _locked(uow, session)
        await start_turn(uow, loaded, uuid4(), run_id, NOW)
        await uow.commit()

    stored = await _stored(connection, session)
    assert (stored.status, stored.error_message) == (SessionStatus.THINKING, None)
    events = [row.event_type for row in await _activity(connection, session)]
    assert events[-2:] == ["session_resumed", "session_started"]
