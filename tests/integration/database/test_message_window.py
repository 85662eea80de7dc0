"""A long session's history is read from its newest rows."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.application.services.runtime.history.budget import (
    ELIDED_OUTPUT,
    fit_to_budget,
    trim_to_budget,
)
from kumiai.application.services.runtime.history.replay import to_api_messages
from kumiai.application.services.runtime.history.window import recent_history
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork
from tests.factories.conversations import all_rows, rows_loaded, session_with_messy_history

BUDGET = 20_000


async def test_a_long_sessions_history_comes_from_its_newest_rows_and_equals_the_whole(
    database: Database, connection: AsyncConnection
) -> None:
    session_id = await session_with_messy_history(database, connection, turns=3_000)
    every_row = await all_rows(database, session_id)
    whole = trim_to_budget(to_api_messages(every_row), BUDGET)

    with rows_loaded() as loaded:
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
