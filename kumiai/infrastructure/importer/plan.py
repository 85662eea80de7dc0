"""What stage 2 hands to stage 3: v2 rows ready for Core inserts, plus folders to write.

Row dictionaries use the column names of ``kumiai.infrastructure.database.tables``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from kumiai.application.ports.documents import DefinitionDocument

Row = dict[str, Any]


@dataclass(slots=True)
class DefinitionFolder:
    """A character or skill folder to create under the v2 home.

    ``folder`` is the slug, or ``<slug>.deleted`` for a soft-deleted definition. The
    main document is rendered from ``document`` at write time, because the writer may
    still rename a character whose name clashes with one already in the database.
    """

    kind: str  # "character" or "skill"
    slug: str
    folder: str
    document: DefinitionDocument
    extra_files: dict[str, bytes] = field(default_factory=dict)
    # The v1 folder it came from (None for placeholders). When the v1 and v2 homes are
    # the same folder, v1's skills/<id> *is* the v2 folder and must not be rewritten.
    source: Path | None = None


@dataclass(slots=True)
class ImportPlan:
    characters: list[Row] = field(default_factory=list)
    skills: list[Row] = field(default_factory=list)
    projects: list[Row] = field(default_factory=list)
    tasks: list[Row] = field(default_factory=list)
    # Applied after the sessions exist: the projects -> sessions FK is not deferrable.
    pm_links: dict[UUID, tuple[UUID, UUID]] = field(default_factory=dict)
    sessions: list[Row] = field(default_factory=list)
    messages: list[Row] = field(default_factory=list)
    activity_logs: list[Row] = field(default_factory=list)
    profile: Row | None = None
    folders: list[DefinitionFolder] = field(default_factory=list)
    # The source side of validation: each session's v1 message contents in v1 order,
    # taken from the source rows (not from ``messages``), keyed by v2 session id.
    expected: dict[UUID, list[str]] = field(default_factory=dict)
