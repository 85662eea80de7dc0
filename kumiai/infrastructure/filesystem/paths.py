"""Confine user-supplied paths to a root folder.

Every path that arrives from a request, a tool call or a file on disk goes through
:func:`confine` before it touches the filesystem.
"""

from __future__ import annotations

import re
from pathlib import Path

from kumiai.core.exceptions import PathNotAllowedError

# "C:foo" is a relative name on POSIX but a drive path on Windows; refuse it everywhere
# so the same request means the same thing on every platform.
_DRIVE_PREFIX = re.compile(r"^[A-Za-z]:")
# NAME_MAX of Linux and macOS file systems: a longer segment fails with ENAMETOOLONG.
MAX_SEGMENT_BYTES = 255


def confine(root: Path, relative: str, *, allow_absolute: bool = False) -> Path:
    """Resolve ``relative`` against ``root`` and return it if it stays inside ``root``.

    Symlinks are resolved first, so ``..`` segments and links (on the file itself or
    on any parent directory) that lead outside ``root`` are refused. ``"."`` names
    the root itself. An absolute path is accepted only with ``allow_absolute`` and
    only when it resolves inside ``root``.

    Raises:
        PathNotAllowedError: the path is empty, malformed or escapes ``root``.
    """
    _reject_malformed(relative)
    base = _resolve(root, relative)
    candidate = Path(relative)
    if candidate.is_absolute() and not allow_absolute:
        raise _not_allowed("absolute paths are not allowed", relative)
    # Joining an absolute candidate yields the candidate itself, which is what we want.
    resolved = _resolve(base / candidate, relative)
    if not resolved.is_relative_to(base):
        raise _not_allowed("path leads outside its folder", relative)
    return resolved


def _reject_malformed(relative: str) -> None:
    if not relative or not relative.strip():
        raise _not_allowed("path is empty", relative)
    if "\x00" in relative:
        raise _not_allowed("path contains a NUL byte", relative)
    # Backslashes are separators on Windows and literal characters on POSIX; a client
    # that sends them means something we would misread, so refuse instead of guessing.
    if "\\" in relative:
        raise _not_allowed("use '/' as the path separator, not '\\'", relative)
    if _DRIVE_PREFIX.match(relative):
        raise _not_allowed("drive-letter paths are not allowed", relative)
    if any(
        len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES
        for segment in relative.split("/")
    ):
        raise _not_allowed(
            f"a file or folder name is longer than {MAX_SEGMENT_BYTES} bytes", relative
        )


def _resolve(path: Path, relative: str) -> Path:
    try:
        return path.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop (Python 3.11)
        raise _not_allowed(f"path cannot be resolved ({exc})", relative) from exc


def _not_allowed(reason: str, relative: str) -> PathNotAllowedError:
    return PathNotAllowedError(f"{reason}: {relative!r}", details={"path": relative})
