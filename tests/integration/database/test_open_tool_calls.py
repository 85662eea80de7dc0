"""A session's open tool calls are found without reading its conversation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.domain.entities import Message, Session, unanswered_tool_uses
from kumiai.domain.value_objects import SessionType
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork
from tests.factories.conversations import insert_rows, messy_session


async def _session_with(database: Database, connection: AsyncConnection, turns: int) -> UUID:
    async with SqlUnitOfWork(database.session_factory) as uow:
        session = Session.create(SessionType.ASSISTANT)
        session.mark_ready()
        await uow.sessions.add(session)
        await uow.commit()
    await insert_rows(connection, session.id, messy_session(session.id, seed=7, turns=turns))
    return session.id


async def _every_row(database: Database, session_id: UUID) -> list[Message]:
    async with SqlUnitOfWork(database.session_factory) as uow:
        return (await uow.messages.page(session_id, limit=1_000_000)).items


@contextmanager
def _rows_loaded() -> Iterator[list[int]]:
    """Counts the message rows the ORM builds while the block runs."""
    loaded = [0]

    def count(*_: Any) -> None:
        loaded[0] += 1

    sa.event.listen(Message, "load", count)
    try:
        yield loaded
    finally:
        sa.event.remove(Message, "load", count)


async def test_the_open_tool_calls_of_a_session_are_found_without_reading_it(
    database: Database, connection: AsyncConnection
) -> None:
    session_id = await _session_with(database, connection, turns=400)
    every_row = await _every_row(database, session_id)
    expected = [call.id for call in unanswered_tool_uses(every_row)]
    assert expected  # the conversation leaves some calls unanswered

    with _rows_loaded() as loaded:
        async with SqlUnitOfWork(database.session_factory) as uow:
            found = await uow.messages.unanswered_tool_uses(session_id)

    assert [call.id for call in found] == expected
    assert loaded[0] == len(expected)
