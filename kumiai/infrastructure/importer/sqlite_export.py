"""Stage 1: read a v1 home without changing it, into a JSON-serialisable export.

The SQLite file is opened with ``mode=ro&immutable=1``: SQLite then takes no locks and
writes no journal, so a database another process holds locked still reads and the
source folder is never modified. Text that is not valid UTF-8 is decoded with
replacement characters and reported; files that cannot be read are reported, not fatal.
The export (``export.json``) is the audit trail and can be imported again with
``--from-json``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kumiai.infrastructure.importer.entries import Action, ReportEntry
from kumiai.infrastructure.importer.errors import ImportSourceError

EXPORT_FORMAT = "kumiai-v1-export"
DATABASE_FILE = "kumiai.db"
AGENTS_DIR = "agents"
SKILLS_DIR = "skills"
KNOWN_TABLES = (
    "projects",
    "tasks",
    "sessions",
    "messages",
    "activity_logs",
    "user_profiles",
    "session_files",
    "alembic_version",
)
_HASH_CHUNK = 1024 * 1024
_FOLDER_NOUN = {AGENTS_DIR: "an agent", SKILLS_DIR: "a skill"}


@dataclass(slots=True)
class ExportedFile:
    """One file of an agent or skill folder: UTF-8 ``text``, else ``base64``, else ``error``."""

    path: str
    text: str | None = None
    base64: str | None = None
    error: str | None = None

    def data(self) -> bytes | None:
        if self.text is not None:
            return self.text.encode("utf-8")
        if self.base64 is not None:
            return base64.b64decode(self.base64)
        return None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "text": self.text, "base64": self.base64, "error": self.error}


@dataclass(slots=True)
class ExportedFolder:
    """An agent or skill folder as found on disk (``name`` may end in ``.deleted``)."""

    name: str
    files: list[ExportedFile] = field(default_factory=list)

    def file(self, path: str) -> ExportedFile | None:
        return next((item for item in self.files if item.path == path), None)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "files": [item.to_json() for item in self.files]}


@dataclass(slots=True)
class V1Export:
    source_home: str
    exported_at: str
    database: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    agents: list[ExportedFolder]
    skills: list[ExportedFolder]
    # What stage 1 had to work around: files it could not read, text it decoded with
    # replacement characters, warnings. They become entries of the import report.
    problems: list[ReportEntry]

    def rows(self, table: str) -> list[dict[str, Any]]:
        return self.tables.get(table, [])

    def to_json(self) -> dict[str, Any]:
        return {
            "format": EXPORT_FORMAT,
            "version": 1,
            "source_home": self.source_home,
            "exported_at": self.exported_at,
            "database": self.database,
            "tables": self.tables,
            "agents": [folder.to_json() for folder in self.agents],
            "skills": [folder.to_json() for folder in self.skills],
            "problems": [problem.to_json() for problem in self.problems],
        }


# ---------------------------------------------------------------- reading the home


def export_v1_home(home: Path) -> V1Export:
    """Read ``kumiai.db`` and the agent and skill folders of the v1 home at ``home``.

    Raises:
        ImportSourceError: the home or its ``kumiai.db`` is missing or is not a
            readable SQLite database.
    """
    database_path = v1_database_path(home)
    problems: list[ReportEntry] = []
    tables = _read_tables(database_path, problems)
    return V1Export(
        source_home=str(home),
        exported_at=datetime.now(UTC).isoformat(),
        database=_describe_database(database_path, problems),
        tables=tables,
        agents=_read_folders(home / AGENTS_DIR, "agents", problems),
        skills=_read_folders(home / SKILLS_DIR, "skills", problems),
        problems=problems,
    )


def v1_database_path(home: Path) -> Path:
    """``HOME/kumiai.db``; raises ``ImportSourceError`` when it is not a readable file."""
    if not home.is_dir():
        raise ImportSourceError(f"v1 home not found: {home} is not a folder")
    path = home / DATABASE_FILE
    if not path.exists():
        raise ImportSourceError(f"no {DATABASE_FILE} in {home}: is this a KumiAI v1 home?")
    if not path.is_file():
        raise ImportSourceError(f"{path} is not a file")
    return path


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as error:
        raise ImportSourceError(f"cannot open {path}: {error}") from error
    # Bytes, so text that is not UTF-8 is decoded (and reported) by us, not refused.
    connection.text_factory = bytes
    try:
        yield connection
    finally:
        connection.close()


def _read_tables(path: Path, problems: list[ReportEntry]) -> dict[str, list[dict[str, Any]]]:
    with _read_only(path) as connection:
        try:
            names = _table_names(connection)
            return {name: _read_table(connection, name, problems) for name in names}
        except sqlite3.DatabaseError as error:
            raise ImportSourceError(f"cannot read {path}: {error}") from error


def _table_names(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ).fetchall()
    return [_decode(row[0]) for row in rows]


def _read_table(
    connection: sqlite3.Connection, table: str, problems: list[ReportEntry]
) -> list[dict[str, Any]]:
    quoted = '"' + table.replace('"', '""') + '"'
    cursor = connection.execute(f"SELECT * FROM {quoted}")
    columns = [description[0] for description in cursor.description]
    rows = []
    for values in cursor:
        row = dict(zip(columns, values, strict=True))
        rows.append({column: _column_value(table, row, column, problems) for column in columns})
    return rows


def _column_value(table: str, row: dict[str, Any], column: str, problems: list[ReportEntry]) -> Any:
    value = row[column]
    if not isinstance(value, bytes):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        row_id = row.get("id")
        problems.append(
            ReportEntry(
                table,
                _decode(row_id) if isinstance(row_id, bytes) else _text_or_none(row_id),
                Action.REPAIRED,
                f"column {column!r} is not valid UTF-8; undecodable bytes became U+FFFD",
                {"column": column},
            )
        )
        return value.decode("utf-8", errors="replace")


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _describe_database(path: Path, problems: list[ReportEntry]) -> dict[str, Any]:
    wal = path.with_name(path.name + "-wal")
    wal_bytes = wal.stat().st_size if wal.is_file() else 0
    if wal_bytes:
        # An immutable read ignores the write-ahead log: changes v1 had not yet
        # checkpointed are not in this export.
        problems.append(
            ReportEntry(
                "database",
                None,
                Action.KEPT,
                f"{wal.name} holds {wal_bytes} bytes not yet written to {path.name}; "
                "close KumiAI v1 and import again to include them",
            )
        )
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "sha256": _sha256_file(path),
        "wal_bytes": wal_bytes,
    }


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read_folders(root: Path, kind: str, problems: list[ReportEntry]) -> list[ExportedFolder]:
    if not root.is_dir():
        return []
    folders = []
    for child in sorted(root.iterdir(), key=lambda entry: entry.name):
        if child.is_dir() and not child.is_symlink():
            folders.append(_read_folder(child, kind, problems))
        else:
            problems.append(
                ReportEntry(
                    "files",
                    f"{kind}/{child.name}",
                    Action.SKIPPED,
                    f"not {_FOLDER_NOUN[kind]} folder (a file or a link)",
                )
            )
    return folders


def _read_folder(folder: Path, kind: str, problems: list[ReportEntry]) -> ExportedFolder:
    exported = ExportedFolder(folder.name)
    for path in _walk_files(folder, kind, problems):
        relative = path.relative_to(folder).as_posix()
        exported.files.append(_read_file(path, relative))
        if exported.files[-1].error:
            problems.append(
                ReportEntry(
                    "files",
                    f"{kind}/{folder.name}/{relative}",
                    Action.SKIPPED,
                    f"unreadable file, not copied: {exported.files[-1].error}",
                )
            )
    return exported


def _walk_files(folder: Path, kind: str, problems: list[ReportEntry]) -> list[Path]:
    # Symlinked directories are not followed: they may lead anywhere on the disk.
    found: list[Path] = []

    def unreadable(error: OSError) -> None:
        where = Path(error.filename or folder).relative_to(folder.parent).as_posix()
        problems.append(
            ReportEntry(
                "files", f"{kind}/{where}", Action.SKIPPED, f"unreadable folder: {error.strerror}"
            )
        )

    for directory, subdirectories, files in os.walk(folder, onerror=unreadable):
        base = Path(directory)
        for name in sorted(subdirectories):
            if (base / name).is_symlink():
                where = (base / name).relative_to(folder).as_posix()
                problems.append(
                    ReportEntry(
                        "files",
                        f"{kind}/{folder.name}/{where}",
                        Action.SKIPPED,
                        "linked folder, not followed",
                    )
                )
        subdirectories.sort()
        found.extend(base / name for name in sorted(files))
    return found


def _read_file(path: Path, relative: str) -> ExportedFile:
    try:
        data = path.read_bytes()
    except OSError as error:
        return ExportedFile(relative, error=error.strerror or str(error))
    try:
        return ExportedFile(relative, text=data.decode("utf-8"))
    except UnicodeDecodeError:
        return ExportedFile(relative, base64=base64.b64encode(data).decode("ascii"))


# ---------------------------------------------------------------- the JSON audit trail


def save_export(export: V1Export, path: Path) -> None:
    """Write the export as compact UTF-8 JSON (it can hold 100k messages)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(export.to_json(), handle, ensure_ascii=False, separators=(",", ":"))
    os.replace(temporary, path)


def load_export(path: Path) -> V1Export:
    """Read an ``export.json`` written by :func:`save_export`.

    Raises:
        ImportSourceError: the file is missing, is not JSON, or is not an export.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ImportSourceError(f"cannot read the export {path}: {error}") from error
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ImportSourceError(f"{path} is not a KumiAI v1 export ({EXPORT_FORMAT})")
    return V1Export(
        source_home=str(data.get("source_home", "")),
        exported_at=str(data.get("exported_at", "")),
        database=dict(data.get("database") or {}),
        tables={str(name): list(rows) for name, rows in (data.get("tables") or {}).items()},
        agents=[_folder_from_json(item) for item in data.get("agents") or []],
        skills=[_folder_from_json(item) for item in data.get("skills") or []],
        problems=[ReportEntry.of_json(item) for item in data.get("problems") or []],
    )


def _folder_from_json(data: dict[str, Any]) -> ExportedFolder:
    return ExportedFolder(
        name=str(data["name"]),
        files=[ExportedFile(**item) for item in data.get("files") or []],
    )
