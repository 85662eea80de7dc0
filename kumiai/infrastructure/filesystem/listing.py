"""Flat, recursive folder listings for the file trees of characters, skills and projects."""

from __future__ import annotations

import logging
import os
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from kumiai.application.ports.files import FileEntry

logger = logging.getLogger(__name__)

# Version-control internals and bytecode caches are noise in a file tree and can be
# huge; everything else, hidden files included, is listed.
SKIPPED_DIRECTORIES = frozenset({".git", "__pycache__"})


def list_tree(root: Path, *, max_entries: int = 5000) -> list[FileEntry]:
    """List everything under ``root`` as one flat list, directories included.

    The walk is breadth-first, so if the folder holds more than ``max_entries``
    entries the listing is cut short with the shallow levels complete (and a warning
    is logged). Symlinks that resolve outside ``root`` and broken symlinks are left
    out; symlinked directories inside ``root`` are listed but not descended into, so
    a link to an ancestor cannot loop. A missing ``root`` lists as empty.
    """
    base = root.resolve()
    entries: list[FileEntry] = []
    pending: deque[tuple[Path, str]] = deque([(base, "")])
    while pending:
        directory, prefix = pending.popleft()
        for item in _sorted_children(directory):
            entry = _entry(base, item, prefix)
            if entry is None:
                continue
            if len(entries) == max_entries:
                logger.warning("listing of %s cut at %d entries", root, max_entries)
                return entries
            entries.append(entry)
            if entry.is_directory and not item.is_symlink():
                pending.append((Path(item.path), f"{entry.path}/"))
    return entries


def _sorted_children(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as children:
            return sorted(children, key=lambda child: child.name)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []


def _entry(base: Path, item: os.DirEntry[str], prefix: str) -> FileEntry | None:
    if item.name in SKIPPED_DIRECTORIES and item.is_dir(follow_symlinks=False):
        return None
    if item.is_symlink() and not _points_inside(base, Path(item.path)):
        return None
    try:
        info = item.stat()  # follows an in-root symlink to describe its target
    except OSError:
        return None  # broken symlink, or the entry vanished mid-walk
    is_directory = item.is_dir()
    return FileEntry(
        path=f"{prefix}{item.name}",
        name=item.name,
        size=0 if is_directory else info.st_size,
        is_directory=is_directory,
        modified_at=datetime.fromtimestamp(info.st_mtime, tz=UTC),
    )


def _points_inside(base: Path, link: Path) -> bool:
    try:
        return link.resolve(strict=False).is_relative_to(base)
    except (OSError, RuntimeError):  # RuntimeError: symlink loop (Python 3.11)
        return False
