"""Ports for the files that back characters, skills and projects.

The application layer reads and writes definition folders and project folders only
through these protocols; the adapters live in ``kumiai.infrastructure.filesystem``.
Every ``rel`` argument is a ``/``-separated path relative to the folder in question;
adapters reject anything that would leave that folder with ``PathNotAllowedError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file or directory in a flat, recursive folder listing.

    ``path`` is relative to the listed folder, ``/``-separated, with no leading slash.
    ``size`` is in bytes and is 0 for directories. ``modified_at`` is timezone-aware UTC.
    """

    path: str
    name: str
    size: int
    is_directory: bool
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class FoundDefinition:
    """A folder outside the store that holds a main document, ready to be copied in."""

    folder: str  # absolute path
    path: str  # relative to the scanned folder, '/'-separated; '' for that folder itself
    document: str  # the main document's text


@dataclass(frozen=True, slots=True)
class DefinitionScan:
    """The definition folders at or below a folder, and the links the scan passed by.

    ``skipped`` paths are relative to the scanned folder, ``/``-separated.
    """

    found: list[FoundDefinition]
    skipped: list[str]


class DefinitionFiles(Protocol):
    """A store with one folder per definition (a character or a skill), keyed by slug.

    Each folder holds a main document (``agent.md`` or ``SKILL.md``) plus any extra
    files. Operations on a folder that does not exist raise ``NotFoundError``, except
    ``write_main``, which creates it.
    """

    def folder(self, slug: str) -> str:
        """Return the absolute path of the definition's folder (it may not exist yet)."""
        ...

    def exists(self, slug: str) -> bool:
        """Tell whether the definition's folder exists."""
        ...

    def read_main(self, slug: str) -> str:
        """Return the main document's text."""
        ...

    def write_main(self, slug: str, text: str) -> None:
        """Write the main document atomically, creating the folder when needed."""
        ...

    def list_files(self, slug: str) -> list[FileEntry]:
        """List the folder flat and recursively, directories included."""
        ...

    def read_file(self, slug: str, rel: str) -> bytes:
        """Return a file's bytes; ``PayloadTooLargeError`` above the read cap."""
        ...

    def write_file(self, slug: str, rel: str, data: bytes) -> None:
        """Write or create a file atomically, creating missing parent directories."""
        ...

    def delete_file(self, slug: str, rel: str) -> None:
        """Delete a file or directory; deleting the main document is a ``ValidationError``."""
        ...

    def rename_file(self, slug: str, old: str, new: str) -> None:
        """Move a file or directory within the folder; the target must not exist."""
        ...

    def delete_folder(self, slug: str) -> str:
        """Soft-delete: rename the folder to ``<slug>.deleted`` and return its new path."""
        ...

    def scan(self, source: str) -> DefinitionScan:
        """The folders at or below the absolute path ``source`` holding the main document.

        ``source`` itself when it holds one; otherwise every such folder below it,
        without looking inside a found folder. Symbolic links are not followed but
        reported; a main document that is a link does not count. ``NotFoundError`` if
        ``source`` is not a folder, ``ValidationError`` if it holds the store itself.
        """
        ...

    def copy_in(self, slug: str, source: str) -> list[str]:
        """Copy the folder at the absolute path ``source`` in as the slug's folder.

        Symbolic links and special files are left behind, since they could reach
        outside ``source``; their paths (relative to ``source``) are returned.
        ``source`` must hold the main document (``ValidationError``; ``NotFoundError``
        if it is not a folder). ``ConflictError`` if the slug's folder exists, and
        ``PayloadTooLargeError`` for a source above the store's size cap.
        """
        ...

    def list_slugs(self) -> list[str]:
        """Return the slugs of live (not soft-deleted) folders, sorted."""
        ...

    def library_exists(self) -> bool:
        """Whether the folder holding all definitions exists at all."""
        ...


class ProjectFiles(Protocol):
    """Files inside project folders, addressed by the project's absolute ``path``."""

    def create_project_dir(self, path: str) -> None:
        """Create the folder and its parents; ``ValidationError`` if that is impossible."""
        ...

    def write_project_md(self, path: str, name: str, description: str) -> bool:
        """Create ``PROJECT.md``; return False when one exists already and was kept."""
        ...

    def list_files(self, path: str) -> list[FileEntry]:
        """List the project folder flat and recursively, directories included."""
        ...

    def read_file(self, path: str, rel: str) -> bytes:
        """Return a file's bytes; ``PayloadTooLargeError`` above the read cap."""
        ...

    def write_file(self, path: str, rel: str, data: bytes) -> None:
        """Write or create a file atomically, creating missing parent directories."""
        ...

    def delete_file(self, path: str, rel: str) -> None:
        """Delete a file or directory inside the project folder."""
        ...


class TextSource(Protocol):
    """One optional text file, such as a settings file the user may not have made."""

    def read(self) -> str | None:
        """The file's text, or None when it does not exist.

        Raises ``ValidationError`` when the file exists but cannot be read as UTF-8.
        """
        ...


class TextFile(TextSource, Protocol):
    """A settings file KumiAI also writes, such as its MCP server list."""

    def write(self, text: str) -> None:
        """Replace the file atomically; a new file is readable by its owner only."""
        ...
