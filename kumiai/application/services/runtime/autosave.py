"""Assistants that write into the skill or character library keep the index current.

The skill and agent assistants work inside the libraries themselves. When one of them
writes or edits a file there, the definition it belongs to is re-indexed at once and a
``definition_saved`` event tells the open editor to reload it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Protocol

from kumiai.application.ports.agent_runtime import ToolCall, ToolOutcome
from kumiai.application.ports.events import EventPublisher
from kumiai.application.services.working_directories import WorkingDirectories
from kumiai.core.exceptions import KumiAIError
from kumiai.core.logging import get_logger
from kumiai.domain.entities import Session
from kumiai.domain.value_objects import SessionType

logger = get_logger(__name__)

WRITING_TOOLS = frozenset({"Write", "Edit"})


class FolderIndexer(Protocol):
    async def index_folder(self, slug: str) -> None: ...


class DefinitionAutoSave:
    def __init__(
        self,
        libraries: Mapping[SessionType, tuple[str, FolderIndexer]],
        directories: WorkingDirectories,
        events: EventPublisher,
    ) -> None:
        self._libraries = libraries
        self._directories = directories
        self._events = events

    async def after_tool(self, session: Session, call: ToolCall, outcome: ToolOutcome) -> None:
        library = self._libraries.get(session.session_type)
        if library is None or outcome.is_error or call.name not in WRITING_TOOLS:
            return
        kind, indexer = library
        slug = self._definition_of(session, call)
        if slug is None:
            return
        try:
            await indexer.index_folder(slug)
        except KumiAIError as error:
            # A half-written definition (say, broken front matter) is indexed next time.
            logger.warning("auto_save_skipped", kind=kind, slug=slug, reason=error.message)
            return
        self._events.publish(session.id, "definition_saved", kind=kind, slug=slug)

    def _definition_of(self, session: Session, call: ToolCall) -> str | None:
        """The folder (slug) directly under the library that the written file is in."""
        written = call.input.get("file_path")
        if not isinstance(written, str) or not written:
            return None
        root = PurePath(self._directories.for_session(session, None))
        path = PurePath(written)
        relative = (
            path.relative_to(root) if path.is_absolute() and path.is_relative_to(root) else path
        )
        if path.is_absolute() and not path.is_relative_to(root):
            return None
        parts = relative.parts
        return parts[0] if len(parts) > 1 else None
