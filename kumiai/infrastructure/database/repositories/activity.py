from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kumiai.domain.entities import ActivityEntry
from kumiai.domain.repositories import ActivityFilter, Page, PageRequest
from kumiai.infrastructure.database.repositories.base import paginate_by_creation
from kumiai.infrastructure.database.tables import activity_logs

# Every column but created_at (the server's clock_timestamp()), built once: an entry
# costs one INSERT with its values bound, not a flush of the unit of work's machinery.
ENTRY_COLUMNS = [column for column in activity_logs.c if column.key != "created_at"]
_INSERT = sa.insert(activity_logs).values(
    {column.key: sa.bindparam(column.key, type_=column.type) for column in ENTRY_COLUMNS}
)


class SqlActivityLogRepository:
    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    async def add(self, entry: ActivityEntry) -> None:
        # Inserting now, one row per statement, gives each entry its own clock_timestamp(),
        # so entries of one transaction list in the order they happened. Not batched on
        # purpose: the rows of one multi-row INSERT often get the same clock_timestamp()
        # (544 of 2,000 two-row INSERTs in a loop tied), and a tie lists by the random id.
        await self._db.flush()  # what the unit of work changed before goes first, as ever
        await self._db.execute(
            _INSERT, {column.key: getattr(entry, column.key) for column in ENTRY_COLUMNS}
        )

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
