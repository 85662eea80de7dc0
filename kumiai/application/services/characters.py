"""Characters: agent definitions in ``characters/<slug>/agent.md``, indexed by rows."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from kumiai.application.dtos.characters import CharacterCreate, CharacterUpdate, CharacterView
from kumiai.application.dtos.files import DocumentView, DocumentWrite, SyncCounts
from kumiai.application.ports.documents import DocumentCodec
from kumiai.application.ports.files import DefinitionFiles
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.definitions import (
    DefinitionCatalog,
    DefinitionEvents,
    DefinitionFolderAccess,
    DefinitionKind,
)
from kumiai.core.exceptions import ConflictError, ValidationError
from kumiai.domain.entities import Character
from kumiai.domain.repositories import DefinitionFilter, Page, PageRequest
from kumiai.domain.value_objects import EventType

AGENT_MD = "agent.md"


class CharacterService(DefinitionFolderAccess[Character]):
    def __init__(
        self, uow: UnitOfWorkFactory, files: DefinitionFiles, codec: DocumentCodec
    ) -> None:
        catalog = DefinitionCatalog(
            uow,
            DefinitionKind(
                label="character",
                main_document=AGENT_MD,
                files=files,
                codec=codec,
                repository=lambda unit: unit.characters,
                new=Character.create,
                locate=lambda slug: os.path.join(files.folder(slug), AGENT_MD),
                events=DefinitionEvents(
                    created=EventType.CHARACTER_CREATED,
                    updated=EventType.CHARACTER_UPDATED,
                    deleted=EventType.CHARACTER_DELETED,
                ),
                check=_check_character,
            ),
        )
        super().__init__(catalog)

    async def list_page(self, page: PageRequest, filters: DefinitionFilter) -> Page[CharacterView]:
        return await self._catalog.page(page, filters, CharacterView.of)

    async def list_all(self) -> list[CharacterView]:
        """Every live character, oldest first."""
        return await self._catalog.all(CharacterView.of)

    async def search_by_tags(self, tags: Sequence[str], *, match_all: bool) -> list[CharacterView]:
        """Live characters carrying all (``match_all``) or any of ``tags``, oldest first.

        Tags compare case-insensitively; no tags match nothing.
        """
        wanted = {tag.strip().lower() for tag in tags if tag.strip()}

        def carries(character: CharacterView) -> bool:
            own = {tag.lower() for tag in character.tags}
            return wanted <= own if match_all else bool(wanted & own)

        if not wanted:
            return []
        return [character for character in await self.list_all() if carries(character)]

    async def get(self, ref: str) -> CharacterView:
        """The live character whose id or slug is ``ref``."""
        return await self._catalog.get(ref, CharacterView.of)

    async def create(self, data: CharacterCreate) -> CharacterView:
        """Write ``agent.md`` and the row together; the slug comes from the name if not given."""
        return await self._catalog.create(
            data.fields(), CharacterView.of, slug=data.slug, body=data.content
        )

    async def update(self, ref: str, changes: CharacterUpdate) -> CharacterView:
        """Change the row and the front matter of ``agent.md``, keeping the prompt body."""
        return await self._catalog.update(ref, changes.changes(), CharacterView.of)

    async def delete(self, ref: str) -> None:
        await self._catalog.delete(ref)

    async def read_agent_md(self, ref: str) -> DocumentView:
        return await self._catalog.get(ref, self._agent_md)

    async def write_agent_md(self, ref: str, data: DocumentWrite) -> CharacterView:
        """Store ``agent.md`` as given and index its front matter into the row."""
        return await self._catalog.replace_document(ref, data.content, CharacterView.of)

    async def reindex(self) -> SyncCounts:
        return await self._catalog.reindex()

    def _agent_md(self, character: Character) -> DocumentView:
        return DocumentView(
            content=self._catalog.read_document(character), path=character.file_path
        )


async def _check_character(
    uow: UnitOfWork, character: Character, before: Mapping[str, Any]
) -> None:
    """Names are unique among live characters; newly listed skills must exist.

    Only skills added by this change are checked, so a skill deleted later does not
    block unrelated edits of the characters that still list it.
    """
    if await uow.characters.name_taken(character.name, exclude_id=character.id):
        raise ConflictError(
            f"a character named '{character.name}' exists already",
            details={"name": character.name},
        )
    added = [slug for slug in character.skills if slug not in before.get("skills", ())]
    known = {skill.slug for skill in await uow.skills.get_many_by_slug(added)}
    unknown = [slug for slug in added if slug not in known]
    if unknown:
        raise ValidationError(
            f"unknown skills: {', '.join(unknown)}",
            details={"field": "skills", "unknown": unknown},
        )
