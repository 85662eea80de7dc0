"""A long session's history is read from its newest rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.application.services.runtime.history import (
    ELIDED_OUTPUT,
    fit_to_budget,
    recent_history,
    to_api_messages,
    trim_to_budget,
)
from kumiai.domain.entities import Message, Session
from kumiai.domain.value_objects import SessionType
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork
from tests.factories.conversations import insert_rows, messy_session

BUDGET = 20_000


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


async def test_a_long_sessions_history_comes_from_its_newest_rows_and_equals_the_whole(
    database: Database, connection: AsyncConnection
) -> None:
    session_id = await _session_with(database, connection, turns=3_000)
    every_row = await _every_row(database, session_id)
    whole = trim_to_budget(to_api_messages(every_row), BUDGET)

    with _rows_loaded() as loaded:
        async with SqlUnitOfWork(database.session_factory) as uow:
            window = await recent_history(uow.messages, session_id, BUDGET)

    assert window == whole
    assert loaded[0] < len(every_row) / 4, (loaded[0], len(every_row))
    # What the API runtime then does to the request (old outputs elided, then trimmed)
    # sees the same messages, so it does the same.
    fitted = fit_to_budget(window, BUDGET // 2)
    assert fitted == fit_to_budget(whole, BUDGET // 2)
    elided = ELIDED_OUTPUT.split(":", 1)[0]
    assert any(elided in str(block.get("content")) for m in fitted for block in m["content"])
