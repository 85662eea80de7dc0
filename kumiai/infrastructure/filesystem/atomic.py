"""Atomic file writes: readers see the old content or the new, never a partial file."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating missing parent directories.

    The data goes to a temporary file in the same directory, is flushed and fsynced,
    then moved over ``path`` with ``os.replace``. An existing file keeps its
    permission bits. The temporary file is removed if anything fails.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _existing_mode(path)
    temp = _temp_path(path)
    # O_EXCL guarantees we never write through a pre-planted file or symlink; mode
    # 0o666 lets the umask apply, as it does for a plain open().
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _existing_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None


def _temp_path(path: Path) -> Path:
    # Keep the stem short so long file names do not push the temp name past NAME_MAX.
    return path.with_name(f".{path.name[:64]}.{secrets.token_hex(6)}.tmp")


def _fsync_directory(directory: Path) -> None:
    # Persists the rename itself; some filesystems refuse to open or fsync a
    # directory, and the write has already succeeded, so that is not an error.
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
