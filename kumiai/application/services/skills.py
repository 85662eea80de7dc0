"""Skills: instruction packs in ``skills/<slug>/`` (``SKILL.md`` plus any files)."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator

from kumiai.application.dtos.skills import (
    SkillDetail,
    SkillImport,
    SkillImportResult,
    SkillMatch,
    SkillView,
    SkippedImportEntry,
)
from kumiai.application.ports.documents import DocumentCodec
from kumiai.application.ports.files import DefinitionFiles, FoundDefinition
from kumiai.application.ports.git import GitRepositories
from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.application.services.definitions import (
    DefinitionCatalog,
    DefinitionKind,
    DefinitionService,
)
from kumiai.application.services.skill_sources import LocalSource, parse_skill_source, split_tree
from kumiai.core.exceptions import ConflictError, ValidationError
from kumiai.domain.entities import Skill
from kumiai.domain.value_objects import slugify, validate_slug

SKILL_MD = "SKILL.md"
SKILLS = DefinitionKind(Skill, SKILL_MD, repository=lambda unit: unit.skills, file_path="folder")

_LINK_NOT_FOLLOWED = "symbolic link: not followed"
_NOT_COPIED = "symbolic link or special file: not copied"

# How much a match in each field counts; a name match beats a tag, a tag a description.
_FIELD_WEIGHTS = {"name": 1.0, "tags": 0.8, "description": 0.6}


class SkillService(DefinitionService[Skill, SkillView, SkillDetail]):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        files: DefinitionFiles,
        codec: DocumentCodec,
        *,
        git: GitRepositories,
        allow_file_urls: bool = False,
    ) -> None:
        self._git = git
        self._allow_file_urls = allow_file_urls
        catalog = DefinitionCatalog(uow, SKILLS, files, codec)
        # A skill is answered with the body of its SKILL.md as ``content``.
        super().__init__(catalog, listed=SkillView.of, detail=self._with_content)

    async def sync(self, ref: str) -> SkillDetail:
        """Re-index one skill from its SKILL.md, after the file was edited by hand."""
        await self._catalog.sync_folder(await self._catalog.slug_of(ref))
        return await self.get(ref)

    async def import_skills(self, request: SkillImport) -> SkillImportResult:
        """Import the skill at ``request.source``, or every skill folder below it.

        A git source is shallow-cloned into a temporary folder that is removed
        afterwards. Every skill is checked (its SKILL.md, a free slug) before any is
        written, then each is copied in and indexed like a skill created through the
        API. Links and special files are left behind and reported in ``skipped``.
        """
        source = parse_skill_source(
            request.source,
            branch=request.branch,
            path=request.path,
            allow_file_urls=self._allow_file_urls,
        )
        if isinstance(source, LocalSource):
            return await self._import_tree(source.folder, request.slug)
        if source.tree:
            source = split_tree(source, await self._git.remote_refs(source.url))
        async with self._git.checkout(source.url, source.branch, source.path) as folder:
            return await self._import_tree(folder, request.slug)

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

    def _with_content(self, skill: Skill) -> SkillDetail:
        return SkillDetail.with_content(skill, self._catalog.body(skill))

    async def _import_tree(self, root: str, slug: str | None) -> SkillImportResult:
        files = self._catalog.files
        scan = files.scan(root)
        if not scan.found:
            raise ValidationError(
                f"no {SKILL_MD} in the source or in any folder below it",
                details={"field": "source"},
            )
        skipped = [
            SkippedImportEntry(path=path, reason=_LINK_NOT_FOLLOWED) for path in scan.skipped
        ]
        imported = []
        for chosen, found in await self._plan(scan.found, slug):
            skipped += [
                SkippedImportEntry(path=posixpath.join(found.path, path), reason=_NOT_COPIED)
                for path in files.copy_in(chosen, found.folder)
            ]
            try:
                await self._catalog.sync_folder(chosen)
            except BaseException:
                # Moving the copy aside is the only removal the store offers.
                files.delete_folder(chosen)
                raise
            imported.append(await self.get(chosen))
        return SkillImportResult(skills=imported, skipped=skipped)

    async def _plan(
        self, found: list[FoundDefinition], slug: str | None
    ) -> list[tuple[str, FoundDefinition]]:
        """Each skill's slug, once every document is valid and every slug free."""
        if slug is not None and len(found) > 1:
            raise ValidationError(
                f"the source holds {len(found)} skills; a skill id can only be chosen for one",
                details={"field": "slug"},
            )
        slugs = [validate_slug(slug)] if slug else [_folder_slug(item.folder) for item in found]
        for chosen, item in zip(slugs, found, strict=True):
            self._catalog.check_document(chosen, item.document)
        clashes = sorted(
            {chosen for chosen in slugs if slugs.count(chosen) > 1}
            | {chosen for chosen in slugs if await self._catalog.slug_in_use(chosen)}
        )
        if clashes:
            raise ConflictError(
                f"skill id already taken: {', '.join(clashes)}; "
                "import a single skill and choose another id",
                details={"slugs": clashes},
            )
        return list(zip(slugs, found, strict=True))


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
