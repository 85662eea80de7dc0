"""Concurrent appends to one session get the sequences 0..n-1: unique and gapless.

Appends go through the message repository in a unit of work of their own, exactly as the
runtime stores a turn's messages. This test commits for real (each append on its own
connection), so it
cannot use the rolled-back ``connection`` fixture; it deletes what it wrote at the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

import pytest
import sqlalchemy as sa

from kumiai.domain.entities import Message, Session
from kumiai.domain.value_objects import SessionType
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork

APPENDS = 50


@pytest.fixture
async def committing_database(database_url: str) -> AsyncIterator[Database]:
    # One pooled connection per append, so all of them really run at the same time.
    database = Database(database_url, pool_size=APPENDS, max_overflow=0, pool_timeout=30)
    yield database
    await database.dispose()


@pytest.fixture
async def session_id(committing_database: Database) -> AsyncIterator[UUID]:
    async with SqlUnitOfWork(committing_database.session_factory) as uow:
        session = Session.create(SessionType.ASSISTANT)
        session.mark_ready()
        await uow.sessions.add(session)
        await uow.commit()
    try:
        yield session.id
    finally:
        await _delete_everything_of(committing_database, session.id)


async def _delete_everything_of(database: Database, session_id: UUID) -> None:
    # Messages cascade with the session; activity rows would only lose their link, so
    # they are removed explicitly to leave the shared test database as it was.
    async with database.engine.begin() as connection:
        params = {"id": session_id}
        await connection.execute(
            sa.text("DELETE FROM activity_logs WHERE session_id = :id"), params
        )
        await connection.execute(sa.text("DELETE FROM sessions WHERE id = :id"), params)


async def test_parallel_appends_get_unique_gapless_sequences(
    committing_database: Database, session_id: UUID
) -> None:
    async def append(number: int) -> Message:
        async with SqlUnitOfWork(committing_database.session_factory) as uow:
            stored = await uow.messages.append(Message.user(session_id, f"message {number}"))
            await uow.commit()
            return stored

    stored = await asyncio.gather(*(append(number) for number in range(APPENDS)))

    assert sorted(message.sequence for message in stored) == list(range(APPENDS))
    async with committing_database.engine.connect() as connection:
        rows = await connection.execute(
            sa.text("SELECT sequence FROM messages WHERE session_id = :id ORDER BY sequence"),
            {"id": session_id},
        )
        assert [row.sequence for row in rows] == list(range(APPENDS))
        next_sequence = await connection.scalar(
            sa.text("SELECT next_sequence FROM sessions WHERE id = :id"), {"id": session_id}
        )
    assert next_sequence == APPENDS
