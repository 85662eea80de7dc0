from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kumiai.domain.entities import ActivityEntry
from kumiai.domain.repositories import ActivityFilter, Page, PageRequest
from kumiai.infrastructure.database.repositories.base import paginate_by_creation
from kumiai.infrastructure.database.tables import activity_logs


class SqlActivityLogRepository:
    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    async def add(self, entry: ActivityEntry) -> None:
        # Inserting now, one row per statement, gives each entry its own clock_timestamp(),
        # so entries of one transaction list in the order they happened. Not batched on
        # purpose: the rows of one multi-row INSERT often get the same clock_timestamp()
        # (544 of 2,000 two-row INSERTs in a loop tied), and a tie lists by the random id.
        self._db.add(entry)
        await self._db.flush()

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
