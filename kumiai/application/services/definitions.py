"""What characters and skills share: a folder on disk, indexed by a database row.

The folder's main document (``agent.md`` or ``SKILL.md``) is the source of truth;
the row indexes its front matter. :class:`DefinitionCatalog` keeps the two in step
for one kind of definition:

- every change writes the document before committing the row, and puts the old
  document back (or moves a new folder aside) when the commit fails;
- ``reindex`` brings the rows in line with folders added, edited or removed by hand.
"""

from __future__ import annotations

import itertools
import os
import posixpath
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import Enum, auto
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from kumiai.application.dtos.definitions import DefinitionUpdate, NewDefinition
from kumiai.application.dtos.files import (
    FileContent,
    FileEntryView,
    FileWrite,
    SkippedFolder,
    SyncCounts,
)
from kumiai.application.ports.documents import DefinitionDocument, DocumentCodec
from kumiai.application.ports.files import DefinitionFiles
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import record_activity, utcnow
from kumiai.core.exceptions import (
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    ValidationError,
)
from kumiai.domain.entities import Definition
from kumiai.domain.repositories import DefinitionFilter, DefinitionRepository, Page, PageRequest
from kumiai.domain.value_objects import SLUG_MAX_LENGTH, EventType, slugify, validate_slug

D = TypeVar("D", bound=Definition)
V = TypeVar("V")
W = TypeVar("W")


# Checks a new or changed definition against the other rows, given its field values
# from before the change (empty for a new one); raises to refuse the change.
Rule = Callable[[UnitOfWork, D, Mapping[str, Any]], Awaitable[None]]


async def no_rule(uow: UnitOfWork, definition: Definition, before: Mapping[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class DefinitionEvents:
    """The activity a kind records: ``<label>_created``, ``_updated`` and ``_deleted``."""

    created: EventType
    updated: EventType
    deleted: EventType

    @classmethod
    def of(cls, label: str) -> DefinitionEvents:
        return cls(
            *(EventType(f"{label}_{change}") for change in ("created", "updated", "deleted"))
        )


@dataclass(frozen=True)
class DefinitionKind(Generic[D]):
    """Everything that differs between characters and skills, besides their files."""

    entity: type[D]
    main_document: str
    repository: Callable[[UnitOfWork], DefinitionRepository[D]]
    # What the row's ``file_path`` names: the main document, or the folder holding it.
    file_path: Literal["document", "folder"]
    check: Rule[D] = no_rule

    @property
    def label(self) -> str:
        """``character``, ``skill``: names the kind in errors and activity."""
        return self.entity.label

    @property
    def events(self) -> DefinitionEvents:
        return DefinitionEvents.of(self.label)


class _Outcome(Enum):
    ADDED = auto()
    UPDATED = auto()
    UNCHANGED = auto()


# Problems with one folder that make a re-index skip it rather than stop.
_FOLDER_PROBLEMS = (ValidationError, ConflictError, NotFoundError, PayloadTooLargeError)


class DefinitionCatalog(Generic[D]):
    """The use cases of one kind of definition, each in one unit of work.

    Entities never leave their unit of work: the methods that produce one take a
    ``view`` and return what it makes of the entity while the session is open.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        kind: DefinitionKind[D],
        files: DefinitionFiles,
        codec: DocumentCodec,
    ) -> None:
        self._uow = uow
        self._kind = kind
        self._files = files
        self._codec = codec

    async def page(
        self, request: PageRequest, filters: DefinitionFilter, view: Callable[[D], V]
    ) -> Page[V]:
        async with self._uow(read_only=True) as uow:
            found = await self._kind.repository(uow).list_page(request, filters)
            return Page(
                items=[view(definition) for definition in found.items],
                next_cursor=found.next_cursor,
                total=found.total,
                limit=found.limit,
            )

    async def get(self, ref: str, view: Callable[[D], V]) -> V:
        async with self._uow(read_only=True) as uow:
            return view(await self.find(uow, ref))

    async def all(self, view: Callable[[D], V]) -> list[V]:
        """Every live definition, oldest first (the v1 lists are not paginated)."""
        async with self._uow(read_only=True) as uow:
            found = await self._kind.repository(uow).list_live()
            return [view(definition) for definition in found]

    async def slug_of(self, ref: str) -> str:
        return await self.get(ref, _slug)

    @property
    def files(self) -> DefinitionFiles:
        return self._files

    def is_main_document(self, path: str) -> bool:
        return posixpath.normpath(path) == self._kind.main_document

    async def find(self, uow: UnitOfWork, ref: str) -> D:
        """The live definition whose id or slug is ``ref``; ``NotFoundError`` if none.

        A ref that parses as a UUID is tried as an id first and then as a slug, since
        a slug may itself look like a UUID.
        """
        repository = self._kind.repository(uow)
        found = None
        if (definition_id := _as_uuid(ref)) is not None:
            found = await repository.get(definition_id)
        if found is None:
            found = await repository.get_by_slug(ref)
        if found is None:
            raise NotFoundError(self._kind.label, ref)
        return found

    def read_document(self, definition: D) -> str:
        return self._files.read_main(definition.slug)

    def body(self, definition: D) -> str:
        """The main document's Markdown body, without the front matter."""
        return self._parse(definition.slug, self.read_document(definition)).body

    async def create(
        self, fields: Mapping[str, Any], view: Callable[[D], V], *, slug: str | None, body: str
    ) -> V:
        async with self._uow() as uow:
            chosen = await self._allocate_slug(uow, fields["name"], slug)
            definition = self._new(chosen, fields)
            await self._kind.check(uow, definition, {})
            await self._kind.repository(uow).add(definition)
            await self._record(uow, self._kind.events.created, definition)
            document = DefinitionDocument(fields=definition.values(), body=body)
            await self._commit_with_document(uow, chosen, self._codec.render(document), None)
            return view(definition)

    async def update(
        self,
        ref: str,
        changes: Mapping[str, Any],
        view: Callable[[D], V],
        *,
        body: str | None = None,
    ) -> V:
        """Change the row and the front matter; the body is kept unless given."""
        async with self._uow() as uow:
            definition = await self.find(uow, ref)
            previous, document = self._current_document(definition)
            before = definition.values()
            definition.update(**changes)
            await self._kind.check(uow, definition, before)
            changed = sorted([*changes, *(["body"] if body is not None else [])])
            await self._record(uow, self._kind.events.updated, definition, fields=changed)
            document = replace(
                document,
                fields=definition.values(),
                body=document.body if body is None else body,
            )
            text = self._codec.render(document)
            await self._commit_with_document(uow, definition.slug, text, previous)
            return view(definition)

    async def replace_document(self, ref: str, text: str, view: Callable[[D], V]) -> V:
        """Store ``text`` as the main document and index its front matter.

        A malformed header or invalid value is a ``ValidationError``, and nothing is written.
        """
        async with self._uow() as uow:
            definition = await self.find(uow, ref)
            document = self._parse(definition.slug, text)
            previous, _ = self._current_document(definition)
            before = definition.values()
            definition.update(**document.fields)
            await self._kind.check(uow, definition, before)
            await self._record(uow, self._kind.events.updated, definition, fields=["document"])
            await self._commit_with_document(uow, definition.slug, text, previous)
            return view(definition)

    async def delete(self, ref: str) -> None:
        """Soft-delete the row and move the folder aside to ``<slug>.deleted``.

        The folder moves first: if the commit then fails, the row outlives its folder
        and the next re-index finishes the deletion.
        """
        async with self._uow() as uow:
            definition = await self.find(uow, ref)
            definition.soft_delete(utcnow())
            await self._record(uow, self._kind.events.deleted, definition)
            if self._files.exists(definition.slug):
                self._files.delete_folder(definition.slug)
            await uow.commit()

    async def change_files(self, ref: str, change: Callable[[str], None], **details: Any) -> None:
        """Run ``change(slug)`` on the definition's extra files and log it as an update."""
        async with self._uow() as uow:
            definition = await self.find(uow, ref)
            change(definition.slug)
            await self._record(uow, self._kind.events.updated, definition, **details)
            await uow.commit()

    async def sync_folder(self, slug: str) -> None:
        """Index one folder from its main document (after a hand edit or an import)."""
        await self._sync_folder(slug)

    def check_document(self, slug: str, text: str) -> None:
        """Raise the ``ValidationError`` that indexing ``text`` as a new ``slug`` would."""
        fields = self._indexed_fields(slug, self._parse(slug, text))
        self._new(slug, fields)

    async def slug_in_use(self, slug: str) -> bool:
        """Whether a row (deleted ones too) or a folder holds ``slug``."""
        async with self._uow() as uow:
            return await self._slug_in_use(uow, slug)

    async def reindex(self) -> SyncCounts:
        """Index folders added or edited by hand; soft-delete rows whose folder is gone.

        Each folder is indexed in its own unit of work, so one bad file is reported in
        ``skipped`` without holding back the others.
        """
        counts = SyncCounts()
        for slug in self._files.list_slugs():
            try:
                outcome = await self._sync_folder(slug)
            except _FOLDER_PROBLEMS as problem:
                counts.skipped.append(SkippedFolder(slug=slug, reason=problem.message))
                continue
            counts.added += outcome is _Outcome.ADDED
            counts.updated += outcome is _Outcome.UPDATED
        # A missing library (a new KUMIAI_HOME over an old database) is not a reason to
        # delete every definition; only folders gone from an existing library are.
        if self._files.library_exists():
            counts.removed = await self._remove_rows_without_folder()
        return counts

    async def _sync_folder(self, slug: str) -> _Outcome:
        async with self._uow() as uow:
            document = self._parse(slug, self._files.read_main(slug))
            fields = self._indexed_fields(slug, document)
            existing = await self._kind.repository(uow).get_by_slug(slug, include_deleted=True)
            if existing is None:
                definition = self._new(slug, fields)
                await self._kind.check(uow, definition, {})
                await self._kind.repository(uow).add(definition)
                event, outcome = self._kind.events.created, _Outcome.ADDED
            elif existing.is_deleted:
                raise ConflictError(f"a deleted {self._kind.label} still holds the slug '{slug}'")
            else:
                definition, before = existing, existing.values()
                definition.update(**fields)
                if definition.values() == before:
                    return _Outcome.UNCHANGED
                await self._kind.check(uow, definition, before)
                event, outcome = self._kind.events.updated, _Outcome.UPDATED
            await self._record(uow, event, definition, source="reindex")
            await uow.commit()
            return outcome

    async def _remove_rows_without_folder(self) -> int:
        async with self._uow() as uow:
            # Asking the store per row, rather than using the listing taken earlier,
            # spares a definition created through the API while the re-index ran.
            missing = [
                definition
                for definition in await self._kind.repository(uow).list_live()
                if not self._files.exists(definition.slug)
            ]
            now = utcnow()
            for definition in missing:
                definition.soft_delete(now)
                await self._record(uow, self._kind.events.deleted, definition, source="reindex")
            await uow.commit()
            return len(missing)

    async def _allocate_slug(self, uow: UnitOfWork, name: str, requested: str | None) -> str:
        """The requested slug if free (else 409), or the first free one derived from the name.

        Deleted rows and folders keep their slug, so a slug is never reused.
        """
        if requested is not None:
            slug = validate_slug(requested)
            if await self._slug_in_use(uow, slug):
                raise ConflictError(
                    f"{self._kind.label} slug '{slug}' is taken", details={"slug": slug}
                )
            return slug
        candidates = _slug_candidates(slugify(name))
        slug = next(candidates)
        while await self._slug_in_use(uow, slug):
            slug = next(candidates)
        return slug

    async def _slug_in_use(self, uow: UnitOfWork, slug: str) -> bool:
        return await self._kind.repository(uow).slug_taken(slug) or self._files.exists(slug)

    def _current_document(self, definition: D) -> tuple[str | None, DefinitionDocument]:
        """The main document's text and parts; a missing file is rebuilt from the row."""
        try:
            text = self.read_document(definition)
        except NotFoundError:
            return None, DefinitionDocument(fields=definition.values())
        return text, self._parse(definition.slug, text)

    async def _commit_with_document(
        self, uow: UnitOfWork, slug: str, text: str, previous: str | None
    ) -> None:
        """Write the main document, then commit; if the commit fails, undo the write.

        A folder that did not exist before (``previous`` is None) is moved aside, the
        only removal the store offers.
        """
        files = self._files
        files.write_main(slug, text)
        try:
            await uow.commit()
        except BaseException:
            if previous is None:
                files.delete_folder(slug)
            else:
                files.write_main(slug, previous)
            raise

    @staticmethod
    def _indexed_fields(slug: str, document: DefinitionDocument) -> dict[str, Any]:
        # A hand-written file without a name is named after its folder.
        return {**document.fields, "name": document.fields.get("name") or slug}

    def _new(self, slug: str, fields: Mapping[str, Any]) -> D:
        """A new, validated definition in the folder named ``slug``."""
        folder = self._files.folder(slug)
        if self._kind.file_path == "document":
            folder = os.path.join(folder, self._kind.main_document)
        return self._kind.entity.create(slug=slug, file_path=folder, **fields)

    def _parse(self, slug: str, text: str) -> DefinitionDocument:
        return self._codec.parse(text, source=f"{slug}/{self._kind.main_document}")

    async def _record(
        self, uow: UnitOfWork, event: EventType, definition: D, **details: Any
    ) -> None:
        await record_activity(
            uow,
            event,
            **{f"{self._kind.label}_id": definition.id},
            slug=definition.slug,
            name=definition.name,
            **details,
        )


class DefinitionService(Generic[D, V, W]):
    """The use cases characters and skills share, each over its folder and row.

    ``listed`` makes what a listing shows of a definition, ``detail`` what reading,
    creating or changing one answers. Paths of a definition's files are relative to
    its folder; the store refuses any that leads out of it. Writing the main document
    goes through the catalog, so the row is re-indexed from its front matter (a
    malformed header is a ``ValidationError``).
    """

    def __init__(
        self, catalog: DefinitionCatalog[D], *, listed: Callable[[D], V], detail: Callable[[D], W]
    ) -> None:
        self._catalog = catalog
        self._listed = listed
        self._detail = detail

    async def list_page(self, page: PageRequest, filters: DefinitionFilter) -> Page[V]:
        return await self._catalog.page(page, filters, self._listed)

    async def list_all(self) -> list[V]:
        """Every live definition, oldest first."""
        return await self._catalog.all(self._listed)

    async def get(self, ref: str) -> W:
        """The live definition whose id or slug is ``ref``."""
        return await self._catalog.get(ref, self._detail)

    async def create(self, data: NewDefinition) -> W:
        """Write the main document and the row together; the slug comes from the name
        if not given."""
        return await self._catalog.create(
            data.fields(), self._detail, slug=data.slug, body=data.content
        )

    async def update(self, ref: str, changes: DefinitionUpdate) -> W:
        """Change the row and the main document's front matter; its body changes only
        when the command carries one."""
        return await self._catalog.update(ref, changes.changes(), self._detail, body=changes.body())

    async def delete(self, ref: str) -> None:
        await self._catalog.delete(ref)

    async def reindex(self) -> SyncCounts:
        return await self._catalog.reindex()

    async def index_folder(self, slug: str) -> None:
        """Index one folder after its files were written outside this service."""
        await self._catalog.sync_folder(slug)

    async def list_files(self, ref: str) -> list[FileEntryView]:
        """Every file and folder in the definition's folder, as one flat list."""
        slug = await self._catalog.slug_of(ref)
        return [FileEntryView.of(entry) for entry in self._catalog.files.list_files(slug)]

    async def read_file(self, ref: str, path: str) -> FileContent:
        slug = await self._catalog.slug_of(ref)
        return FileContent.of(path, self._catalog.files.read_file(slug, path))

    async def write_file(self, ref: str, path: str, data: FileWrite) -> FileContent:
        """Write a file (with any missing folders); the main document re-indexes the row."""
        if self._catalog.is_main_document(path):
            await self._catalog.replace_document(ref, _utf8(data.data, path), _slug)
        else:
            await self._catalog.change_files(
                ref,
                lambda slug: self._catalog.files.write_file(slug, path, data.data),
                written=path,
            )
        return FileContent.of(path, data.data)

    async def delete_file(self, ref: str, path: str) -> None:
        """Delete a file or folder; the main document cannot be deleted."""
        await self._catalog.change_files(
            ref, lambda slug: self._catalog.files.delete_file(slug, path), deleted=path
        )

    async def rename_file(self, ref: str, old: str, new: str) -> None:
        """Move a file or folder within the definition's folder; the target must be free."""
        await self._catalog.change_files(
            ref,
            lambda slug: self._catalog.files.rename_file(slug, old, new),
            renamed={"from": old, "to": new},
        )


def _slug(definition: Definition) -> str:
    return definition.slug


def _utf8(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{path} must be UTF-8 text", details={"path": path}) from None


def _as_uuid(ref: str) -> UUID | None:
    try:
        return UUID(ref)
    except ValueError:
        return None


def _slug_candidates(base: str) -> Iterator[str]:
    """``base``, then ``base-2``, ``base-3``, ... each cut to the slug length limit."""
    yield base
    for number in itertools.count(2):
        suffix = f"-{number}"
        yield f"{base[: SLUG_MAX_LENGTH - len(suffix)].rstrip('-')}{suffix}"
