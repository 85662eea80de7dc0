"""Skills: instruction packs in ``skills/<slug>/`` (``SKILL.md`` plus any files)."""

from __future__ import annotations

import posixpath

from kumiai.application.dtos.files import FileContent, FileEntryView, FileWrite, SyncCounts
from kumiai.application.dtos.skills import SkillCreate, SkillDetail, SkillUpdate, SkillView
from kumiai.application.ports.documents import DocumentCodec
from kumiai.application.ports.files import DefinitionFiles
from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.application.services.definitions import (
    DefinitionCatalog,
    DefinitionEvents,
    DefinitionKind,
)
from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import Skill
from kumiai.domain.repositories import DefinitionFilter, Page, PageRequest
from kumiai.domain.value_objects import EventType

SKILL_MD = "SKILL.md"


class SkillService:
    def __init__(
        self, uow: UnitOfWorkFactory, files: DefinitionFiles, codec: DocumentCodec
    ) -> None:
        self._files = files
        self._catalog = DefinitionCatalog(
            uow,
            DefinitionKind(
                label="skill",
                main_document=SKILL_MD,
                files=files,
                codec=codec,
                repository=lambda unit: unit.skills,
                new=Skill.create,
                locate=files.folder,
                events=DefinitionEvents(
                    created=EventType.SKILL_CREATED,
                    updated=EventType.SKILL_UPDATED,
                    deleted=EventType.SKILL_DELETED,
                ),
            ),
        )

    async def list_page(self, page: PageRequest, filters: DefinitionFilter) -> Page[SkillView]:
        return await self._catalog.page(page, filters, SkillView.of)

    async def get(self, ref: str) -> SkillDetail:
        """The live skill whose id or slug is ``ref``, with the body of its SKILL.md."""
        return await self._catalog.get(ref, self._detail)

    async def create(self, data: SkillCreate) -> SkillDetail:
        return await self._catalog.create(
            data.fields(), self._detail, slug=data.slug, body=data.content
        )

    async def update(self, ref: str, changes: SkillUpdate) -> SkillDetail:
        return await self._catalog.update(
            ref, changes.changes(), self._detail, body=changes.content
        )

    async def delete(self, ref: str) -> None:
        await self._catalog.delete(ref)

    async def reindex(self) -> SyncCounts:
        return await self._catalog.reindex()

    async def list_files(self, ref: str) -> list[FileEntryView]:
        slug = await self._catalog.get(ref, _slug)
        return [FileEntryView.of(entry) for entry in self._files.list_files(slug)]

    async def read_file(self, ref: str, path: str) -> FileContent:
        slug = await self._catalog.get(ref, _slug)
        return FileContent.of(path, self._files.read_file(slug, path))

    async def write_file(self, ref: str, path: str, data: FileWrite) -> FileContent:
        """Write a file in the skill's folder; writing SKILL.md also re-indexes the row."""
        if _names_skill_md(path):
            await self._catalog.replace_document(ref, _utf8(data.data, path), _slug)
        else:
            await self._catalog.change_files(
                ref,
                lambda slug: self._files.write_file(slug, path, data.data),
                written=path,
            )
        return FileContent.of(path, data.data)

    async def delete_file(self, ref: str, path: str) -> None:
        """Delete a file or folder in the skill's folder; SKILL.md cannot be deleted."""
        await self._catalog.change_files(
            ref, lambda slug: self._files.delete_file(slug, path), deleted=path
        )

    def _detail(self, skill: Skill) -> SkillDetail:
        return SkillDetail.with_content(skill, self._catalog.body(skill))


def _slug(skill: Skill) -> str:
    return skill.slug


def _names_skill_md(path: str) -> bool:
    return posixpath.normpath(path) == SKILL_MD


def _utf8(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{path} must be UTF-8 text", details={"path": path}) from None
