"""Stage 2, part 1: agent folders become characters, skill folders become skills.

The folder name is the v1 id and becomes the slug (made valid when it is not).
``<id>.deleted`` folders become soft-deleted definitions. Characters get new UUIDs;
re-runs find them again by slug. Agents that sessions or projects name but that have no
folder get a soft-deleted placeholder character, so history keeps its author.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from kumiai.application.ports.documents import DefinitionDocument
from kumiai.core.exceptions import ValidationError
from kumiai.domain.value_objects.cli_backend import CliBackend
from kumiai.domain.value_objects.identifiers import (
    HEX_COLOR_PATTERN,
    NAME_MAX_LENGTH,
    SLUG_PATTERN,
    slugify,
)
from kumiai.infrastructure.filesystem.documents import (
    AGENT_FORMAT,
    SKILL_FORMAT,
    V1_AGENT_FORMAT,
)
from kumiai.infrastructure.filesystem.home import HomeLayout
from kumiai.infrastructure.importer.entries import Action
from kumiai.infrastructure.importer.legacy import clean_text, humanize
from kumiai.infrastructure.importer.plan import DefinitionFolder, ImportPlan, Row
from kumiai.infrastructure.importer.report import ImportReport
from kumiai.infrastructure.importer.sqlite_export import ExportedFolder

DEFAULT_COLOR = "#4A90E2"
_DELETED_SUFFIX = re.compile(r"\.deleted(?:\.\d+)?$")


@dataclass(slots=True)
class DefinitionIndex:
    """What the rest of the transform needs from the definitions."""

    # v1 agent id -> character id; live folders win over soft-deleted ones.
    characters: dict[str, uuid.UUID] = field(default_factory=dict)
    skill_slugs: dict[str, str] = field(default_factory=dict)  # v1 skill id -> slug
    slugs: dict[str, set[str]] = field(default_factory=lambda: {"character": set(), "skill": set()})
    live_names: set[str] = field(default_factory=set)


def split_deleted(folder: str) -> tuple[str, bool]:
    """``seo-audit.deleted`` -> (``seo-audit``, True); ``qa`` -> (``qa``, False)."""
    match = _DELETED_SUFFIX.search(folder)
    return (folder[: match.start()], True) if match else (folder, False)


def _live_first(folders: list[ExportedFolder]) -> list[ExportedFolder]:
    # A live folder and a soft-deleted one may share an id; the live one keeps the slug.
    return sorted(folders, key=lambda folder: (split_deleted(folder.name)[1], folder.name))


class DefinitionPlanner:
    """Turns exported folders into character and skill rows plus folders to write."""

    def __init__(
        self,
        plan: ImportPlan,
        report: ImportReport,
        *,
        layout: HomeLayout,
        source_home: Path,
        now: datetime,
    ) -> None:
        self._plan = plan
        self._report = report
        self._layout = layout
        self._source_home = source_home
        self._now = now
        self.index = DefinitionIndex()

    # ------------------------------------------------------------ skills

    def add_skills(self, folders: list[ExportedFolder]) -> None:
        # Skills first: characters list skill slugs, which may have been repaired.
        for folder in _live_first(folders):
            self._add_skill(folder)

    def _add_skill(self, folder: ExportedFolder) -> None:
        v1_id, deleted = split_deleted(folder.name)
        self._report.counts["skills"].source += 1
        slug = self._unique_slug("skill", v1_id, "skills", folder.name)
        document = self._skill_document(folder, v1_id)
        self.index.skill_slugs.setdefault(v1_id, slug)
        directory = f"{slug}.deleted" if deleted else slug
        path = self._layout.skills_dir / directory
        self._plan.skills.append(self._row(slug, document, path, deleted))
        self._report.counts["skills"].planned += 1
        extra = self._extra_files(folder, SKILL_FORMAT.file_name)
        source = self._source_home / "skills" / folder.name
        self._plan.folders.append(
            DefinitionFolder("skill", slug, directory, document, extra, source)
        )

    def _skill_document(self, folder: ExportedFolder, v1_id: str) -> DefinitionDocument:
        text = self._main_text(folder, SKILL_FORMAT.file_name, "skills")
        document, warnings = SKILL_FORMAT.parse_lenient(
            text, source=f"skills/{folder.name}/{SKILL_FORMAT.file_name}"
        )
        self._report_warnings("skills", folder.name, warnings)
        fields = document.fields
        fields["name"] = self._name(fields["name"], v1_id, "skills", folder.name)
        fields["icon_color"] = self._color(fields["icon_color"], "skills", folder.name)
        fields["description"] = clean_text(fields["description"])
        return document

    # ------------------------------------------------------------ characters

    def add_characters(self, folders: list[ExportedFolder]) -> None:
        for folder in _live_first(folders):
            self._add_character(folder)

    def _add_character(self, folder: ExportedFolder) -> None:
        v1_id, deleted = split_deleted(folder.name)
        self._report.counts["characters"].source += 1
        slug = self._unique_slug("character", v1_id, "agents", folder.name)
        document = self._agent_document(folder, v1_id, deleted)
        character_id = self._add_character_row(slug, document, deleted)
        self.index.characters.setdefault(v1_id, character_id)
        extra = self._extra_files(folder, V1_AGENT_FORMAT.file_name)
        directory = f"{slug}.deleted" if deleted else slug
        source = self._source_home / "agents" / folder.name
        self._plan.folders.append(
            DefinitionFolder("character", slug, directory, document, extra, source)
        )

    def add_placeholder(self, v1_id: str, name_hint: str | None, referenced_by: str) -> uuid.UUID:
        """A soft-deleted character for an agent id that has no folder in the v1 home."""
        slug = self._unique_slug("character", v1_id, "agents", v1_id, report=False)
        name = self._name(name_hint or "", v1_id, "agents", v1_id, report=False)
        document = AGENT_FORMAT.new(
            name=name,
            body=(
                f"# {name}\n\nRecreated by the v1 import: sessions referred to the agent "
                f"'{v1_id}', whose folder was missing from the v1 home."
            ),
        )
        character_id = self._add_character_row(slug, document, deleted=True)
        self.index.characters[v1_id] = character_id
        self._report.counts["characters"].added += 1
        self._plan.folders.append(
            DefinitionFolder("character", slug, f"{slug}.deleted", document, {})
        )
        self._report.add(
            "agents",
            v1_id,
            Action.REPAIRED,
            f"referenced by {referenced_by} but has no folder: created a soft-deleted "
            "placeholder character",
            character_id=str(character_id),
            slug=slug,
        )
        return character_id

    def _add_character_row(
        self, slug: str, document: DefinitionDocument, deleted: bool
    ) -> uuid.UUID:
        directory = f"{slug}.deleted" if deleted else slug
        path = self._layout.characters_dir / directory / AGENT_FORMAT.file_name
        row = self._row(slug, document, path, deleted)
        self._plan.characters.append(row)
        self._report.counts["characters"].planned += 1
        character_id: uuid.UUID = row["id"]
        return character_id

    def _row(self, slug: str, document: DefinitionDocument, path: Path, deleted: bool) -> Row:
        """A character or skill row: the document's fields, and where and when it lives."""
        return {
            "id": uuid.uuid4(),
            "slug": slug,
            **document.fields,
            "file_path": str(path),
            "created_at": self._now,
            "updated_at": self._now,
            "deleted_at": self._now if deleted else None,
        }

    def _agent_document(
        self, folder: ExportedFolder, v1_id: str, deleted: bool
    ) -> DefinitionDocument:
        main = V1_AGENT_FORMAT.file_name
        text = self._main_text(folder, main, "agents")
        document, warnings = V1_AGENT_FORMAT.parse_lenient(
            text, source=f"agents/{folder.name}/{main}"
        )
        self._report_warnings("agents", folder.name, warnings)
        fields = document.fields
        name = self._name(fields["name"], v1_id, "agents", folder.name)
        if not deleted:
            name = self._unique_live_name(name, folder.name)
        fields["name"] = name
        fields["icon_color"] = self._color(fields["icon_color"], "agents", folder.name)
        fields["cli_backend"] = self._cli_backend(fields["cli_backend"], folder.name)
        fields["skills"] = self._skill_references(fields["skills"], folder.name)
        if fields["description"] is not None:
            fields["description"] = clean_text(fields["description"])
        return document

    def _skill_references(self, references: list[str], folder: str) -> list[str]:
        slugs: list[str] = []
        for reference in references:
            slug = self.index.skill_slugs.get(reference, reference)
            if SLUG_PATTERN.fullmatch(slug) is None:
                self._report.add(
                    "agents",
                    folder,
                    Action.REPAIRED,
                    f"dropped skill reference {reference!r}: not a valid skill id",
                )
                continue
            if reference not in self.index.skill_slugs:
                self._report.add(
                    "agents",
                    folder,
                    Action.KEPT,
                    f"skill {reference!r} has no folder in the v1 home; reference kept",
                )
            if slug not in slugs:
                slugs.append(slug)
        return slugs

    def _unique_live_name(self, name: str, folder: str) -> str:
        # v2 requires live character names to be unique.
        candidate, number = name, 2
        while candidate in self.index.live_names:
            candidate = f"{name} ({number})"
            number += 1
        if candidate != name:
            self._report.add(
                "agents",
                folder,
                Action.REPAIRED,
                f"name {name!r} is already used by another agent; renamed to {candidate!r}",
            )
        self.index.live_names.add(candidate)
        return candidate

    # ------------------------------------------------------------ shared helpers

    def _main_text(self, folder: ExportedFolder, document: str, table: str) -> str:
        main = folder.file(document)
        if main is None or main.error is not None:
            why = "is missing" if main is None else f"cannot be read ({main.error})"
            self._report.add(
                table,
                folder.name,
                Action.REPAIRED,
                f"{document} {why}: imported with default values and an empty body",
            )
            return ""
        if main.text is None:
            self._report.add(
                table,
                folder.name,
                Action.REPAIRED,
                f"{document} is not valid UTF-8; undecodable bytes became U+FFFD",
            )
            return (main.data() or b"").decode("utf-8", errors="replace")
        return main.text

    @staticmethod
    def _extra_files(folder: ExportedFolder, main: str) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        for item in folder.files:
            data = item.data()
            # Unreadable files (data None) were reported as skipped by the export stage.
            if item.path != main and data is not None:
                files[item.path] = data
        return files

    def _report_warnings(self, table: str, folder: str, warnings: list[str]) -> None:
        for warning in warnings:
            self._report.add(table, folder, Action.REPAIRED, f"front matter: {warning}")

    def _name(self, name: str, v1_id: str, table: str, folder: str, *, report: bool = True) -> str:
        cleaned = clean_text(name).strip()
        if not cleaned:
            cleaned = humanize(v1_id).strip() or v1_id
            if report:
                self._report.add(
                    table, folder, Action.REPAIRED, f"no name: named {cleaned!r} after the folder"
                )
        if len(cleaned) > NAME_MAX_LENGTH:
            cleaned = cleaned[:NAME_MAX_LENGTH].rstrip()
            if report:
                self._report.add(
                    table, folder, Action.REPAIRED, f"name cut to {NAME_MAX_LENGTH} characters"
                )
        return cleaned

    def _color(self, color: str, table: str, folder: str) -> str:
        if HEX_COLOR_PATTERN.fullmatch(color):
            return color
        self._report.add(
            table,
            folder,
            Action.REPAIRED,
            f"icon colour {color!r} is not #RRGGBB; using {DEFAULT_COLOR}",
        )
        return DEFAULT_COLOR

    def _cli_backend(self, value: str, folder: str) -> CliBackend:
        try:
            return CliBackend(value)
        except ValueError:
            self._report.add(
                "agents",
                folder,
                Action.REPAIRED,
                f"unknown cli_backend {value!r}: the agent runs on 'claude'",
            )
            return CliBackend.CLAUDE

    def _unique_slug(
        self, kind: str, v1_id: str, table: str, folder: str, *, report: bool = True
    ) -> str:
        base = _valid_slug(v1_id, kind)
        taken = self.index.slugs[kind]
        slug, number = base, 2
        while slug in taken:
            slug = f"{base[:60]}-{number}"
            number += 1
        taken.add(slug)
        if slug != v1_id and report:
            why = "is already taken" if base == v1_id else "is not usable as a v2 slug"
            self._report.add(
                table,
                folder,
                Action.REPAIRED,
                f"id {v1_id!r} {why}; the slug is {slug!r}",
                slug=slug,
            )
        return slug


def _valid_slug(v1_id: str, kind: str) -> str:
    if SLUG_PATTERN.fullmatch(v1_id):
        return v1_id
    try:
        return slugify(v1_id)
    except ValidationError:
        # Nothing ASCII to keep (e.g. a Japanese folder name): a stable hashed slug.
        digest = hashlib.sha256(v1_id.encode("utf-8")).hexdigest()[:8]
        return f"{'agent' if kind == 'character' else 'skill'}-{digest}"
