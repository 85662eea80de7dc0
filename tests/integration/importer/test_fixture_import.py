"""The shared v1 fixture imports into exactly what its manifest says, and only once."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from kumiai.domain.value_objects.event_type import EventType
from kumiai.infrastructure.database.tables import (
    activity_logs,
    characters,
    messages,
    projects,
    sessions,
    skills,
    user_profiles,
)
from kumiai.infrastructure.filesystem.documents import AGENT_FORMAT, SKILL_FORMAT
from kumiai.infrastructure.importer import ImportOptions, ImportResult, run_import
from kumiai.infrastructure.importer.report import Outcome
from tests.integration.importer.conftest import fetch_all, quiet_console, table_counts
from tests.support.v1_homes import copy_fixture_home, file_digests, load_manifest

MANIFEST = load_manifest()
EXPECTED = MANIFEST["expected_after_import"]
SPECIAL = MANIFEST["special_rows"]


@dataclass
class FixtureRun:
    source: Path
    home: Path
    digests_before: dict[str, str]
    dry_run: ImportResult
    counts_before: dict[str, int]
    counts_after_dry_run: dict[str, int]
    folders_after_dry_run: list[Path]
    first: ImportResult
    counts_after_first: dict[str, int]
    second: ImportResult
    counts_after_second: dict[str, int]
    from_json: ImportResult
    counts_after_from_json: dict[str, int]


@pytest.fixture(scope="module")
async def run(
    import_database: str, import_engine: AsyncEngine, tmp_path_factory: pytest.TempPathFactory
) -> FixtureRun:
    """Dry run, import, import again, then import again from the first run's export."""
    scratch = tmp_path_factory.mktemp("fixture-import")
    source = copy_fixture_home(scratch / "v1-home")
    home = scratch / "v2-home"
    options = ImportOptions(database_url=import_database, home=home, source=source)
    digests_before = file_digests(source)
    counts_before = await table_counts(import_engine)
    dry_run = await run_import(dataclasses.replace(options, dry_run=True), quiet_console())
    counts_after_dry_run = await table_counts(import_engine)
    folders_after_dry_run = [
        path for path in (home / "characters", home / "skills") if path.exists()
    ]
    first = await run_import(options, quiet_console())
    counts_after_first = await table_counts(import_engine)
    second = await run_import(options, quiet_console())
    counts_after_second = await table_counts(import_engine)
    from_json = await run_import(
        ImportOptions(database_url=import_database, home=home, from_json=first.export_json),
        quiet_console(),
    )
    return FixtureRun(
        source=source,
        home=home,
        digests_before=digests_before,
        dry_run=dry_run,
        counts_before=counts_before,
        counts_after_dry_run=counts_after_dry_run,
        folders_after_dry_run=folders_after_dry_run,
        first=first,
        counts_after_first=counts_after_first,
        second=second,
        counts_after_second=counts_after_second,
        from_json=from_json,
        counts_after_from_json=await table_counts(import_engine),
    )


def _report(result: ImportResult) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(result.report_json.read_text(encoding="utf-8"))
    return report


async def _sessions(engine: AsyncEngine) -> dict[str, Any]:
    return {str(row.id): row for row in await fetch_all(engine, sa.select(sessions))}


async def _messages_by_session(engine: AsyncEngine) -> dict[str, list[Any]]:
    query = sa.select(messages).order_by(
        messages.c.session_id, messages.c.sequence, messages.c.created_at, messages.c.id
    )
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in await fetch_all(engine, query):
        grouped[str(row.session_id)].append(row)
    return grouped


# ---------------------------------------------------------------- dry run


def test_dry_run_validates_but_writes_nothing(run: FixtureRun) -> None:
    assert run.counts_before == dict.fromkeys(run.counts_before, 0)
    assert run.counts_after_dry_run == run.counts_before
    assert run.folders_after_dry_run == []
    report = _report(run.dry_run)
    assert report["dry_run"] is True
    assert report["outcome"] == Outcome.DRY_RUN.value
    assert report["validation"]["ok"] is True
    assert report["validation"]["messages"] == EXPECTED["messages"]
    assert "dry run" in run.dry_run.report_txt.read_text(encoding="utf-8")


# ---------------------------------------------------------------- counts and checksums


async def test_row_counts_match_the_manifest(run: FixtureRun, import_engine: AsyncEngine) -> None:
    assert run.first.report.outcome is Outcome.COMMITTED
    counts = run.counts_after_first
    assert counts["projects"] == EXPECTED["projects"]
    assert counts["sessions"] == EXPECTED["sessions"]
    assert counts["messages"] == EXPECTED["messages"]
    assert counts["user_profiles"] == EXPECTED["user_profiles"]
    # Plus the import's own import_completed row.
    assert counts["activity_logs"] == EXPECTED["activity_logs"] + 1
    assert counts["characters"] == EXPECTED["characters_from_folders"] + len(
        EXPECTED["placeholder_characters"]
    )
    assert counts["skills"] == EXPECTED["skills_from_folders"]
    live = {
        table.name: await _live_count(import_engine, table)
        for table in (projects, characters, skills)
    }
    assert live == {
        "projects": EXPECTED["projects_live"],
        "characters": EXPECTED["characters_live"],
        "skills": EXPECTED["skills_live"],
    }


async def _live_count(engine: AsyncEngine, table: sa.Table) -> int:
    query = sa.select(sa.func.count()).select_from(table).where(table.c.deleted_at.is_(None))
    return int((await fetch_all(engine, query))[0][0])


async def test_sessions_per_project_and_session_files(
    run: FixtureRun, import_engine: AsyncEngine
) -> None:
    rows = (await _sessions(import_engine)).values()
    per_project = Counter(str(row.project_id) if row.project_id else "null" for row in rows)
    assert dict(per_project) == EXPECTED["sessions_per_project"]
    files = [entry for row in rows for entry in row.context.get("v1_files", [])]
    assert len(files) == EXPECTED["session_files"]
    assert {entry["filename"] for entry in files} == {
        "checkout-spec.md",
        "checkout-spec_1.md",
        "mockup.png",
        "orders.csv",
    }


async def test_messages_per_session(run: FixtureRun, import_engine: AsyncEngine) -> None:
    grouped = await _messages_by_session(import_engine)
    found = {
        session_id: len(grouped.get(session_id, []))
        for session_id in await _sessions(import_engine)
    }
    assert found == MANIFEST["messages_per_session"] == EXPECTED["messages_per_session"]


async def test_content_checksums_match_the_manifest(
    run: FixtureRun, import_engine: AsyncEngine
) -> None:
    checksum = MANIFEST["content_checksum"]
    grouped = await _messages_by_session(import_engine)
    everything = "".join(
        row.content for session_id in sorted(grouped) for row in grouped[session_id]
    )
    assert _sha256(everything) == checksum["importable_rows"]["sha256"]
    assert sum(len(rows) for rows in grouped.values()) == checksum["importable_rows"]["rows"]
    per_session = {
        session_id: _sha256("".join(row.content for row in rows))
        for session_id, rows in grouped.items()
    }
    assert per_session == checksum["per_session"]
    assert run.first.report.validation["content_sha256"] == checksum["importable_rows"]["sha256"]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- mapped values


async def test_legacy_statuses_are_mapped(run: FixtureRun, import_engine: AsyncEngine) -> None:
    mapping = {
        entry["value"]: entry["v2_value"]
        for entry in MANIFEST["legacy_values"]
        if entry["table"] == "sessions" and entry["column"] == "status"
    }
    expected: Counter[str] = Counter()
    for status, count in MANIFEST["session_statuses"].items():
        expected[mapping.get(status, status)] += count
    rows = (await _sessions(import_engine)).values()
    assert Counter(row.status.value for row in rows) == expected
    interrupted = [row for row in rows if row.error_message == "interrupted by migration"]
    assert len(interrupted) == MANIFEST["session_statuses"]["working"]
    mapped = {(m["from"], m["to"]): m["count"] for m in _report(run.first)["mappings"]}
    for status, target in mapping.items():
        assert mapped[(status, target)] == MANIFEST["session_statuses"][status]


async def test_legacy_tool_rows_become_assistant_tool_calls(
    run: FixtureRun, import_engine: AsyncEngine
) -> None:
    rows = [row for group in (await _messages_by_session(import_engine)).values() for row in group]
    roles = MANIFEST["message_roles"]
    found = Counter(row.role.value for row in rows)
    assert found == {
        "user": roles["user"],
        "assistant": roles["assistant"] + roles["tool"],
        "system": roles["system"],
        "tool_result": roles["tool_result"],
    }
    calls = [row for row in rows if "tool_use" in row.metadata]
    assert len(calls) == MANIFEST["tool_calls"]["rows"]
    for call in calls:
        block = call.metadata["tool_use"]
        assert call.role.value == "assistant"
        assert set(block) == {"id", "name", "input"}
        assert block["id"] == call.tool_use_id
        assert isinstance(block["input"], dict) and block["name"]
    kept_ids = [call for call in calls if not call.tool_use_id.startswith("toolu_v1_")]
    assert len(kept_ids) == MANIFEST["tool_calls"]["with_tool_use_id"]
    generated = [call for call in calls if call.tool_use_id.startswith("toolu_v1_")]
    assert all(call.tool_use_id == f"toolu_v1_{call.id.hex}" for call in generated)


async def test_history_replays_to_claude(run: FixtureRun, import_engine: AsyncEngine) -> None:
    """Gapless sequences, and every tool result answers an earlier call of its session."""
    grouped = await _messages_by_session(import_engine)
    all_sessions = await _sessions(import_engine)
    for session_id, session in all_sessions.items():
        rows = grouped.get(session_id, [])
        assert [row.sequence for row in rows] == list(range(len(rows)))
        assert session.next_sequence == len(rows)
        calls: set[str] = set()
        for row in rows:
            if row.role.value == "assistant" and row.tool_use_id:
                calls.add(row.tool_use_id)
            if row.role.value == "tool_result":
                assert row.tool_use_id in calls
                assert isinstance(row.metadata["is_error"], bool)
    linked = sum(1 for rows in grouped.values() for r in rows if r.role.value == "tool_result")
    assert linked == MANIFEST["tool_calls"]["tool_results_linked_to_a_tool_row"]


async def test_sender_attribution_is_kept(run: FixtureRun, import_engine: AsyncEngine) -> None:
    query = sa.select(messages).where(
        messages.c.id.in_([UUID(value) for value in SPECIAL["cross_session_messages"]])
    )
    rows = await fetch_all(import_engine, query)
    assert len(rows) == len(SPECIAL["cross_session_messages"])
    for row in rows:
        assert row.sender_session_id is not None
        assert row.sender_name
        assert row.metadata["v1_agent_id"]


async def test_sequence_zero_rows_keep_v1_display_order(
    run: FixtureRun, import_engine: AsyncEngine
) -> None:
    """v1 shows rows sharing sequence 0 first, by created_at; they now open the session."""
    for duplicate in SPECIAL["sequence_zero_duplicates"]:
        ids = [UUID(value) for value in duplicate["message_ids"]]
        query = sa.select(messages.c.id, messages.c.sequence).where(messages.c.id.in_(ids))
        sequence_of = dict(await fetch_all(import_engine, query))
        assert [sequence_of[row_id] for row_id in ids] == list(range(len(ids)))


async def test_special_rows(run: FixtureRun, import_engine: AsyncEngine) -> None:
    all_sessions = await _sessions(import_engine)
    by_id = {str(row.id): row for row in await fetch_all(import_engine, sa.select(projects))}
    pm_project = by_id[SPECIAL["project_with_pm"]]
    assert str(pm_project.pm_session_id) == SPECIAL["pm_session"]
    pm_character = await fetch_all(
        import_engine,
        sa.select(characters.c.slug).where(characters.c.id == pm_project.pm_character_id),
    )
    assert pm_character[0][0] == "product-manager"
    assert all_sessions[SPECIAL["pm_session"]].session_type.value == "pm"
    assert by_id[SPECIAL["soft_deleted_project"]].deleted_at is not None
    assert by_id[SPECIAL["soft_deleted_project"]].team_character_ids == []
    assert by_id[SPECIAL["project_outside_home"]].path == "/home/kumi/code/q3-metrics"
    assert len(by_id[SPECIAL["project_outside_home"]].team_character_ids) == 3
    assert all_sessions[SPECIAL["soft_deleted_session"]].deleted_at is not None
    empty = all_sessions[SPECIAL["session_without_messages"]]
    assert (empty.status.value, empty.next_sequence) == ("initializing", 0)
    for session_id in SPECIAL["sessions_with_empty_agent_id"]:
        session = all_sessions[session_id]
        assert session.character_id is None
        assert session.session_type.value in {"assistant", "agent_assistant", "skill_assistant"}
    for row in all_sessions.values():
        assert row.created_at.tzinfo is not None


# ---------------------------------------------------------------- characters and skills


async def test_agents_become_characters_with_expected_fields(
    run: FixtureRun, import_engine: AsyncEngine
) -> None:
    rows = {row.slug: row for row in await fetch_all(import_engine, sa.select(characters))}
    for agent in MANIFEST["agents"]:
        row = rows[agent["id"]]
        expected = agent["expected"]
        assert {key: getattr(row, key) for key in expected} == expected
        assert (row.deleted_at is not None) is agent["deleted"]
        folder = (
            run.home
            / "characters"
            / (f"{agent['id']}.deleted" if agent["deleted"] else agent["id"])
        )
        assert row.file_path == str(folder / "agent.md")
        document = AGENT_FORMAT.parse((folder / "agent.md").read_text(encoding="utf-8"))
        assert {key: document.fields[key] for key in expected} == expected
        assert document.body.startswith("# ")
        for extra in agent["extra_files"]:
            assert (folder / extra).read_bytes() == (run.source / agent["dir"] / extra).read_bytes()


async def test_skills_keep_their_folders_and_fields(
    run: FixtureRun, import_engine: AsyncEngine
) -> None:
    rows = {row.slug: row for row in await fetch_all(import_engine, sa.select(skills))}
    for skill in MANIFEST["skills"]:
        row = rows[skill["id"]]
        expected = skill["expected"]
        assert {key: getattr(row, key) for key in expected} == expected
        assert (row.deleted_at is not None) is skill["deleted"]
        folder = (
            run.home / "skills" / (f"{skill['id']}.deleted" if skill["deleted"] else skill["id"])
        )
        assert row.file_path == str(folder)
        document = SKILL_FORMAT.parse((folder / "SKILL.md").read_text(encoding="utf-8"))
        assert {key: document.fields[key] for key in expected} == expected
        for extra in skill["extra_files"]:
            assert (folder / extra).read_bytes() == (run.source / skill["dir"] / extra).read_bytes()
    deleted = sorted(
        path.name for path in (run.home / "skills").iterdir() if ".deleted" in path.name
    )
    assert deleted == [Path(d).name for d in MANIFEST["filesystem"]["skills"]["deleted_dirs"]]


async def test_profile_onboarding_is_mapped(run: FixtureRun, import_engine: AsyncEngine) -> None:
    (profile,) = await fetch_all(import_engine, sa.select(user_profiles))
    assert profile.settings["onboarding"] == {"completed": True, "team": "dev"}
    assert profile.settings["tools"] == {"bash_enabled": True}


# ---------------------------------------------------------------- source, report, audit


def test_source_folder_is_unchanged(run: FixtureRun) -> None:
    assert file_digests(run.source) == run.digests_before
    for relative, described in MANIFEST["filesystem"]["files"].items():
        assert run.digests_before[relative] == described["sha256"]


def test_report_backup_and_export_are_written(run: FixtureRun) -> None:
    report = _report(run.first)
    assert report["format"] == "kumiai-v1-import-report"
    assert report["outcome"] == Outcome.COMMITTED.value
    assert report["counts"]["messages"]["inserted"] == EXPECTED["messages"]
    assert report["validation"]["ok"] is True
    (backup,) = report["files"]["backup"]
    assert Path(backup).read_bytes() == (run.source / "kumiai.db").read_bytes()
    export = json.loads(run.first.export_json.read_text(encoding="utf-8"))
    assert len(export["tables"]["messages"]) == MANIFEST["counts"]["messages"]
    assert run.first.report_txt.read_text(encoding="utf-8").startswith("KumiAI v1 import")
    assert run.first.report_json.parent == run.home / "imports" / run.first.report.import_id


def test_bad_rows_marked_for_the_report_are_in_it(run: FixtureRun) -> None:
    entries = {(e["table"], e["row_id"]) for e in _report(run.first)["entries"]}
    for bad in MANIFEST["bad_rows"]:
        if bad.get("report"):
            assert (bad["table"], bad["id"]) in entries, bad
    assert EXPECTED["reported_rows"] == len(MANIFEST["bad_rows"])


async def test_import_is_recorded_for_undo(run: FixtureRun, import_engine: AsyncEngine) -> None:
    query = sa.select(activity_logs).where(activity_logs.c.event_type == EventType.IMPORT_COMPLETED)
    (row,) = await fetch_all(import_engine, query)
    assert str(row.id) == run.first.report.import_id
    created = row.event_data["created"]
    assert len(created["sessions"]) == EXPECTED["sessions"]
    assert len(created["projects"]) == EXPECTED["projects"]
    assert len(created["characters"]) == EXPECTED["characters_from_folders"]
    assert len(created["skills"]) == EXPECTED["skills_from_folders"]
    assert len(created["activity_logs"]) == EXPECTED["activity_logs"]
    assert len(row.event_data["folders_created"]) == (
        EXPECTED["characters_from_folders"] + EXPECTED["skills_from_folders"]
    )


# ---------------------------------------------------------------- idempotency


def test_second_run_changes_nothing_and_says_so(run: FixtureRun) -> None:
    assert run.counts_after_second == run.counts_after_first
    assert run.second.report.outcome is Outcome.NOTHING_TO_DO
    for table, counts in _report(run.second)["counts"].items():
        assert counts["inserted"] == counts["updated"] == 0, table
        assert counts["existing"] == counts["planned"], table
    assert "nothing changed" in run.second.report_txt.read_text(encoding="utf-8")


def test_rerun_from_the_json_export_changes_nothing(run: FixtureRun) -> None:
    assert run.from_json.report.outcome is Outcome.NOTHING_TO_DO
    assert run.counts_after_from_json == run.counts_after_first
