"""Folder stores implementing ``kumiai.application.ports.files``.

``DefinitionFolderStore`` keeps one folder per character or skill; ``ProjectFolderStore``
works inside project folders. Every path from a caller goes through ``confine``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from kumiai.application.ports.files import DefinitionScan, FileEntry, FoundDefinition
from kumiai.core.exceptions import (
    ConflictError,
    NotFoundError,
    PathNotAllowedError,
    PayloadTooLargeError,
    ValidationError,
)
from kumiai.infrastructure.filesystem.atomic import atomic_write_bytes, atomic_write_text
from kumiai.infrastructure.filesystem.listing import SKIPPED_DIRECTORIES, list_tree
from kumiai.infrastructure.filesystem.paths import confine

MAX_READ_BYTES = 10 * 1024 * 1024
# Pointing an import at a big folder (a home directory, a repository) by mistake
# should fail fast instead of filling the disk.
MAX_IMPORT_BYTES = 50 * 1024 * 1024
# Scanning a source for definition folders stops here (see ``scan``).
MAX_SCANNED_FOLDERS = 10_000
PROJECT_MD = "PROJECT.md"

# "<slug>.deleted", then "<slug>.deleted.2", ... when an earlier deletion holds the name.
_SOFT_DELETED = re.compile(r"\.deleted(?:\.\d+)?$")


class DefinitionFolderStore:
    """One folder per definition under ``root``, each with a main document.

    Used as ``DefinitionFolderStore(home.characters_dir, "agent.md", kind="character")``
    and ``DefinitionFolderStore(home.skills_dir, "SKILL.md", kind="skill")``; ``kind``
    names the resource in ``NotFoundError``.
    """

    def __init__(
        self,
        root: Path,
        main_document: str,
        *,
        kind: str = "definition",
        max_read_bytes: int = MAX_READ_BYTES,
        max_import_bytes: int = MAX_IMPORT_BYTES,
    ) -> None:
        self._root = root
        self._main_document = main_document
        self._kind = kind
        self._max_read_bytes = max_read_bytes
        self._max_import_bytes = max_import_bytes

    def folder(self, slug: str) -> str:
        """Return the absolute path of the slug's folder (it may not exist yet)."""
        return str(self._folder(slug))

    def exists(self, slug: str) -> bool:
        """Tell whether the slug's folder exists."""
        return self._folder(slug).is_dir()

    def read_main(self, slug: str) -> str:
        """Return the main document's text (UTF-8)."""
        data = self.read_file(slug, self._main_document)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(f"{self._main_document} of '{slug}' is not UTF-8") from exc

    def write_main(self, slug: str, text: str) -> None:
        """Write the main document atomically, creating the folder when needed."""
        atomic_write_text(self._folder(slug) / self._main_document, text)

    def list_files(self, slug: str) -> list[FileEntry]:
        """List the folder flat and recursively, directories included."""
        return list_tree(self._existing_folder(slug))

    def read_file(self, slug: str, rel: str) -> bytes:
        """Return a file's bytes; ``PayloadTooLargeError`` above the read cap."""
        folder = self._existing_folder(slug)
        return _read_capped(confine(folder, rel), rel, self._max_read_bytes)

    def write_file(self, slug: str, rel: str, data: bytes) -> None:
        """Write or create a file atomically, creating missing parent directories."""
        _write(confine(self._existing_folder(slug), rel), rel, data)

    def delete_file(self, slug: str, rel: str) -> None:
        """Delete a file or directory; the main document cannot be deleted."""
        folder = self._existing_folder(slug)
        entry = _entry_path(folder, rel)
        self._refuse_main_document(folder, entry, "deleted")
        _delete_entry(entry, rel)

    def rename_file(self, slug: str, old: str, new: str) -> None:
        """Move a file or directory within the folder; the target must not exist."""
        folder = self._existing_folder(slug)
        source = _entry_path(folder, old)
        target = _entry_path(folder, new)
        self._refuse_main_document(folder, source, "renamed")
        _move_entry(source, target, old, new)

    def delete_folder(self, slug: str) -> str:
        """Soft-delete: rename the folder to ``<slug>.deleted`` (``.2``, ``.3``, ... when
        that name is taken) and return the new absolute path."""
        folder = self._existing_folder(slug)
        target = _free_deleted_name(folder)
        with _os_errors("delete", slug):
            folder.rename(target)
        return str(target)

    def library_exists(self) -> bool:
        return self._root.is_dir()

    def scan(self, source: str) -> DefinitionScan:
        """The folders at or below ``source`` holding the main document (see the port).

        The walk stops with a ``ValidationError`` after ``MAX_SCANNED_FOLDERS`` folders,
        so pointing at a home directory by mistake fails fast.
        """
        origin = self._import_root(source)
        found: list[FoundDefinition] = []
        skipped: list[str] = []
        pending, scanned = [origin], 0
        while pending:
            directory = pending.pop()
            scanned += 1
            if scanned > MAX_SCANNED_FOLDERS:
                raise ValidationError(
                    f"{source} holds more than {MAX_SCANNED_FOLDERS} folders; "
                    f"point at the folder holding {self._main_document}",
                    details={"path": source},
                )
            main = directory / self._main_document
            if main.is_file() and not main.is_symlink():
                found.append(
                    FoundDefinition(
                        folder=str(directory),
                        path=_relative(directory, origin),
                        document=self._read_document(main, origin),
                    )
                )
                continue
            with _os_errors("scan", source):
                children = sorted(directory.iterdir())
            for child in children:
                if child.is_symlink():
                    if child.is_dir() or child.name == self._main_document:
                        skipped.append(_relative(child, origin))
                elif child.is_dir() and child.name not in SKIPPED_DIRECTORIES:
                    pending.append(child)
        return DefinitionScan(sorted(found, key=lambda item: item.folder), sorted(skipped))

    def copy_in(self, slug: str, source: str) -> list[str]:
        """Copy the folder ``source`` in as the slug's folder; return what was left out.

        Symlinks and special files are left behind (and returned), so nothing outside
        ``source`` is copied; version-control folders are left behind silently. The
        copy is made under a hidden name and renamed into place, so a failed copy never
        shows up as a half-made definition.
        """
        target = self._folder(slug)
        origin = self._import_source(source)
        if target.exists() or target.is_symlink():
            raise ConflictError(
                f"{self._kind} folder '{slug}' exists already", details={"slug": slug}
            )
        staging = target.with_name(f".{slug}.import-{secrets.token_hex(4)}")
        left_out: list[str] = []

        def not_copied(directory: str, names: list[str]) -> set[str]:
            ignored = _not_copied(directory, names)
            left_out.extend(
                _relative(Path(directory, name), origin)
                for name in ignored
                if name not in SKIPPED_DIRECTORIES
            )
            return ignored

        try:
            with _os_errors("import", source):
                _check_tree_size(origin, source, self._max_import_bytes)
                shutil.copytree(origin, staging, symlinks=True, ignore=not_copied)
                staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return sorted(left_out)

    def list_slugs(self) -> list[str]:
        """Return the slugs of live folders, sorted.

        Soft-deleted, hidden and symlinked folders are left out: a symlinked folder
        would resolve outside the store and every operation on it would be refused.
        """
        if not self._root.is_dir():
            return []
        return sorted(
            child.name
            for child in self._root.iterdir()
            if child.is_dir()
            and not child.is_symlink()
            and not child.name.startswith(".")
            and not _SOFT_DELETED.search(child.name)
        )

    def _folder(self, slug: str) -> Path:
        if "/" in slug or slug.startswith(".") or _SOFT_DELETED.search(slug):
            raise PathNotAllowedError(
                f"not a valid {self._kind} folder name: {slug!r}", details={"path": slug}
            )
        folder = confine(self._root, slug)
        # A slug must name a real child folder, not a link to a sibling definition.
        if folder != self._root.resolve() / slug:
            raise PathNotAllowedError(
                f"{self._kind} folder is a link: {slug!r}", details={"path": slug}
            )
        return folder

    def _existing_folder(self, slug: str) -> Path:
        folder = self._folder(slug)
        if not folder.is_dir():
            raise NotFoundError(self._kind, slug)
        return folder

    def _import_root(self, source: str) -> Path:
        origin = Path(source)
        if not origin.is_absolute() or not origin.is_dir():
            raise NotFoundError(f"{self._kind} folder", source)
        # A folder holding the store would be copied into itself.
        if self._root.resolve().is_relative_to(origin.resolve()):
            raise ValidationError(
                f"{source} holds the {self._kind} library itself", details={"path": source}
            )
        return origin

    def _import_source(self, source: str) -> Path:
        origin = self._import_root(source)
        if not (origin / self._main_document).is_file():
            raise ValidationError(
                f"{source} has no {self._main_document}", details={"path": source}
            )
        return origin

    def _read_document(self, main: Path, origin: Path) -> str:
        rel = _relative(main, origin)
        data = _read_capped(main, rel, self._max_read_bytes)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(f"{rel} is not UTF-8 text", details={"path": rel}) from None

    def _refuse_main_document(self, folder: Path, entry: Path, verb: str) -> None:
        main = folder / self._main_document
        # samefile also catches other spellings on case-insensitive filesystems.
        same = entry == main or (
            entry.exists() and main.exists() and not entry.is_symlink() and entry.samefile(main)
        )
        if same:
            raise ValidationError(f"{self._main_document} cannot be {verb}")


class ProjectFolderStore:
    """Files inside project folders, addressed by the project's absolute path.

    File paths may be relative to the project folder or absolute paths inside it,
    the way the v1 client and the agent's tools send them.
    """

    def __init__(self, *, max_read_bytes: int = MAX_READ_BYTES) -> None:
        self._max_read_bytes = max_read_bytes

    def create_project_dir(self, path: str) -> None:
        """Create the project folder and its parents (nothing happens if it exists).

        Raises ``ValidationError`` if the path is a file or cannot be created.
        """
        # Every turn asks, and the folder is nearly always there: one stat, not the
        # resolving of every component that creating it takes.
        if os.path.isdir(_absolute(path)):
            return
        directory = _project_path(path)
        if directory.exists() and not directory.is_dir():
            raise ValidationError(f"project path exists and is not a folder: {path}")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValidationError(
                f"cannot create project folder {path}: {exc.strerror or exc}"
            ) from exc

    def write_project_md(self, path: str, name: str, description: str) -> bool:
        """Create ``PROJECT.md`` with the name and goal; return False when one exists.

        An existing file is kept because the PM maintains it as the project's notes.
        """
        target = _existing_project(path) / PROJECT_MD
        if target.exists():
            return False
        atomic_write_text(target, _project_md(name, description))
        return True

    def list_files(self, path: str) -> list[FileEntry]:
        """List the project folder flat and recursively, directories included."""
        return list_tree(_existing_project(path))

    def read_file(self, path: str, rel: str) -> bytes:
        """Return a file's bytes; ``PayloadTooLargeError`` above the read cap."""
        target = confine(_existing_project(path), rel, allow_absolute=True)
        return _read_capped(target, rel, self._max_read_bytes)

    def write_file(self, path: str, rel: str, data: bytes) -> None:
        """Write or create a file atomically, creating missing parent directories."""
        _write(confine(_existing_project(path), rel, allow_absolute=True), rel, data)

    def delete_file(self, path: str, rel: str) -> None:
        """Delete a file or directory inside the project folder."""
        _delete_entry(_entry_path(_existing_project(path), rel, allow_absolute=True), rel)


def _project_path(path: str) -> Path:
    return Path(_absolute(path)).resolve()


def _absolute(path: str) -> str:
    """``path`` with ``~`` expanded; refused unless it is a valid absolute path."""
    if not path or "\x00" in path:
        raise PathNotAllowedError(f"not a valid project path: {path!r}", details={"path": path})
    expanded = os.path.expanduser(path)
    # A relative path would depend on the server's working directory.
    if not os.path.isabs(expanded):
        raise PathNotAllowedError(
            f"project path must be absolute: {path!r}", details={"path": path}
        )
    return expanded


def _existing_project(path: str) -> Path:
    directory = _project_path(path)
    if not directory.is_dir():
        raise NotFoundError("project folder", path)
    return directory


def _project_md(name: str, description: str) -> str:
    text = f"# {name}\n"
    if description.strip():
        text += f"\n## Goal\n\n{description.strip()}\n"
    return text


def _entry_path(base: Path, rel: str, *, allow_absolute: bool = False) -> Path:
    """Confine ``rel`` to ``base`` but keep its last component unresolved.

    Deleting or renaming a symlink must act on the link, not on what it points to;
    the parent directories are still fully resolved and confined.
    """
    confine(base, rel, allow_absolute=allow_absolute)
    pure = PurePosixPath(rel)
    if pure.name in ("", ".", ".."):
        raise PathNotAllowedError(
            f"path names a folder, not an entry in it: {rel!r}", details={"path": rel}
        )
    return confine(base, str(pure.parent), allow_absolute=allow_absolute) / pure.name


def _read_capped(path: Path, rel: str, limit: int) -> bytes:
    if not path.exists():
        raise NotFoundError("file", rel)
    if not path.is_file():  # a directory, or a FIFO that would block the read
        raise ValidationError(f"not a regular file: {rel!r}", details={"path": rel})
    with _os_errors("read", rel), path.open("rb") as handle:
        # Reading one byte past the limit detects oversize without trusting stat(),
        # which can be stale for a file that is still growing.
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLargeError(
            f"{rel!r} is larger than the {limit}-byte read limit",
            details={"path": rel, "limit_bytes": limit},
        )
    return data


def _write(target: Path, rel: str, data: bytes) -> None:
    if target.is_dir():
        raise ValidationError(f"a folder exists at {rel!r}", details={"path": rel})
    with _os_errors("write", rel):
        atomic_write_bytes(target, data)


def _delete_entry(entry: Path, rel: str) -> None:
    with _os_errors("delete", rel):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        elif entry.exists() or entry.is_symlink():
            entry.unlink()
        else:
            raise NotFoundError("file", rel)


def _move_entry(source: Path, target: Path, old: str, new: str) -> None:
    if not (source.exists() or source.is_symlink()):
        raise NotFoundError("file", old)
    if target.exists() or target.is_symlink():
        raise ConflictError(f"{new!r} exists already", details={"path": new})
    if target.is_relative_to(source):
        raise ValidationError(f"cannot move {old!r} into itself", details={"path": new})
    with _os_errors("rename", old):
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)


def _not_copied(directory: str, names: list[str]) -> set[str]:
    """What ``copytree`` leaves out: symlinks, which could reach outside the copied
    folder, special files (a FIFO would block the copy), and the directories a listing
    skips anyway."""
    return {
        name
        for name in names
        if name in SKIPPED_DIRECTORIES or not _plain_entry(os.path.join(directory, name))
    }


def _relative(path: Path, origin: Path) -> str:
    """``path`` relative to ``origin``, ``/``-separated; '' for ``origin`` itself."""
    relative = path.relative_to(origin).as_posix()
    return "" if relative == "." else relative


def _plain_entry(path: str) -> bool:
    """A regular file or folder that is not a symbolic link."""
    return not os.path.islink(path) and (os.path.isfile(path) or os.path.isdir(path))


def _check_tree_size(origin: Path, source: str, limit: int) -> None:
    total = 0
    for directory, subdirectories, files in os.walk(origin):
        subdirectories[:] = [name for name in subdirectories if name not in SKIPPED_DIRECTORIES]
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
        if total > limit:
            raise PayloadTooLargeError(
                f"{source} holds more than {limit} bytes", details={"path": source}
            )


def _free_deleted_name(folder: Path) -> Path:
    candidate = folder.with_name(f"{folder.name}.deleted")
    number = 2
    while candidate.exists() or candidate.is_symlink():
        candidate = folder.with_name(f"{folder.name}.deleted.{number}")
        number += 1
    return candidate


@contextmanager
def _os_errors(action: str, rel: str) -> Iterator[None]:
    """Turn operating-system failures into the errors the API reports."""
    try:
        yield
    except FileNotFoundError as exc:
        raise NotFoundError("file", rel) from exc
    except OSError as exc:
        raise ValidationError(
            f"cannot {action} {rel!r}: {exc.strerror or exc}", details={"path": rel}
        ) from exc
