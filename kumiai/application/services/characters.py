"""Characters: agent definitions in ``characters/<slug>/agent.md``, indexed by rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kumiai.application.dtos.characters import CharacterView
from kumiai.application.dtos.files import DocumentView, DocumentWrite
from kumiai.application.ports.documents import DocumentCodec
from kumiai.application.ports.files import DefinitionFiles
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.definitions import (
    DefinitionCatalog,
    DefinitionKind,
    DefinitionService,
)
from kumiai.core.exceptions import ConflictError, ValidationError
from kumiai.domain.entities import Character

AGENT_MD = "agent.md"


class CharacterService(DefinitionService[Character, CharacterView, CharacterView]):
    def __init__(
        self, uow: UnitOfWorkFactory, files: DefinitionFiles, codec: DocumentCodec
    ) -> None:
        catalog = DefinitionCatalog(uow, CHARACTERS, files, codec)
        super().__init__(catalog, listed=CharacterView.of, detail=CharacterView.of)

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

    async def read_agent_md(self, ref: str) -> DocumentView:
        return await self._catalog.get(ref, self._agent_md)

    async def write_agent_md(self, ref: str, data: DocumentWrite) -> CharacterView:
        """Store ``agent.md`` as given and index its front matter into the row."""
        return await self._catalog.replace_document(ref, data.content, CharacterView.of)

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


CHARACTERS = DefinitionKind(
    Character,
    AGENT_MD,
    repository=lambda unit: unit.characters,
    file_path="document",
    check=_check_character,
)
