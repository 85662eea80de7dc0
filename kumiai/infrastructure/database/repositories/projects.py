from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa

from kumiai.domain.entities import Project
from kumiai.domain.repositories import Page, PageRequest
from kumiai.infrastructure.database.repositories.base import SqlRepository
from kumiai.infrastructure.database.tables import projects


class SqlProjectRepository(SqlRepository[Project]):
    entity = Project
    table = projects

    async def path_in_use(self, path: str, *, exclude_id: UUID | None = None) -> bool:
        query = sa.select(projects.c.id).where(projects.c.path == path, self.live())
        if exclude_id is not None:
            query = query.where(projects.c.id != exclude_id)
        return await self._db.scalar(query) is not None

    async def list_page(
        self, page: PageRequest, *, archived: bool | None = False, include_deleted: bool = False
    ) -> Page[Project]:
        conditions: list[sa.ColumnElement[bool]] = []
        if not include_deleted:
            conditions.append(self.live())
        if archived is not None:
            archived_column = projects.c.archived_at
            conditions.append(
                archived_column.is_not(None) if archived else archived_column.is_(None)
            )
        return await self._page(conditions, page)

    async def list_all(self, *, include_archived: bool = False) -> list[Project]:
        query = sa.select(Project).where(self.live())
        if not include_archived:
            query = query.where(projects.c.archived_at.is_(None))
        return await self._all(query.order_by(projects.c.created_at, projects.c.id))
