"""File tools with the names and input shapes of Claude Code's, so the web client renders
them: ``Read``, ``Write``, ``Edit``, ``Glob`` and ``Grep``.

Every path goes through :func:`~kumiai.infrastructure.filesystem.paths.confine`, so
``..``, absolute paths elsewhere and symlinks leading out of the working folder are
refused. ``.git`` internals are skipped by ``Glob`` and ``Grep``: they are large and
never what the model is looking for.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from kumiai.application.ports.agent_runtime import ToolSpec
from kumiai.application.ports.tools import ToolContext
from kumiai.infrastructure.claude.tools.base import (
    BINARY_SNIFF_BYTES,
    BlockingTool,
    ToolInputError,
    confined,
    expand_braces,
    looks_binary,
    optional_bool,
    optional_int,
    optional_str,
    relative_name,
    require_str,
    working_root,
)
from kumiai.infrastructure.filesystem.atomic import atomic_write_text

DEFAULT_READ_LIMIT = 2000
MAX_LINE_LENGTH = 2000
GLOB_LIMIT = 100
GREP_LIMIT = 500
GREP_LINE_LENGTH = 500
# Larger files are nearly always data or build output; scanning them stalls the turn.
GREP_MAX_FILE_BYTES = 10 * 1024 * 1024
SKIPPED_DIRECTORIES = frozenset({".git"})


def _spec(name: str, description: str, properties: dict[str, Any], required: list[str]) -> ToolSpec:
    """A tool whose input is an object of exactly ``properties``, ``required`` among them."""
    return ToolSpec(
        name=name,
        description=description,
        input_schema={
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        },
    )


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


_FILE_PATH = _string("Path of the file: relative to the working folder, or absolute inside it.")
_SEARCH_PATH = _string("Folder to search in, relative to the working folder (default: the folder).")


class ReadTool(BlockingTool):
    """Show a text file with numbered lines, like ``cat -n``."""

    spec = _spec(
        "Read",
        "Read a text file from the working folder. Lines are numbered from 1 "
        f"(cat -n style); at most {DEFAULT_READ_LIMIT} lines are returned unless "
        "'limit' says otherwise, and 'offset' picks the first line. Binary files are "
        "refused.",
        {
            "file_path": _FILE_PATH,
            "offset": {
                "type": "integer",
                "minimum": 1,
                "description": "Line number to start reading from (1-based).",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "description": f"Number of lines to read (default {DEFAULT_READ_LIMIT}).",
            },
        },
        required=["file_path"],
    )

    def execute(self, arguments: dict[str, Any], context: ToolContext) -> str:
        name = require_str(arguments, "file_path", allow_empty=False)
        path = confined(context, name)
        offset = optional_int(arguments, "offset", minimum=1) or 1
        limit = optional_int(arguments, "limit", minimum=1) or DEFAULT_READ_LIMIT
        _require_text_file(path, name)
        return _numbered_lines(path, offset, limit)


class WriteTool(BlockingTool):
    """Create or replace a file atomically."""

    spec = _spec(
        "Write",
        "Write a file in the working folder, replacing it if it exists. Missing parent "
        "folders are created. Prefer Edit for changing part of an existing file.",
        {"file_path": _FILE_PATH, "content": _string("The complete new file content.")},
        required=["file_path", "content"],
    )

    def execute(self, arguments: dict[str, Any], context: ToolContext) -> str:
        name = require_str(arguments, "file_path", allow_empty=False)
        content = require_str(arguments, "content")
        path = confined(context, name)
        if path.is_dir():
            raise ToolInputError(f"{name} is a folder, not a file")
        existed = path.exists()
        atomic_write_text(path, content)
        verb = "Updated" if existed else "Created"
        return f"{verb} {relative_name(working_root(context), path)} ({len(content)} characters)"


class EditTool(BlockingTool):
    """Replace an exact string in a file."""

    spec = _spec(
        "Edit",
        "Replace an exact piece of text in a file. 'old_string' must occur exactly once "
        "(include surrounding lines to make it unique) unless 'replace_all' is true.",
        {
            "file_path": _FILE_PATH,
            "old_string": _string("The exact text to replace."),
            "new_string": _string("The text to put instead."),
            "replace_all": {
                "type": "boolean",
                "default": False,
                "description": "Replace every occurrence instead of exactly one.",
            },
        },
        required=["file_path", "old_string", "new_string"],
    )

    def execute(self, arguments: dict[str, Any], context: ToolContext) -> str:
        name = require_str(arguments, "file_path", allow_empty=False)
        old = require_str(arguments, "old_string")
        new = require_str(arguments, "new_string")
        replace_all = optional_bool(arguments, "replace_all")
        path = confined(context, name)
        if not old:
            raise ToolInputError("'old_string' must not be empty; use Write to create a file")
        if old == new:
            raise ToolInputError("'old_string' and 'new_string' are the same; nothing to change")
        text = _read_text(path, name)
        count = _occurrences(text, old, name, replace_all)
        atomic_write_text(path, text.replace(old, new, -1 if replace_all else 1))
        noun = "occurrence" if count == 1 else "occurrences"
        return f"Replaced {count} {noun} in {relative_name(working_root(context), path)}"


class GlobTool(BlockingTool):
    """Find files by name pattern, newest first."""

    spec = _spec(
        "Glob",
        "Find files whose path matches a glob pattern such as '**/*.py' or "
        "'src/**/*.{ts,tsx}'. Paths are relative to the working folder, most recently "
        f"modified first, at most {GLOB_LIMIT}.",
        {"pattern": _string("Glob pattern; '**' spans folders."), "path": _SEARCH_PATH},
        required=["pattern"],
    )

    def execute(self, arguments: dict[str, Any], context: ToolContext) -> str:
        pattern = require_str(arguments, "pattern", allow_empty=False)
        _check_glob_pattern(pattern)
        base = _search_folder(context, optional_str(arguments, "path"))
        root = working_root(context)
        found = _glob(base, root, pattern)
        if not found:
            return "No files found"
        newest_first = sorted(found, key=lambda item: (-item[1], item[0]))
        names = [name for name, _mtime in newest_first[:GLOB_LIMIT]]
        if len(found) > GLOB_LIMIT:
            names.append(f"[truncated: {len(found) - GLOB_LIMIT} more files; narrow the pattern]")
        return "\n".join(names)


class GrepTool(BlockingTool):
    """Search file contents with a regular expression."""

    spec = _spec(
        "Grep",
        "Search file contents with a Python regular expression. Returns "
        "'path:line:text' for each matching line, paths relative to the working folder. "
        f"Binary files and .git are skipped; at most {GREP_LIMIT} lines are returned.",
        {
            "pattern": _string("Regular expression (Python re)."),
            "path": _string("File or folder to search (default: the working folder)."),
            "glob": _string("Only search files matching this pattern, e.g. '*.py'."),
            "-i": {"type": "boolean", "description": "Ignore case."},
        },
        required=["pattern"],
    )

    def execute(self, arguments: dict[str, Any], context: ToolContext) -> str:
        regex = _compile(
            require_str(arguments, "pattern", allow_empty=False), optional_bool(arguments, "-i")
        )
        name = optional_str(arguments, "path") or "."
        base = confined(context, name)
        if not base.exists():
            raise ToolInputError(f"Path does not exist: {name}")
        file_globs = expand_braces(optional_str(arguments, "glob") or "*")
        root = working_root(context)
        candidates = [base] if base.is_file() else _walk_files(base, root)
        matches = itertools.islice(_grep(candidates, root, regex, file_globs), GREP_LIMIT + 1)
        lines = list(matches)
        if not lines:
            return "No matches found"
        if len(lines) > GREP_LIMIT:
            lines[GREP_LIMIT:] = [f"[truncated: stopped after {GREP_LIMIT} matching lines]"]
        return "\n".join(lines)


# --------------------------------------------------------------------------- Read / Edit


def _require_text_file(path: Path, name: str) -> None:
    if not path.exists():
        raise ToolInputError(f"File does not exist: {name}")
    if path.is_dir():
        raise ToolInputError(f"{name} is a folder; use Glob to list files")
    if not path.is_file():
        # A FIFO or device would block the read forever.
        raise ToolInputError(f"{name} is not a regular file")
    with path.open("rb") as handle:
        if looks_binary(handle.read(BINARY_SNIFF_BYTES)):
            raise ToolInputError(f"{name} is a binary file; only text files can be read")


def _numbered_lines(path: Path, offset: int, limit: int) -> str:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        # One line more than asked for tells whether the file goes on.
        window = list(itertools.islice(handle, offset - 1, offset - 1 + limit + 1))
    if not window:
        return "(empty file)" if offset == 1 else f"(the file has fewer than {offset} lines)"
    shown = window[:limit]
    numbered = [
        f"{number:>6}\t{_clip(line.rstrip(chr(10)), MAX_LINE_LENGTH)}"
        for number, line in enumerate(shown, start=offset)
    ]
    if len(window) > limit:
        last = offset + limit - 1
        numbered.append(f"[showing lines {offset}-{last}; use offset and limit to read more]")
    return "\n".join(numbered)


def _read_text(path: Path, name: str) -> str:
    """The file's text, decoded exactly (line endings kept) so an edit changes nothing else."""
    _require_text_file(path, name)
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ToolInputError(f"{name} is not UTF-8 text and cannot be edited") from error


def _occurrences(text: str, old: str, name: str, replace_all: bool) -> int:
    count = text.count(old)
    if count == 0:
        raise ToolInputError(f"'old_string' was not found in {name}")
    if count > 1 and not replace_all:
        raise ToolInputError(
            f"'old_string' occurs {count} times in {name}; include more surrounding text to "
            "make it unique, or set replace_all to true"
        )
    return count


def _clip(line: str, length: int) -> str:
    return line if len(line) <= length else f"{line[:length]}... [line truncated]"


# --------------------------------------------------------------------------- Glob / Grep


def _search_folder(context: ToolContext, name: str | None) -> Path:
    folder = confined(context, name or ".")
    if not folder.is_dir():
        raise ToolInputError(f"Not a folder: {name}")
    return folder


def _check_glob_pattern(pattern: str) -> None:
    # pathlib would happily follow '..' or an absolute pattern out of the folder.
    if "\x00" in pattern:
        raise ToolInputError("'pattern' contains a NUL byte")
    if pattern.startswith("/") or ".." in PurePosixPath(pattern).parts:
        raise ToolInputError("'pattern' must be relative and must not contain '..'; use 'path'")


def _glob(base: Path, root: Path, pattern: str) -> list[tuple[str, float]]:
    """(relative name, mtime) of every file matching ``pattern`` that stays inside ``root``."""
    found: dict[str, float] = {}
    try:
        for expanded in expand_braces(pattern):
            for match in base.glob(expanded):
                _record_match(match, root, found)
    except ValueError as error:  # pathlib's verdict on a malformed pattern
        raise ToolInputError(f"Invalid glob pattern: {error}") from error
    return list(found.items())


def _record_match(match: Path, root: Path, found: dict[str, float]) -> None:
    if not _is_visible_file(match, root):
        return
    try:
        found[relative_name(root, match)] = match.stat().st_mtime
    except OSError:  # vanished between listing and stat
        return


def _is_visible_file(path: Path, root: Path) -> bool:
    """A regular file under ``root``, not inside ``.git``, whose real location (after
    symlinks) is inside ``root`` too."""
    if not path.is_file() or not path.resolve().is_relative_to(root):
        return False
    return SKIPPED_DIRECTORIES.isdisjoint(path.relative_to(root).parts)


def _compile(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as error:
        raise ToolInputError(f"Invalid regular expression: {error}") from error


def _walk_files(base: Path, root: Path) -> Iterator[Path]:
    """Files under ``base`` in a stable order; symlinked folders are not entered."""
    for directory, folders, files in os.walk(base):
        folders[:] = sorted(name for name in folders if name not in SKIPPED_DIRECTORIES)
        for name in sorted(files):
            path = Path(directory, name)
            if _is_visible_file(path, root):
                yield path


def _grep(
    candidates: Iterable[Path],
    root: Path,
    regex: re.Pattern[str],
    file_globs: list[str],
) -> Iterator[str]:
    for path in candidates:
        name = relative_name(root, path)
        if not any(PurePosixPath(name).match(pattern) for pattern in file_globs):
            continue
        for number, line in _matching_lines(path, regex):
            yield f"{name}:{number}:{_clip(line, GREP_LINE_LENGTH)}"


def _matching_lines(path: Path, regex: re.Pattern[str]) -> Iterator[tuple[int, str]]:
    try:
        if path.stat().st_size > GREP_MAX_FILE_BYTES:
            return
        data = path.read_bytes()
    except OSError:  # unreadable files are skipped, as grep -s does
        return
    if looks_binary(data):
        return
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if regex.search(line):
            yield number, line
