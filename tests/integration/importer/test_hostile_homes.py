"""Bad v1 data never aborts an import and is never silently dropped."""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from kumiai.domain.value_objects.message_role import MessageRole
from kumiai.domain.value_objects.session_type import SessionType
from kumiai.infrastructure.database.tables import (
    characters,
    messages,
    metadata,
    projects,
    sessions,
    skills,
    user_profiles,
)
from kumiai.infrastructure.filesystem.documents import AGENT_FORMAT
from kumiai.infrastructure.importer import (
    ImportOptions,
    ImportResult,
    ImportSourceError,
    pipeline,
    run_import,
)
from kumiai.infrastructure.importer.legacy import is_canonical_uuid
from kumiai.infrastructure.importer.plan import ImportPlan
from kumiai.infrastructure.importer.report import Outcome
from tests.integration.importer.conftest import fetch_all, quiet_console, table_counts
from tests.support.v1_homes import (
    HostileHome,
    copy_fixture_home,
    exclusive_lock,
    file_digests,
    load_manifest,
    make_hostile_home,
)

# (table, planted id or folder, action, part of the reason) for every planted problem.
EXPECTED_ENTRIES = [
    ("sessions", "session_unknown_status", "mapped", "unknown status 'paused'"),
    ("sessions", "session_unknown_status", "kept", "context: malformed JSON"),
    ("sessions", "session_specialist_without_agent", "repaired", "as an 'assistant' session"),
    ("sessions", "session_missing_project", "repaired", "imported without a project"),
    ("sessions", "session_unknown_type", "mapped", "unknown session type 'reviewer'"),
    ("sessions", "session_non_uuid", "repaired", "re-keyed"),
    ("sessions", "orphan_message_session", "repaired", "messages refer to missing session"),
    ("sessions", "orphan_file_session", "repaired", "session files refer to missing session"),
    ("messages", "message_not_utf8", "repaired", "not valid UTF-8"),
    ("messages", "message_nul", "repaired", "NUL characters"),
    ("messages", "message_bad_metadata", "kept", "metadata: malformed JSON"),
    ("messages", "message_lone_surrogate", "repaired", "lone surrogates replaced"),
    ("messages", "message_unknown_role", "mapped", "unknown role 'function'"),
    ("messages", "message_tool_without_name", "repaired", "without a tool name"),
    ("messages", "message_duplicate_call", "repaired", "used twice in the session"),
    ("messages", "message_unpaired_result", "repaired", "kept as a system message"),
    ("messages", "message_second_result", "repaired", "kept as a system message"),
    ("messages", "message_bad_timestamp", "repaired", "is not a timestamp"),
    ("messages", "message_bad_sequence", "repaired", "is not a number"),
    ("messages", "message_non_uuid", "repaired", "re-keyed"),
    ("messages", "message_cross_session", "repaired", "id already used by a message of another"),
    ("projects", "project_duplicate_path", "repaired", "imported as soft-deleted"),
    ("projects", "project_bad_team", "repaired", "not a JSON list"),
    ("projects", "project_bad_team", "repaired", "name is empty"),
    ("projects", "project_bad_team", "repaired", "PM session belongs to another project"),
    ("sessions", "session_upper_case_duplicate", "repaired", "duplicate id"),
    ("projects", "project_first", "repaired", "dropped team member 7"),
    ("projects", "project_pm_without_session", "repaired", "PM not kept"),
    ("projects", "project_first", "repaired", "is used by live project"),
    ("activity_logs", "activity_unknown_type", "mapped", "imported as 'character_created'"),
    ("activity_logs", "activity_missing_session", "repaired", "does not exist"),
    ("activity_logs", "activity_bad_json", "kept", "malformed JSON"),
    ("user_profiles", "profile_old", "skipped", "v2 keeps one profile"),
]
EXPECTED_FOLDER_ENTRIES = [
    ("agents", "日本語エージェント", "repaired", "is not usable as a v2 slug"),
    ("agents", "crlf-agent", "repaired", "icon colour 'red'"),
    ("agents", "latin1-agent", "repaired", "not valid UTF-8"),
    ("agents", "no-front-matter", "repaired", "named 'No Front Matter'"),
    ("agents", "broken-agent", "repaired", "CLAUDE.md cannot be read"),
    ("agents", "planner.deleted", "repaired", "is already taken"),
    ("agents", "planner", "repaired", "renamed to 'Planner ☕ (2)'"),
    ("agents", "ghost-agent", "repaired", "placeholder character"),
    ("agents", "planner", "kept", "skill 'missing' has no folder"),
    ("agents", "planner", "repaired", "dropped skill reference 'Bad!'"),
    ("agents", "long-name", "repaired", "name cut to 200 characters"),
    # Clashes with rows made in v2 before the import (see _seed_v2_rows).
    ("characters", "no-front-matter", "repaired", "renamed to 'No Front Matter (v1)'"),
    ("skills", "dir-main", "repaired", "SKILL.md is missing"),
    ("files", "agents/README.txt", "skipped", "not an agent folder"),
    ("files", "agents/broken-agent/CLAUDE.md", "skipped", "unreadable file"),
    ("files", "skills/unreadable-extra/gone.md", "skipped", "unreadable file"),
    ("alembic_version", "composite_msg_idx", "skipped", "schema version marker"),
    ("plugins", None, "skipped", "unknown table with 2 rows"),
    ("activity_logs", "", "skipped", "row has no id"),
]


@dataclass
class HostileRun:
    planted: HostileHome
    home: Path
    result: ImportResult
    digests_before: dict[str, str]

    def entries(self) -> list[dict[str, Any]]:
        report = json.loads(self.result.report_json.read_text(encoding="utf-8"))
        entries: list[dict[str, Any]] = report["entries"]
        return entries

    def uuid(self, name: str) -> uuid.UUID:
        return uuid.UUID(self.planted.ids[name])


async def _seed_v2_rows(engine: AsyncEngine, home: Path) -> None:
    """A character and a project made in v2 whose name and path a v1 row also uses."""
    async with engine.begin() as connection:
        await connection.execute(
            characters.insert().values(
                slug="made-in-v2",
                name="No Front Matter",
                file_path=str(home / "characters" / "made-in-v2" / "agent.md"),
            )
        )
        await connection.execute(
            projects.insert().values(name="Mine", path="/home/kumi/code/same-path")
        )


async def _seed_message_with_id(engine: AsyncEngine, message_id: uuid.UUID) -> None:
    """A v2 message that happens to use the id of a v1 message of another session."""
    session_id = uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(
            sessions.insert().values(id=session_id, session_type=SessionType.ASSISTANT)
        )
        await connection.execute(
            messages.insert().values(
                id=message_id, session_id=session_id, role=MessageRole.USER, sequence=0
            )
        )


@pytest.fixture(scope="module")
async def run(
    import_database: str, import_engine: AsyncEngine, tmp_path_factory: pytest.TempPathFactory
) -> HostileRun:
    scratch = tmp_path_factory.mktemp("hostile")
    await _seed_v2_rows(import_engine, scratch / "v2")
    planted = make_hostile_home(scratch / "v1")
    await _seed_message_with_id(import_engine, uuid.UUID(planted.ids["message_cross_session"]))
    digests = file_digests(planted.root)
    options = ImportOptions(database_url=import_database, home=scratch / "v2", source=planted.root)
    result = await run_import(options, quiet_console())
    return HostileRun(planted, scratch / "v2", result, digests)


def test_the_import_commits_and_validates(run: HostileRun) -> None:
    assert run.result.report.outcome is Outcome.COMMITTED, run.result.report.error
    assert run.result.report.validation["ok"] is True
    assert file_digests(run.planted.root) == run.digests_before


@pytest.mark.parametrize(("table", "planted", "action", "reason"), EXPECTED_ENTRIES)
def test_each_planted_row_is_in_the_report(
    run: HostileRun, table: str, planted: str, action: str, reason: str
) -> None:
    row_id = run.planted.ids[planted]
    assert any(
        entry["table"] == table
        and entry["row_id"] == row_id
        and entry["action"] == action
        and reason in entry["reason"]
        for entry in run.entries()
    ), (table, row_id, action, reason)


@pytest.mark.parametrize(("table", "row_id", "action", "reason"), EXPECTED_FOLDER_ENTRIES)
def test_each_planted_file_or_table_problem_is_in_the_report(
    run: HostileRun, table: str, row_id: str | None, action: str, reason: str
) -> None:
    assert any(
        entry["table"] == table
        and entry["row_id"] == row_id
        and entry["action"] == action
        and reason in entry["reason"]
        for entry in run.entries()
    ), (table, row_id, action, reason)


# ---------------------------------------------------------------- nothing goes missing


def _source_ids(database: Path, table: str) -> list[str]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    connection.text_factory = lambda data: data.decode("utf-8", errors="replace")
    try:
        return [row[0] for row in connection.execute(f"SELECT id FROM {table}")]
    finally:
        connection.close()


async def test_every_source_row_is_imported_or_reported(
    run: HostileRun, import_engine: AsyncEngine
) -> None:
    reported = {(entry["table"], entry["row_id"]) for entry in run.entries()}
    database = run.planted.root / "kumiai.db"
    for table in ("projects", "sessions", "messages", "activity_logs", "user_profiles"):
        imported = {
            str(row[0])
            for row in await fetch_all(import_engine, sa.select(metadata.tables[table].c.id))
        }
        for raw in _source_ids(database, table):
            found = is_canonical_uuid(raw) and raw in imported
            assert found or (table, raw) in reported, (table, raw)
    contexts = await fetch_all(import_engine, sa.select(sessions.c.context))
    carried = {entry["id"] for (context,) in contexts for entry in context.get("v1_files", [])}
    assert set(_source_ids(database, "session_files")) <= carried


async def test_every_definition_folder_and_file_is_imported_or_reported(
    run: HostileRun, import_engine: AsyncEngine
) -> None:
    reported = {(entry["table"], entry["row_id"]) for entry in run.entries()}
    for kind, table, main in (("agents", characters, "CLAUDE.md"), ("skills", skills, "SKILL.md")):
        slugs = {row[0] for row in await fetch_all(import_engine, sa.select(table.c.slug))}
        v2_root = run.home / ("characters" if kind == "agents" else "skills")
        copied = {
            path.relative_to(folder).as_posix()
            for folder in v2_root.iterdir()
            for path in folder.rglob("*")
            if path.is_file()
        }
        for entry in (run.planted.root / kind).iterdir():
            if not entry.is_dir():
                assert ("files", f"{kind}/{entry.name}") in reported
                continue
            slug = entry.name.removesuffix(".deleted")
            assert slug in slugs or (kind, entry.name) in reported, entry
            for path in entry.rglob("*"):
                relative = path.relative_to(entry).as_posix()
                if path.is_dir() or relative == main:
                    continue
                in_report = ("files", f"{kind}/{entry.name}/{relative}") in reported
                assert relative in copied or in_report, path


# ---------------------------------------------------------------- what the rows look like


async def _message(engine: AsyncEngine, row_id: uuid.UUID) -> Any:
    (row,) = await fetch_all(engine, sa.select(messages).where(messages.c.id == row_id))
    return row


async def test_text_survives_or_is_repaired_visibly(
    run: HostileRun, import_engine: AsyncEngine
) -> None:
    unicode = await _message(import_engine, run.uuid("message_unicode"))
    assert unicode.content == "héllo 👋 שלום 日本語 \u202e"
    assert (await _message(import_engine, run.uuid("message_empty"))).content == ""
    huge = await _message(import_engine, run.uuid("message_huge"))
    assert len(huge.content) == run.planted.huge_content_bytes
    not_utf8 = await _message(import_engine, run.uuid("message_not_utf8"))
    assert not_utf8.content == "caf\ufffd \ufffd end"
    nul = await _message(import_engine, run.uuid("message_nul"))
    assert nul.content == "before\ufffdafter"
    bad_metadata = await _message(import_engine, run.uuid("message_bad_metadata"))
    assert bad_metadata.metadata["_raw"] == "{'python': 'dict'}"
    surrogate = await _message(import_engine, run.uuid("message_lone_surrogate"))
    assert surrogate.metadata["note"] == "\ufffd lone"
    (project,) = await fetch_all(
        import_engine, sa.select(projects.c.name).where(projects.c.id == run.uuid("project_first"))
    )
    assert project[0] == "Café ☕ 日本語 project"


async def test_roles_and_tool_calls_are_repaired(
    run: HostileRun, import_engine: AsyncEngine
) -> None:
    unknown = await _message(import_engine, run.uuid("message_unknown_role"))
    assert (unknown.role.value, unknown.metadata["v1_role"]) == ("system", "function")
    nameless = await _message(import_engine, run.uuid("message_tool_without_name"))
    assert nameless.metadata["tool_use"]["name"] == "unknown_tool"
    assert nameless.metadata["tool_use"]["input"] == {"_value": [1, 2]}
    result = await _message(import_engine, run.uuid("message_tool_result"))
    assert (result.role.value, result.tool_use_id) == ("tool_result", "toolu_dup")
    for name in ("message_unpaired_result", "message_second_result"):
        converted = await _message(import_engine, run.uuid(name))
        assert converted.role.value == "system" and converted.tool_use_id is None
        assert converted.metadata["v1_role"] == "tool_result"
    last = await _message(import_engine, run.uuid("message_bad_sequence"))
    assert last.sequence == max(
        row.sequence
        for row in await fetch_all(
            import_engine, sa.select(messages).where(messages.c.session_id == last.session_id)
        )
    )


async def test_orphans_are_kept_in_assistant_sessions(
    run: HostileRun, import_engine: AsyncEngine
) -> None:
    orphan = await _message(import_engine, run.uuid("message_orphan"))
    assert orphan.session_id == run.uuid("orphan_message_session")
    all_sessions = {row.id: row for row in await fetch_all(import_engine, sa.select(sessions))}
    holder = all_sessions[orphan.session_id]
    assert (holder.session_type.value, holder.project_id) == ("assistant", None)
    lost_project = all_sessions[run.uuid("session_missing_project")]
    assert lost_project.session_type.value == "assistant"
    assert lost_project.context["v1_session_type"] == "specialist"
    assert lost_project.error_message == "interrupted by migration"
    no_agent = all_sessions[run.uuid("session_specialist_without_agent")]
    assert (no_agent.session_type.value, no_agent.character_id) == ("assistant", None)
    paused = all_sessions[run.uuid("session_unknown_status")]
    assert (paused.status.value, paused.context["v1_status"]) == ("error", "paused")
    assert paused.context["_raw"] == "{broken json"
    assert [f["id"] for f in paused.context["v1_files"]] == [run.planted.ids["file_kept"]]
    file_holder = all_sessions[run.uuid("orphan_file_session")]
    assert [f["id"] for f in file_holder.context["v1_files"]] == [run.planted.ids["file_orphan"]]
    legacy = await fetch_all(
        import_engine, sa.select(messages.c.content).where(messages.c.content == "legacy")
    )
    assert len(legacy) == 1


async def test_missing_agents_get_soft_deleted_placeholders(
    run: HostileRun, import_engine: AsyncEngine
) -> None:
    rows = {row.slug: row for row in await fetch_all(import_engine, sa.select(characters))}
    ghost = rows["ghost-agent"]
    assert ghost.deleted_at is not None
    (session,) = await fetch_all(
        import_engine, sa.select(sessions).where(sessions.c.id == run.uuid("session_ghost_agent"))
    )
    assert (session.character_id, session.session_type.value) == (ghost.id, "specialist")
    (team,) = await fetch_all(
        import_engine,
        sa.select(projects.c.team_character_ids).where(projects.c.id == run.uuid("project_first")),
    )
    assert set(team[0]) == {rows["planner"].id, ghost.id}
    assert (run.home / "characters" / "ghost-agent.deleted" / "agent.md").is_file()


async def test_definition_files_are_normalised(run: HostileRun, import_engine: AsyncEngine) -> None:
    rows = {row.slug: row for row in await fetch_all(import_engine, sa.select(characters))}
    crlf = (run.home / "characters" / "crlf-agent" / "agent.md").read_text(encoding="utf-8")
    assert "\r" not in crlf
    assert AGENT_FORMAT.parse(crlf).fields["tags"] == rows["crlf-agent"].tags == ["a", "b"]
    # Named after its folder, then renamed: a v2 character already had that name.
    assert rows["no-front-matter"].name == "No Front Matter (v1)"
    no_header = AGENT_FORMAT.parse(
        (run.home / "characters" / "no-front-matter" / "agent.md").read_text(encoding="utf-8")
    )
    assert no_header.fields["name"] == "No Front Matter (v1)"
    assert "No header at all." in no_header.body
    assert len(rows["long-name"].name) == 200
    japanese = next(row for row in rows.values() if row.name == "日本語のエージェント")
    assert japanese.slug.startswith("agent-")
    assert rows["planner-2"].deleted_at is not None
    binary = run.home / "skills" / "crlf-skill" / "bin" / "tool.bin"
    assert binary.read_bytes() == b"\x00\xff\xfe binary"
    (writing,) = await fetch_all(import_engine, sa.select(skills).where(skills.c.slug == "writing"))
    assert (writing.name, writing.icon_color) == ("Writing ✍", "#123456")


async def test_newest_profile_wins(run: HostileRun, import_engine: AsyncEngine) -> None:
    (profile,) = await fetch_all(import_engine, sa.select(user_profiles))
    assert profile.id == run.uuid("profile_new")
    assert profile.settings["onboarding"] == {"completed": True, "team": "dev"}
    assert profile.settings["preferences"] == {"theme": "dark"}


# ---------------------------------------------------------------- unreadable sources


async def test_missing_database_is_a_clear_error(import_database: str, tmp_path: Path) -> None:
    home = tmp_path / "v1"
    (home / "agents").mkdir(parents=True)
    options = ImportOptions(database_url=import_database, home=tmp_path / "v2", source=home)
    with pytest.raises(ImportSourceError, match=r"no kumiai\.db"):
        await run_import(options, quiet_console())
    assert not (tmp_path / "v2").exists()


async def test_corrupt_database_is_a_clear_error(import_database: str, tmp_path: Path) -> None:
    home = tmp_path / "v1"
    home.mkdir()
    (home / "kumiai.db").write_bytes(b"this is not a database" * 100)
    options = ImportOptions(database_url=import_database, home=tmp_path / "v2", source=home)
    with pytest.raises(ImportSourceError, match="cannot read"):
        await run_import(options, quiet_console())


async def test_database_that_is_a_folder_is_a_clear_error(
    import_database: str, tmp_path: Path
) -> None:
    home = tmp_path / "v1"
    (home / "kumiai.db").mkdir(parents=True)
    options = ImportOptions(database_url=import_database, home=tmp_path / "v2", source=home)
    with pytest.raises(ImportSourceError, match="not a file"):
        await run_import(options, quiet_console())


async def test_a_locked_database_still_reads(
    run: HostileRun, import_database: str, import_engine: AsyncEngine, tmp_path: Path
) -> None:
    source = copy_fixture_home(tmp_path / "v1")
    database = source / "kumiai.db"
    counts = await table_counts(import_engine)
    with exclusive_lock(database):
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite3.connect(database, timeout=0).execute("SELECT count(*) FROM messages")
        options = ImportOptions(
            database_url=import_database, home=tmp_path / "v2", source=source, dry_run=True
        )
        result = await run_import(options, quiet_console())
    assert result.report.outcome is Outcome.DRY_RUN
    assert result.report.validation["messages"] == load_manifest()["counts"]["messages"]
    assert await table_counts(import_engine) == counts


async def test_a_validation_mismatch_rolls_everything_back(
    run: HostileRun,
    import_database: str,
    import_engine: AsyncEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fault injection: the source side of one session's checksum is made wrong."""
    original = pipeline.build_plan

    def tampered(*args: Any, **kwargs: Any) -> ImportPlan:
        plan = original(*args, **kwargs)
        contents = next(contents for contents in plan.expected.values() if contents)
        contents[0] += " (tampered)"
        return plan

    monkeypatch.setattr(pipeline, "build_plan", tampered)
    counts = await table_counts(import_engine)
    options = ImportOptions(
        database_url=import_database,
        home=tmp_path / "v2",
        source=copy_fixture_home(tmp_path / "v1"),
    )
    result = await run_import(options, quiet_console())
    assert not result.ok
    assert "message contents or order differ" in (result.report.error or "")
    assert "content checksum differs" in (result.report.error or "")
    assert await table_counts(import_engine) == counts
    assert not (tmp_path / "v2" / "characters").exists()
    report = json.loads(result.report_json.read_text(encoding="utf-8"))
    assert report["outcome"] == Outcome.FAILED.value
    assert report["validation"]["ok"] is False
    assert "backup" not in report["files"]
