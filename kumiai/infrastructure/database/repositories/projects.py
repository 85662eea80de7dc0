from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kumiai.domain.entities import Project
from kumiai.domain.repositories import Page, PageRequest
from kumiai.infrastructure.database.repositories.base import paginate_by_creation
from kumiai.infrastructure.database.tables import projects

BY_ID = sa.select(Project).where(projects.c.id == sa.bindparam("project_id"))
LIVE_BY_ID = BY_ID.where(projects.c.deleted_at.is_(None))
LIVE_BY_ID_FOR_UPDATE = LIVE_BY_ID.with_for_update().execution_options(populate_existing=True)


class SqlProjectRepository:
    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    async def add(self, project: Project) -> None:
        self._db.add(project)
        await self._db.flush()

    async def get(self, project_id: UUID, *, include_deleted: bool = False) -> Project | None:
        query = BY_ID if include_deleted else LIVE_BY_ID
        return await self._db.scalar(query, {"project_id": project_id})

    async def get_for_update(self, project_id: UUID) -> Project | None:
        return await self._db.scalar(LIVE_BY_ID_FOR_UPDATE, {"project_id": project_id})

    async def path_in_use(self, path: str, *, exclude_id: UUID | None = None) -> bool:
        query = sa.select(projects.c.id).where(
            projects.c.path == path, projects.c.deleted_at.is_(None)
        )
        if exclude_id is not None:
            query = query.where(projects.c.id != exclude_id)
        return await self._db.scalar(query) is not None

    async def list_page(
        self, page: PageRequest, *, archived: bool | None = False, include_deleted: bool = False
    ) -> Page[Project]:
        conditions: list[sa.ColumnElement[bool]] = []
        if not include_deleted:
            conditions.append(projects.c.deleted_at.is_(None))
        if archived is not None:
            archived_column = projects.c.archived_at
            conditions.append(
                archived_column.is_not(None) if archived else archived_column.is_(None)
            )
        return await paginate_by_creation(self._db, Project, projects, conditions, page)

    async def list_all(self, *, include_archived: bool = False) -> list[Project]:
        query = sa.select(Project).where(projects.c.deleted_at.is_(None))
        if not include_archived:
            query = query.where(projects.c.archived_at.is_(None))
        query = query.order_by(projects.c.created_at, projects.c.id)
        return list((await self._db.scalars(query)).all())

    async def delete(self, project: Project) -> None:
        await self._db.delete(project)
        await self._db.flush()
