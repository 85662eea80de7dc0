"""A session's open tool calls are found without reading its conversation."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.domain.entities import unanswered_tool_uses
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork
from tests.factories.conversations import all_rows, rows_loaded, session_with_messy_history


async def test_the_open_tool_calls_of_a_session_are_found_without_reading_it(
    database: Database, connection: AsyncConnection
) -> None:
    session_id = await session_with_messy_history(database, connection, turns=400)
    every_row = await all_rows(database, session_id)
    expected = [call.id for call in unanswered_tool_uses(every_row)]
    assert expected  # the conversation leaves some calls unanswered

    with rows_loaded() as loaded:
        async with SqlUnitOfWork(database.session_factory) as uow:
            found = await uow.messages.unanswered_tool_uses(session_id)

    assert [call.id for call in found] == expected
    assert loaded[0] == len(expected)
