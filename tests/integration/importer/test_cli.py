"""``kumiai import-v1`` as a user runs it: a real process, exit codes and messages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.importer.conftest import table_counts
from tests.support.v1_homes import copy_fixture_home, load_manifest

pytestmark = pytest.mark.slow


def _kumiai(home: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("KUMIAI_")}
    environment["KUMIAI_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "kumiai", "import-v1", *arguments],
        cwd=home.parent,  # away from any .env in the repository
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_import_then_undo_through_the_cli(
    import_database: str, import_engine: AsyncEngine, tmp_path: Path
) -> None:
    source = copy_fixture_home(tmp_path / "v1")
    home = tmp_path / "v2"
    before = await table_counts(import_engine)

    report = tmp_path / "audit" / "first.json"
    imported = _kumiai(
        home, "--from", str(source), "--database-url", import_database, "--report", str(report)
    )
    assert imported.returncode == 0, imported.stderr
    assert report.is_file() and report.with_suffix(".txt").is_file()
    assert (report.parent / "export.json").is_file()
    assert "[5/5] backup and report" in imported.stderr
    match = re.search(r"import (\S+): committed", imported.stdout)
    assert match, imported.stdout
    counts = await table_counts(import_engine)
    assert counts["messages"] == load_manifest()["counts"]["messages"]
    assert (home / "characters" / "qa-tester" / "agent.md").is_file()

    undone = _kumiai(home, "--undo", match.group(1), "--database-url", import_database)
    assert undone.returncode == 0, undone.stderr
    assert "deleted" in undone.stdout
    after = await table_counts(import_engine)
    assert {k: v for k, v in after.items() if k != "activity_logs"} == {
        k: v for k, v in before.items() if k != "activity_logs"
    }
    assert not (home / "characters" / "qa-tester").exists()


def test_a_home_without_kumiai_db_exits_with_code_1(import_database: str, tmp_path: Path) -> None:
    empty = tmp_path / "not-a-v1-home"
    empty.mkdir()
    result = _kumiai(tmp_path / "v2", "--from", str(empty), "--database-url", import_database)
    assert result.returncode == 1
    assert "no kumiai.db" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_import_id_exits_with_code_1(import_database: str, tmp_path: Path) -> None:
    result = _kumiai(
        tmp_path / "v2",
        "--undo",
        "00000000-0000-0000-0000-000000000000",
        "--database-url",
        import_database,
    )
    assert result.returncode == 1
    assert "no import with id" in result.stderr
