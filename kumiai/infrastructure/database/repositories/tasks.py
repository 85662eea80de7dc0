from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa

from kumiai.domain.entities import Task
from kumiai.domain.repositories import Page, PageRequest
from kumiai.domain.value_objects import TaskStatus
from kumiai.infrastructure.database.repositories.base import SqlRepository
from kumiai.infrastructure.database.tables import tasks

# populate_existing: a locked read must see the row as it is now, not as first loaded.
_LIVE_BY_ID = sa.select(Task).where(
    tasks.c.id == sa.bindparam("row_id"), tasks.c.deleted_at.is_(None)
)
LIVE_BY_ID_IF_FREE = _LIVE_BY_ID.with_for_update(skip_locked=True).execution_options(
    populate_existing=True
)
LIVE_BY_ID_FOR_SHARE = _LIVE_BY_ID.with_for_update(read=True).execution_options(
    populate_existing=True
)


class SqlTaskRepository(SqlRepository[Task]):
    entity = Task
    table = tasks

    async def lock_if_free(self, task_id: UUID) -> Task | None:
        found: Task | None = await self._db.scalar(LIVE_BY_ID_IF_FREE, {"row_id": task_id})
        return found

    async def get_for_share(self, task_id: UUID) -> Task | None:
        found: Task | None = await self._db.scalar(LIVE_BY_ID_FOR_SHARE, {"row_id": task_id})
        return found

    async def list_page(
        self, project_id: UUID, page: PageRequest, *, status: TaskStatus | None = None
    ) -> Page[Task]:
        conditions = [self.live(), tasks.c.project_id == project_id]
        if status is not None:
            conditions.append(tasks.c.status == status)
        return await self._page(conditions, page)

    async def list_for_project(self, project_id: UUID, *, for_update: bool = False) -> list[Task]:
        query = (
            sa.select(Task)
            .where(self.live(), tasks.c.project_id == project_id)
            .order_by(tasks.c.created_at, tasks.c.id)
        )
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return await self._all(query)
