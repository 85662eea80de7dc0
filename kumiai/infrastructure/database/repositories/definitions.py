"""Characters and skills: folder-backed definitions indexed by slug."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import sqlalchemy as sa

from kumiai.domain.entities import Character, Definition, Skill
from kumiai.domain.repositories import DefinitionFilter, Page, PageRequest
from kumiai.infrastructure.database.repositories.base import SqlRepository
from kumiai.infrastructure.database.tables import characters, skills

D = TypeVar("D", bound=Definition)


class SqlDefinitionRepository(SqlRepository[D]):
    """The ``DefinitionRepository`` of one kind, over its table."""

    # The lookups by slug every request makes, and those of every turn's context (its
    # character, team and skills), built once per kind.
    _by_slug: ClassVar[sa.Select[Any]]
    _live_by_slug: ClassVar[sa.Select[Any]]
    _by_ids: ClassVar[sa.Select[Any]]
    _live_by_slugs: ClassVar[sa.Select[Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "table" not in vars(cls):
            return
        columns = cls.table.c
        cls._by_slug = sa.select(cls.entity).where(columns.slug == sa.bindparam("slug"))
        cls._live_by_slug = cls._by_slug.where(cls.live())
        cls._by_ids = sa.select(cls.entity).where(
            columns.id.in_(sa.bindparam("ids", expanding=True))
        )
        cls._live_by_slugs = sa.select(cls.entity).where(
            columns.slug.in_(sa.bindparam("slugs", expanding=True)), cls.live()
        )

    async def get_by_slug(self, slug: str, *, include_deleted: bool = False) -> D | None:
        query = self._by_slug if include_deleted else self._live_by_slug
        found: D | None = await self._db.scalar(query, {"slug": slug})
        return found

    async def get_many(self, ids: Sequence[UUID]) -> list[D]:
        if not ids:
            return []
        return list((await self._db.scalars(self._by_ids, {"ids": list(ids)})).all())

    async def get_many_by_slug(self, slugs: Sequence[str]) -> list[D]:
        if not slugs:
            return []
        return list((await self._db.scalars(self._live_by_slugs, {"slugs": list(slugs)})).all())

    async def slug_taken(self, slug: str) -> bool:
        found = await self._db.scalar(sa.select(self.table.c.id).where(self.table.c.slug == slug))
        return found is not None

    async def name_taken(self, name: str, *, exclude_id: UUID | None = None) -> bool:
        query = sa.select(self.table.c.id).where(self.table.c.name == name, self.live())
        if exclude_id is not None:
            query = query.where(self.table.c.id != exclude_id)
        return await self._db.scalar(query) is not None

    async def list_page(self, page: PageRequest, filters: DefinitionFilter) -> Page[D]:
        return await self._page(self._conditions(filters), page)

    async def list_live(self) -> list[D]:
        query = (
            sa.select(self.entity)
            .where(self.live())
            .order_by(self.table.c.created_at, self.table.c.id)
        )
        return await self._all(query)

    def _conditions(self, filters: DefinitionFilter) -> list[sa.ColumnElement[bool]]:
        columns = self.table.c
        conditions: list[sa.ColumnElement[bool]] = [self.live()]
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


class SqlCharacterRepository(SqlDefinitionRepository[Character]):
    entity = Character
    table = characters


class SqlSkillRepository(SqlDefinitionRepository[Skill]):
    entity = Skill
    table = skills
