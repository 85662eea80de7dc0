"""Copying a skill folder from elsewhere on this machine into a definition store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kumiai.core.exceptions import (
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    ValidationError,
)
from kumiai.infrastructure.filesystem.stores import DefinitionFolderStore


@pytest.fixture
def store(tmp_path: Path) -> DefinitionFolderStore:
    return DefinitionFolderStore(
        tmp_path / "skills", "SKILL.md", kind="skill", max_import_bytes=100
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "download" / "pdf"
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text("---\nname: PDF\n---\n")
    (folder / "scripts" / "run.py").write_text("pass\n")
    return folder


def test_the_folder_is_copied_without_links_or_version_control(
    store: DefinitionFolderStore, source: Path, tmp_path: Path
) -> None:
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref")
    (source / "outside").symlink_to(tmp_path)

    left_out = store.copy_in("pdf", str(source))

    assert left_out == ["outside"]
    assert sorted(entry.path for entry in store.list_files("pdf")) == [
        "SKILL.md",
        "scripts",
        "scripts/run.py",
    ]
    assert not (tmp_path / "skills" / "pdf" / "outside").exists()
    assert (source / "SKILL.md").is_file()  # a copy, not a move


def test_a_taken_slug_is_a_conflict(store: DefinitionFolderStore, source: Path) -> None:
    store.copy_in("pdf", str(source))
    with pytest.raises(ConflictError):
        store.copy_in("pdf", str(source))


def test_a_source_over_the_cap_is_refused_and_leaves_nothing(
    store: DefinitionFolderStore, source: Path, tmp_path: Path
) -> None:
    (source / "big.bin").write_bytes(b"x" * 101)

    with pytest.raises(PayloadTooLargeError):
        store.copy_in("pdf", str(source))

    assert not (tmp_path / "skills").exists() or list((tmp_path / "skills").iterdir()) == []


def test_a_source_must_be_a_folder_with_the_main_document(
    store: DefinitionFolderStore, source: Path
) -> None:
    (source / "SKILL.md").unlink()
    with pytest.raises(ValidationError, match=r"SKILL\.md"):
        store.copy_in("pdf", str(source))
    with pytest.raises(NotFoundError):
        store.copy_in("pdf", str(source / "missing"))


def test_a_folder_holding_the_store_is_refused(tmp_path: Path) -> None:
    store = DefinitionFolderStore(tmp_path / "home" / "skills", "SKILL.md", kind="skill")
    (tmp_path / "home" / "skills").mkdir(parents=True)
    (tmp_path / "home" / "SKILL.md").write_text("---\nname: Home\n---\n")

    with pytest.raises(ValidationError, match="library"):
        store.copy_in("home", str(tmp_path / "home"))


def test_special_files_are_left_out_and_reported(
    store: DefinitionFolderStore, source: Path, tmp_path: Path
) -> None:
    os.mkfifo(source / "scripts" / "pipe")

    assert store.copy_in("pdf", str(source)) == ["scripts/pipe"]
    assert not (tmp_path / "skills" / "pdf" / "scripts" / "pipe").exists()


def test_a_scan_finds_the_source_itself_when_it_holds_the_main_document(
    store: DefinitionFolderStore, source: Path
) -> None:
    scan = store.scan(str(source))

    assert [(found.folder, found.path) for found in scan.found] == [(str(source), "")]
    assert scan.found[0].document.startswith("---\nname: PDF")


def test_a_scan_finds_every_skill_below_without_entering_one_or_following_links(
    store: DefinitionFolderStore, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    for folder in ("skills/pdf", "skills/pdf/examples/inner", ".claude/skills/docx", ".git/x"):
        (repo / folder).mkdir(parents=True)
        (repo / folder / "SKILL.md").write_text("---\nname: X\n---\n")
    (repo / "README.md").write_text("hello")
    (repo / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    (repo / "fake").mkdir()
    (repo / "fake" / "SKILL.md").symlink_to(repo / "skills" / "pdf" / "SKILL.md")

    scan = store.scan(str(repo))

    assert [found.path for found in scan.found] == [".claude/skills/docx", "skills/pdf"]
    assert scan.skipped == ["fake/SKILL.md", "linked"]


def test_a_scan_of_a_folder_without_skills_finds_nothing(
    store: DefinitionFolderStore, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    assert store.scan(str(tmp_path / "empty")).found == []
    with pytest.raises(NotFoundError):
        store.scan(str(tmp_path / "missing"))
