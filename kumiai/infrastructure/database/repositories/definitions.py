"""Characters and skills: folder-backed definitions indexed by slug."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kumiai.domain.entities import Character, Skill
from kumiai.domain.repositories import DefinitionFilter, Page, PageRequest
from kumiai.infrastructure.database.repositories.base import paginate_by_creation
from kumiai.infrastructure.database.tables import characters, skills

D = TypeVar("D", Character, Skill)


class _DefinitionRepository(Generic[D]):
    entity: type[D]
    table: sa.Table
    # The lookups every request makes, built once per kind (see the package docstring).
    _live_by_id: ClassVar[sa.Select[Any]]
    _by_slug: ClassVar[sa.Select[Any]]
    _live_by_slug: ClassVar[sa.Select[Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        live = cls.table.c.deleted_at.is_(None)
        cls._live_by_id = sa.select(cls.entity).where(
            cls.table.c.id == sa.bindparam("definition_id"), live
        )
        cls._by_slug = sa.select(cls.entity).where(cls.table.c.slug == sa.bindparam("slug"))
        cls._live_by_slug = cls._by_slug.where(live)

    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    async def add(self, definition: D) -> None:
        self._db.add(definition)
        await self._db.flush()

    async def get(self, definition_id: UUID) -> D | None:
        found: D | None = await self._db.scalar(self._live_by_id, {"definition_id": definition_id})
        return found

    async def get_by_slug(self, slug: str, *, include_deleted: bool = False) -> D | None:
        query = self._by_slug if include_deleted else self._live_by_slug
        found: D | None = await self._db.scalar(query, {"slug": slug})
        return found

    async def get_many_by_slug(self, slugs: Sequence[str]) -> list[D]:
        if not slugs:
            return []
        query = sa.select(self.entity).where(
            self.table.c.slug.in_(list(slugs)), self.table.c.deleted_at.is_(None)
        )
        return list((await self._db.scalars(query)).all())

    async def slug_taken(self, slug: str) -> bool:
        found = await self._db.scalar(sa.select(self.table.c.id).where(self.table.c.slug == slug))
        return found is not None

    async def list_page(self, page: PageRequest, filters: DefinitionFilter) -> Page[D]:
        return await paginate_by_creation(
            self._db, self.entity, self.table, self._conditions(filters), page
        )

    async def list_live(self) -> list[D]:
        query = (
            sa.select(self.entity)
            .where(self.table.c.deleted_at.is_(None))
            .order_by(self.table.c.created_at, self.table.c.id)
        )
        return list((await self._db.scalars(query)).all())

    async def delete(self, definition: D) -> None:
        await self._db.delete(definition)
        await self._db.flush()

    def _conditions(self, filters: DefinitionFilter) -> list[sa.ColumnElement[bool]]:
        columns = self.table.c
        conditions: list[sa.ColumnElement[bool]] = [columns.deleted_at.is_(None)]
        if filters.tag:
            conditions.append(columns.tags.contains([filters.tag]))
        if filters.q:
            pattern = f"%{_escape_like(filters.q)}%"
            conditions.append(
                sa.or_(
                    columns.name.ilike(pattern, escape="\\"),
                    sa.func.coalesce(columns.description, "").ilike(pattern, escape="\\"),
                    columns.slug.ilike(pattern, escape="\\"),
                )
            )
        return conditions


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlCharacterRepository(_DefinitionRepository[Character]):
    entity = Character
    table = characters

    async def get_many(self, ids: Sequence[UUID]) -> list[Character]:
        if not ids:
            return []
        query = sa.select(Character).where(characters.c.id.in_(list(ids)))
        return list((await self._db.scalars(query)).all())

    async def name_taken(self, name: str, *, exclude_id: UUID | None = None) -> bool:
        query = sa.select(characters.c.id).where(
            characters.c.name == name, characters.c.deleted_at.is_(None)
        )
        if exclude_id is not None:
            query = query.where(characters.c.id != exclude_id)
        return await self._db.scalar(query) is not None


class SqlSkillRepository(_DefinitionRepository[Skill]):
    entity = Skill
    table = skills
