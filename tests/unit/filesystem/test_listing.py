"""list_tree gives a flat, recursive listing with directories as entries."""

from __future__ import annotations

import logging
from datetime import UTC
from pathlib import Path

import pytest

from kumiai.application.ports.files import FileEntry
from kumiai.infrastructure.filesystem.listing import list_tree


@pytest.fixture
def skill(tmp_path: Path) -> Path:
    folder = tmp_path / "skill"
    (folder / "scripts" / "lib").mkdir(parents=True)
    (folder / "SKILL.md").write_text("# S\n")
    (folder / "scripts" / "run.py").write_text("print(1)\n")
    (folder / "scripts" / "lib" / "util.py").write_text("")
    (folder / ".hidden").write_text("h")
    return folder


def _paths(entries: list[FileEntry]) -> list[str]:
    return [entry.path for entry in entries]


def test_lists_files_and_directories_flat_and_recursively(skill: Path) -> None:
    assert sorted(_paths(list_tree(skill))) == [
        ".hidden",
        "SKILL.md",
        "scripts",
        "scripts/lib",
        "scripts/lib/util.py",
        "scripts/run.py",
    ]


def test_entries_describe_name_size_kind_and_utc_time(skill: Path) -> None:
    entries = {entry.path: entry for entry in list_tree(skill)}
    script = entries["scripts/run.py"]
    assert (script.name, script.size, script.is_directory) == ("run.py", 9, False)
    assert entries["scripts/lib"].is_directory
    assert entries["scripts/lib"].size == 0
    assert entries["scripts/lib"].name == "lib"
    assert script.modified_at.tzinfo is UTC


def test_every_parent_directory_is_listed_before_its_children(skill: Path) -> None:
    paths = _paths(list_tree(skill))
    for index, path in enumerate(paths):
        if "/" in path:
            assert path.rsplit("/", 1)[0] in paths[:index]


def test_git_and_pycache_folders_are_skipped(skill: Path) -> None:
    (skill / ".git" / "objects").mkdir(parents=True)
    (skill / ".git" / "HEAD").write_text("ref")
    (skill / "scripts" / "__pycache__").mkdir()
    (skill / "scripts" / "__pycache__" / "run.cpython-311.pyc").write_bytes(b"\0")
    assert not any(".git" in p or "__pycache__" in p for p in _paths(list_tree(skill)))


def test_a_file_named_like_a_skipped_folder_is_listed(skill: Path) -> None:
    (skill / ".git").write_text("gitdir: ../elsewhere\n")  # a worktree's .git file
    assert ".git" in _paths(list_tree(skill))


def test_symlinks_leading_outside_are_left_out(skill: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s")
    (skill / "out-file").symlink_to(outside / "secret.txt")
    (skill / "out-dir").symlink_to(outside, target_is_directory=True)
    (skill / "broken").symlink_to(skill / "missing")
    paths = _paths(list_tree(skill))
    assert not {"out-file", "out-dir", "out-dir/secret.txt", "broken"} & set(paths)


def test_symlinks_inside_root_are_listed_but_not_descended(skill: Path) -> None:
    (skill / "alias.md").symlink_to(skill / "SKILL.md")
    (skill / "scripts" / "up").symlink_to(skill, target_is_directory=True)
    entries = {entry.path: entry for entry in list_tree(skill)}
    assert entries["alias.md"].size == 4
    assert entries["scripts/up"].is_directory
    assert not any(path.startswith("scripts/up/") for path in entries)


def test_listing_stops_at_max_entries_with_shallow_levels_first(
    skill: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        entries = list_tree(skill, max_entries=3)
    assert _paths(entries) == [".hidden", "SKILL.md", "scripts"]
    assert "cut at 3 entries" in caplog.text


def test_missing_root_lists_as_empty(tmp_path: Path) -> None:
    assert list_tree(tmp_path / "nope") == []


def test_symlink_loops_are_left_out(skill: Path) -> None:
    (skill / "loop-a").symlink_to(skill / "loop-b")
    (skill / "loop-b").symlink_to(skill / "loop-a")
    assert not {"loop-a", "loop-b"} & set(_paths(list_tree(skill)))
