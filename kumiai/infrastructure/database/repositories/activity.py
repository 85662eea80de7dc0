from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kumiai.domain.entities import ActivityEntry
from kumiai.domain.repositories import ActivityFilter, Page, PageRequest
from kumiai.infrastructure.database.repositories.base import paginate_by_creation
from kumiai.infrastructure.database.tables import activity_logs

# Every column but created_at (the server's clock_timestamp()), bound as
# ``entry_<column>`` (a parameter named as a column of the table an INSERT fills would
# be taken for that column's value). Statements are built once: an entry costs one
# INSERT with its values bound, not a flush of the unit of work's machinery.
_ENTRY_COLUMNS = [column for column in activity_logs.c if column.key != "created_at"]
_ENTRY = [sa.bindparam(f"entry_{column.key}", type_=column.type) for column in _ENTRY_COLUMNS]
_INSERT = sa.insert(activity_logs).from_select(_ENTRY_COLUMNS, sa.select(*_ENTRY))


def entry_values(entry: ActivityEntry) -> dict[str, Any]:
    """The parameters of ``entry`` for a statement that inserts it (``_INSERT``,
    ``recorded_with``)."""
    return {f"entry_{column.key}": getattr(entry, column.key) for column in _ENTRY_COLUMNS}


def recorded_with(change: sa.CTE) -> sa.CTE:
    """A CTE inserting the bound entry once for the row ``change`` (a data-modifying CTE
    of the same statement) returns, and none if it returns none: a change and its
    activity row in one round trip. The entry must be its statement's only activity
    row, so it keeps a clock_timestamp() of its own (see ``add``)."""
    entry = sa.select(*_ENTRY).select_from(change)
    return sa.insert(activity_logs).from_select(_ENTRY_COLUMNS, entry).cte("recorded")


class SqlActivityLogRepository:
    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    async def add(self, entry: ActivityEntry) -> None:
        # Inserting now, one row per statement, gives each entry its own clock_timestamp(),
        # so entries of one transaction list in the order they happened. Not batched on
        # purpose: the rows of one multi-row INSERT often get the same clock_timestamp()
        # (544 of 2,000 two-row INSERTs in a loop tied), and a tie lists by the random id.
        await self._db.flush()  # what the unit of work changed before goes first, as ever
        await self._db.execute(_INSERT, entry_values(entry))

    async def list_page(self, page: PageRequest, filters: ActivityFilter) -> Page[ActivityEntry]:
        columns = activity_logs.c
        conditions = [
            column == value
            for column, value in (
                (columns.project_id, filters.project_id),
                (columns.session_id, filters.session_id),
                (columns.event_type, filters.event_type),
            )
            if value is not None
        ]
        return await paginate_by_creation(
            self._db, ActivityEntry, activity_logs, conditions, page, newest_first=True
        )
