"""Skills: instruction packs in ``skills/<slug>/`` (``SKILL.md`` plus any files)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from kumiai.application.dtos.files import SyncCounts
from kumiai.application.dtos.skills import (
    SkillCreate,
    SkillDetail,
    SkillMatch,
    SkillUpdate,
    SkillView,
)
from kumiai.application.ports.documents import DocumentCodec
from kumiai.application.ports.files import DefinitionFiles
from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.application.services.definitions import (
    DefinitionCatalog,
    DefinitionEvents,
    DefinitionFolderAccess,
    DefinitionKind,
)
from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import Skill
from kumiai.domain.repositories import DefinitionFilter, Page, PageRequest
from kumiai.domain.value_objects import EventType, slugify, validate_slug

SKILL_MD = "SKILL.md"

# Sources that name something on the network rather than a folder on this machine.
_REMOTE_SOURCE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|(?:www\.)?github\.com/)", re.I)

# How much a match in each field counts; a name match beats a tag, a tag a description.
_FIELD_WEIGHTS = {"name": 1.0, "tags": 0.8, "description": 0.6}


class SkillService(DefinitionFolderAccess[Skill]):
    def __init__(
        self, uow: UnitOfWorkFactory, files: DefinitionFiles, codec: DocumentCodec
    ) -> None:
        super().__init__(
            DefinitionCatalog(
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
        )

    async def list_page(self, page: PageRequest, filters: DefinitionFilter) -> Page[SkillView]:
        return await self._catalog.page(page, filters, SkillView.of)

    async def list_all(self) -> list[SkillView]:
        """Every live skill, oldest first."""
        return await self._catalog.all(SkillView.of)

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

    async def sync(self, ref: str) -> SkillDetail:
        """Re-index one skill from its SKILL.md, after the file was edited by hand."""
        await self._catalog.sync_folder(await self._catalog.slug_of(ref))
        return await self.get(ref)

    async def import_folder(self, source: str, slug: str | None = None) -> SkillDetail:
        """Copy a skill folder from this machine into the store and index it.

        ``source`` is an absolute path (``~`` allowed) to a folder holding SKILL.md;
        the slug defaults to the folder's name. URLs are refused with a
        ``ValidationError``: this server makes no network requests of its own, so a
        skill on GitHub must be cloned or downloaded first.
        """
        folder = _local_folder(source)
        chosen = validate_slug(slug) if slug else _folder_slug(folder)
        self._catalog.files.copy_in(chosen, folder)
        try:
            await self._catalog.sync_folder(chosen)
        except BaseException:
            # Moving the copy aside is the only removal the store offers.
            self._catalog.files.delete_folder(chosen)
            raise
        return await self.get(chosen)

    async def search(self, query: str) -> list[SkillMatch]:
        """Skills whose name, tags or description contain ``query``, best match first."""
        needle = query.strip().lower()
        if not needle:
            raise ValidationError("the search text is empty", details={"field": "q"})
        matches = [
            match
            for skill in await self.list_all()
            if (match := _best_match(skill, needle)) is not None
        ]
        return sorted(matches, key=lambda match: (-match.score, match.skill.name.lower()))

    def _detail(self, skill: Skill) -> SkillDetail:
        return SkillDetail.with_content(skill, self._catalog.body(skill))


def _local_folder(source: str) -> str:
    text = source.strip()
    if _REMOTE_SOURCE.match(text):
        raise ValidationError(
            "importing from a URL is not supported: this server does not download skills. "
            "Clone or download the skill, then import its local folder.",
            details={"field": "source", "value": source},
        )
    folder = os.path.expanduser(text)
    # A relative path would depend on the server's working directory.
    if "\x00" in folder or not os.path.isabs(folder):
        raise ValidationError(
            f"the source must be an absolute folder path: {source!r}",
            details={"field": "source", "value": source},
        )
    return os.path.normpath(folder)


def _folder_slug(folder: str) -> str:
    name = os.path.basename(folder)
    try:
        return slugify(name)
    except ValidationError:
        raise ValidationError(
            f"cannot derive a skill id from the folder name {name!r}; give a skill_id",
            details={"field": "skill_id"},
        ) from None


def _best_match(skill: SkillView, needle: str) -> SkillMatch | None:
    best: SkillMatch | None = None
    for field, text in _searchable(skill):
        score = _FIELD_WEIGHTS[field] * _closeness(text.lower(), needle)
        if score > 0 and (best is None or score > best.score):
            best = SkillMatch(
                skill=skill, score=round(score, 3), match_field=field, match_text=text
            )
    return best


def _searchable(skill: SkillView) -> Iterator[tuple[str, str]]:
    yield "name", skill.name
    for tag in skill.tags:
        yield "tags", tag
    yield "description", skill.description


def _closeness(text: str, needle: str) -> float:
    """1 for the whole text, less for a prefix, less again for a part; 0 for no match."""
    if text == needle:
        return 1.0
    if text.startswith(needle):
        return 0.75
    return 0.5 if needle in text else 0.0
