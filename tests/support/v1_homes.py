"""Build KumiAI v1 home folders for importer tests and benchmarks.

:class:`V1HomeBuilder` writes a ``kumiai.db`` with the v1 schema plus agent and skill
folders. Values are inserted exactly as given, so a test can plant anything the
v1 app (or a user with a SQLite shell) could have left behind. :func:`make_hostile_home`
plants one of each kind of bad data and returns what it planted.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURE_HOME = FIXTURES_DIR / "kumiai-v1-home"
FIXTURE_MANIFEST = FIXTURES_DIR / "kumiai-v1-home.manifest.json"

# The v1 schema as the app created it, except the partial unique index on
# projects.path, which is left out so duplicate live paths can be planted.
V1_SCHEMA = """
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
CREATE TABLE projects (
    id CHAR(36) NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, description TEXT,
    pm_agent_id VARCHAR(255), pm_session_id CHAR(36), team_member_ids JSON,
    path TEXT NOT NULL, created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL,
    updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, deleted_at DATETIME);
CREATE TABLE sessions (
    id CHAR(36) NOT NULL PRIMARY KEY, agent_id VARCHAR(255) NOT NULL, project_id CHAR(36),
    session_type VARCHAR(50) NOT NULL, status VARCHAR(50) DEFAULT 'initializing' NOT NULL,
    claude_session_id VARCHAR(255), context JSON DEFAULT '{}' NOT NULL, error_message TEXT,
    created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL,
    updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, deleted_at DATETIME);
CREATE TABLE messages (
    id CHAR(36) NOT NULL PRIMARY KEY, session_id CHAR(36) NOT NULL, role VARCHAR(50) NOT NULL,
    content TEXT NOT NULL, tool_use_id VARCHAR(255), sequence INTEGER NOT NULL,
    metadata JSON DEFAULT '{}' NOT NULL, created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL,
    agent_id VARCHAR(255), agent_name VARCHAR(255), from_instance_id CHAR(36),
    response_id VARCHAR(36));
CREATE TABLE activity_logs (
    id CHAR(36) NOT NULL PRIMARY KEY, session_id CHAR(36), event_type VARCHAR NOT NULL,
    event_data JSON DEFAULT '{}' NOT NULL,
    created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL);
CREATE TABLE user_profiles (
    id CHAR(36) NOT NULL PRIMARY KEY, settings JSON DEFAULT '{}' NOT NULL,
    created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL,
    updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL);
CREATE TABLE session_files (
    id CHAR(36) NOT NULL PRIMARY KEY, session_id CHAR(36) NOT NULL, message_id CHAR(36),
    filename VARCHAR(255) NOT NULL, original_filename VARCHAR(255) NOT NULL,
    file_path TEXT NOT NULL, file_size INTEGER NOT NULL, mime_type VARCHAR(255) NOT NULL,
    file_hash VARCHAR(64), extracted_content TEXT, status VARCHAR(50) DEFAULT 'uploaded' NOT NULL,
    created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL,
    updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL);
"""

_START = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


def stamp(offset_seconds: float) -> str:
    """A v1 timestamp: naive UTC text with microseconds."""
    return (_START + timedelta(seconds=offset_seconds)).strftime("%Y-%m-%d %H:%M:%S.%f")


def new_id() -> str:
    return str(uuid.uuid4())


class NotUtf8(bytes):
    """A value stored as TEXT whose bytes are not valid UTF-8 (``CAST(blob AS TEXT)``)."""


def agent_md(name: str, **fields: Any) -> str:
    lines = ["---", f"name: {name}"] + [f"{key}: {json.dumps(v)}" for key, v in fields.items()]
    return "\n".join([*lines, "---", "", f"# {name}", "", "Prompt body."]) + "\n"


def skill_md(name: str, description: str = "A skill", **fields: Any) -> str:
    lines = ["---", f"name: {name}", f"description: {description}"]
    lines += [f"{key}: {json.dumps(v)}" for key, v in fields.items()]
    return "\n".join([*lines, "---", "", f"# {name}", "", "Steps."]) + "\n"


@dataclass
class V1HomeBuilder:
    root: Path
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _clock: float = 0.0
    _sequences: dict[str, int] = field(default_factory=dict)

    def _tick(self) -> str:
        self._clock += 1.5
        return stamp(self._clock)

    def _add(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        self.rows.setdefault(table, []).append(row)
        return row

    # ------------------------------------------------------------ rows

    def project(self, **values: Any) -> dict[str, Any]:
        now = self._tick()
        row = {
            "id": new_id(),
            "name": "Project",
            "description": None,
            "pm_agent_id": None,
            "pm_session_id": None,
            "team_member_ids": "[]",
            "path": f"/home/kumi/.kumiai/projects/p-{uuid.uuid4().hex[:8]}",
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
        }
        return self._add("projects", {**row, **values})

    def session(self, **values: Any) -> dict[str, Any]:
        now = self._tick()
        row = {
            "id": new_id(),
            "agent_id": "",
            "project_id": None,
            "session_type": "assistant",
            "status": "idle",
            "claude_session_id": None,
            "context": "{}",
            "error_message": None,
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
        }
        return self._add("sessions", {**row, **values})

    def message(self, session_id: str, **values: Any) -> dict[str, Any]:
        sequence = self._sequences.get(session_id, 0)
        self._sequences[session_id] = sequence + 1
        row = {
            "id": new_id(),
            "session_id": session_id,
            "role": "user",
            "content": "hello",
            "tool_use_id": None,
            "sequence": sequence,
            "metadata": "{}",
            "created_at": self._tick(),
            "agent_id": None,
            "agent_name": None,
            "from_instance_id": None,
            "response_id": None,
        }
        return self._add("messages", {**row, **values})

    def activity(self, **values: Any) -> dict[str, Any]:
        row = {
            "id": new_id(),
            "session_id": None,
            "event_type": "message_sent",
            "event_data": "{}",
            "created_at": self._tick()[:19],
        }
        return self._add("activity_logs", {**row, **values})

    def profile(self, **values: Any) -> dict[str, Any]:
        now = self._tick()[:19]
        row = {"id": new_id(), "settings": "{}", "created_at": now, "updated_at": now}
        return self._add("user_profiles", {**row, **values})

    def session_file(self, session_id: str, **values: Any) -> dict[str, Any]:
        now = self._tick()[:19]
        row = {
            "id": new_id(),
            "session_id": session_id,
            "message_id": None,
            "filename": "notes.md",
            "original_filename": "notes.md",
            "file_path": "/home/kumi/.kumiai/projects/x/.sessions/s/attachments/notes.md",
            "file_size": 5,
            "mime_type": "text/markdown",
            "file_hash": hashlib.sha256(b"notes").hexdigest(),
            "extracted_content": "notes",
            "status": "uploaded",
            "created_at": now,
            "updated_at": now,
        }
        return self._add("session_files", {**row, **values})

    # ------------------------------------------------------------ folders

    def agent(self, folder: str, main: str | bytes | None, **extra: str | bytes) -> Path:
        return self._definition("agents", folder, "CLAUDE.md", main, extra)

    def skill(self, folder: str, main: str | bytes | None, **extra: str | bytes) -> Path:
        return self._definition("skills", folder, "SKILL.md", main, extra)

    def _definition(
        self,
        kind: str,
        folder: str,
        document: str,
        main: str | bytes | None,
        extra: dict[str, str | bytes],
    ) -> Path:
        directory = self.root / kind / folder
        directory.mkdir(parents=True, exist_ok=True)
        files = dict(extra)
        if main is not None:
            files[document] = main
        for relative, content in files.items():
            path = directory / relative.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            data = content if isinstance(content, bytes) else content.encode("utf-8")
            path.write_bytes(data)
        return directory

    # ------------------------------------------------------------ output

    def write(self, alembic_version: str = "composite_msg_idx") -> Path:
        """Write ``kumiai.db`` (replacing any earlier one) and return its path."""
        self.root.mkdir(parents=True, exist_ok=True)
        database = self.root / "kumiai.db"
        database.unlink(missing_ok=True)
        connection = sqlite3.connect(database)
        try:
            connection.executescript(V1_SCHEMA)
            connection.execute("INSERT INTO alembic_version VALUES (?)", (alembic_version,))
            for table, rows in self.rows.items():
                insert_rows(connection, table, rows)
            connection.commit()
        finally:
            connection.close()
        return database


def insert_rows(connection: sqlite3.Connection, table: str, rows: Iterable[dict[str, Any]]) -> None:
    """Insert rows as given; :class:`NotUtf8` values are stored as TEXT with their bytes."""

    def placeholders(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        return tuple(
            (column, "CAST(? AS TEXT)" if isinstance(value, NotUtf8) else "?")
            for column, value in row.items()
        )

    for shape, group in itertools.groupby(rows, key=placeholders):
        columns = ", ".join(column for column, _ in shape)
        values = ", ".join(marker for _, marker in shape)
        connection.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({values})",
            [[bytes(v) if isinstance(v, NotUtf8) else v for v in row.values()] for row in group],
        )


# ---------------------------------------------------------------- helpers for tests


def copy_fixture_home(target: Path) -> Path:
    """A writable copy of the shared fixture home (the original is read-only)."""
    shutil.copytree(FIXTURE_HOME, target)
    for directory, _, files in os.walk(target):
        os.chmod(directory, 0o755)
        for name in files:
            os.chmod(Path(directory) / name, 0o644)
    return target


def load_manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(FIXTURE_MANIFEST.read_text(encoding="utf-8"))
    return manifest


def file_digests(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` by relative path (symlinks by their target)."""
    digests = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            digests[relative] = f"-> {os.readlink(path)}"
        elif path.is_file():
            digests[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


@contextlib.contextmanager
def exclusive_lock(database: Path) -> Iterator[None]:
    """Hold SQLite's exclusive lock on ``database``, as a running v1 app mid-write would."""
    connection = sqlite3.connect(database, isolation_level=None, timeout=0)
    connection.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


# ---------------------------------------------------------------- the hostile home


@dataclass
class HostileHome:
    """Ids of what :func:`make_hostile_home` planted, for assertions."""

    root: Path
    ids: dict[str, str] = field(default_factory=dict)
    huge_content_bytes: int = 0


def make_hostile_home(root: Path) -> HostileHome:
    """A v1 home with one of each kind of bad data an import must survive."""
    home = HostileHome(root)
    build = V1HomeBuilder(root)
    _plant_definitions(build)
    _plant_projects(build, home)
    _plant_sessions_and_messages(build, home)
    _plant_other_rows(build, home)
    database = build.write()
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("CREATE TABLE plugins (id TEXT PRIMARY KEY, name TEXT)")
        connection.executemany("INSERT INTO plugins VALUES (?, ?)", [("a", "x"), ("b", "y")])
    return home


def _plant_definitions(build: V1HomeBuilder) -> None:
    build.agent(
        "planner",
        agent_md("Planner ☕", tags=["plan", "ünïcödé"], skills=["writing", "missing", "Bad!"]),
    )
    build.agent("long-name", agent_md("N" * 300))
    build.agent("日本語エージェント", agent_md("日本語のエージェント"))
    # CRLF line endings and an older comma-separated list.
    build.agent(
        "crlf-agent",
        "---\r\nname: CRLF Agent\r\ntags: a, b\r\nicon_color: 'red'\r\n---\r\n\r\n# CRLF\r\n",
    )
    build.agent("no-front-matter", "# Just a prompt\n\nNo header at all.\n")
    build.agent("latin1-agent", "---\nname: Caf\xe9 Agent\n---\nBody \xe9\n".encode("latin-1"))
    build.agent("duplicate-name", agent_md("Planner ☕"))
    build.agent("planner.deleted", agent_md("Old Planner"))
    broken = build.agent("broken-agent", None, **{"docs__notes.md": "notes"})
    (broken / "CLAUDE.md").symlink_to(broken / "missing-target.md")
    build.skill("writing", skill_md("Writing ✍", tags=["docs"], iconColor="#123456"))
    build.skill(
        "crlf-skill",
        "---\r\nname: CRLF Skill\r\ndescription: d\r\n---\r\n\r\nBody\r\n",
        **{"bin__tool.bin": b"\x00\xff\xfe binary"},
    )
    directory_skill = build.skill("dir-main", None)
    (directory_skill / "SKILL.md").mkdir()
    unreadable = build.skill("unreadable-extra", skill_md("Unreadable Extra"))
    (unreadable / "gone.md").symlink_to(unreadable / "nowhere.md")
    build.skill("old-skill.deleted", skill_md("Old Skill"))
    (build.root / "agents" / "README.txt").write_text("not an agent", encoding="utf-8")


def _plant_projects(build: V1HomeBuilder, home: HostileHome) -> None:
    first = build.project(
        name="Café ☕ 日本語 project",
        path="/home/kumi/code/same-path",
        team_member_ids=json.dumps(["planner", "ghost-agent", 7]),
    )
    second = build.project(name="Second, same path", path="/home/kumi/code/same-path")
    bad_team = build.project(
        name="   ", team_member_ids="[not json", pm_agent_id="planner", pm_session_id="later"
    )
    null_team = build.project(name="Null team", team_member_ids="null", pm_agent_id="planner")
    home.ids.update(
        project_first=first["id"],
        project_duplicate_path=second["id"],
        project_bad_team=bad_team["id"],
        project_pm_without_session=null_team["id"],
    )


def _plant_sessions_and_messages(build: V1HomeBuilder, home: HostileHome) -> None:
    project = home.ids["project_first"]
    paused = build.session(
        agent_id="planner",
        project_id=project,
        session_type="specialist",
        status="paused",
        context="{broken json",
    )
    done = build.session(agent_id="planner", project_id=project, session_type="pm", status="Done ")
    # Another project names this PM session as its own.
    bad_team = next(p for p in build.rows["projects"] if p["id"] == home.ids["project_bad_team"])
    bad_team["pm_session_id"] = done["id"]
    shouted = build.session(id=done["id"].upper(), status="idle")
    ghost = build.session(agent_id="ghost-agent", project_id=project, session_type="specialist")
    no_agent = build.session(agent_id="", project_id=project, session_type="specialist")
    orphan_session = build.session(
        agent_id="planner", project_id=new_id(), session_type="specialist", status="working"
    )
    reviewer = build.session(session_type="reviewer", status="interrupted")
    legacy = build.session(id="legacy-session-7", status="done")
    home.ids.update(
        session_unknown_status=paused["id"],
        session_done_padded=done["id"],
        session_ghost_agent=ghost["id"],
        session_specialist_without_agent=no_agent["id"],
        session_missing_project=orphan_session["id"],
        session_unknown_type=reviewer["id"],
        session_non_uuid=legacy["id"],
        session_upper_case_duplicate=shouted["id"],
    )
    _plant_messages(build, home, paused["id"], done["id"])
    build.message(legacy["id"], content="legacy")


def _plant_messages(build: V1HomeBuilder, home: HostileHome, session: str, pm: str) -> None:
    huge = "x" * (2 * 1024 * 1024)
    planted = {
        "message_unicode": build.message(session, content="héllo 👋 שלום 日本語 \u202e"),
        "message_empty": build.message(session, content=""),
        "message_huge": build.message(session, role="assistant", content=huge),
        "message_not_utf8": build.message(session, content=NotUtf8(b"caf\xe9 \xff end")),
        "message_nul": build.message(session, content="before\x00after"),
        "message_bad_metadata": build.message(session, metadata="{'python': 'dict'}"),
        "message_lone_surrogate": build.message(session, metadata='{"note": "\\ud800 lone"}'),
        "message_unknown_role": build.message(session, role="function", content="fn output"),
        "message_tool_without_name": build.message(
            session, role="tool", content="", metadata=json.dumps({"tool_args": [1, 2]})
        ),
        "message_tool_call": build.message(
            session,
            role="tool",
            content="",
            tool_use_id="toolu_dup",
            metadata=json.dumps({"tool_name": "Read", "tool_args": {"file_path": "/a"}}),
        ),
        "message_tool_result": build.message(
            session, role="tool_result", content="file text", tool_use_id="toolu_dup"
        ),
        "message_duplicate_call": build.message(
            session,
            role="tool",
            content="",
            tool_use_id="toolu_dup",
            metadata=json.dumps({"tool_name": "Bash", "tool_args": {"command": "ls"}}),
        ),
        "message_unpaired_result": build.message(
            session, role="tool_result", content="orphan result", tool_use_id="toolu_nowhere"
        ),
        "message_second_result": build.message(
            session, role="tool_result", content="again", tool_use_id="toolu_dup"
        ),
        "message_bad_timestamp": build.message(session, created_at="yesterday"),
        "message_bad_sequence": build.message(session, sequence="first"),
        "message_non_uuid": build.message(session, id="msg-1", content="legacy id"),
        "message_orphan": build.message(new_id(), content="my session is gone"),
        "message_cross_session": build.message(
            pm,
            content="from elsewhere",
            agent_id="planner",
            agent_name="Planner",
            from_instance_id=session,
        ),
    }
    home.huge_content_bytes = len(huge)
    home.ids.update({name: row["id"] for name, row in planted.items()})
    home.ids["orphan_message_session"] = planted["message_orphan"]["session_id"]


def _plant_other_rows(build: V1HomeBuilder, home: HostileHome) -> None:
    session = home.ids["session_unknown_status"]
    home.ids.update(
        activity_unknown_type=build.activity(event_type="agent_created")["id"],
        activity_missing_session=build.activity(session_id=new_id())["id"],
        activity_bad_json=build.activity(event_data="{oops")["id"],
        activity_without_id=build.activity(id="")["id"],
        profile_old=build.profile(updated_at="2025-01-01 00:00:00")["id"],
        profile_new=build.profile(
            settings=json.dumps(
                {"onboarding_completed": True, "onboarding_team": "dev", "theme": "dark"}
            ),
            updated_at="2026-01-01 00:00:00",
        )["id"],
        file_kept=build.session_file(session)["id"],
    )
    orphan_file = build.session_file(new_id())
    home.ids.update(file_orphan=orphan_file["id"], orphan_file_session=orphan_file["session_id"])
