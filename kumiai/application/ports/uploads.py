"""The port for chat attachments: staging uploads and filing them into a working folder.

An upload is staged per session first (the user may still remove it), then committed
into the session's working folder, where the agent and the file viewer both find it.
The adapter lives in ``kumiai.infrastructure.filesystem.uploads``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True, slots=True)
class StagedUpload:
    """A staged file. ``id`` is URL-safe; ``staged_at`` is timezone-aware UTC."""

    id: str
    name: str
    size: int
    staged_at: datetime


@dataclass(frozen=True, slots=True)
class FiledUpload:
    """A committed file: its final name and absolute path inside the working folder."""

    name: str
    path: str
    size: int


class UploadStore(Protocol):
    def stage(self, session_id: UUID, name: str, data: bytes) -> StagedUpload:
        """Keep ``data`` under a new id; ``name`` is a plain file name, checked by the caller."""
        ...

    def get(self, session_id: UUID, upload_id: str) -> StagedUpload | None:
        """The staged upload, or None when the id is unknown (or malformed)."""
        ...

    def discard(self, session_id: UUID, upload_id: str) -> None:
        """Remove a staged upload; unknown ids are ignored."""
        ...

    def discard_staged_before(self, session_id: UUID, cutoff: datetime) -> None:
        """Remove the session's uploads staged before ``cutoff``."""
        ...

    def file_into(self, session_id: UUID, upload_id: str, root: str, folder: str) -> FiledUpload:
        """Move a staged upload into ``folder`` (relative to ``root``, created as needed).

        A name already taken there gets ``_1``, ``_2``, ... before its extension.
        ``NotFoundError`` when the upload is gone.
        """
        ...

    def locate(self, root: str, path: str) -> str:
        """The absolute path of an existing file given relative to ``root`` or absolute
        inside it; ``PathNotAllowedError`` if it leads outside, ``NotFoundError`` if absent."""
        ...
