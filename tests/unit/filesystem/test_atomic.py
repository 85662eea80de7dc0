"""Atomic writes replace content in one step and leave no temporary files behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kumiai.infrastructure.filesystem.atomic import atomic_write_bytes, atomic_write_text


def test_writes_a_new_file_and_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "note.md"
    atomic_write_text(target, "héllo\n")
    assert target.read_bytes() == "héllo\n".encode()


def test_replaces_existing_content_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "note.md"
    target.write_text("old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["note.md"]


def test_keeps_line_endings_as_given(tmp_path: Path) -> None:
    target = tmp_path / "crlf.txt"
    atomic_write_text(target, "a\r\nb\r\n")
    assert target.read_bytes() == b"a\r\nb\r\n"


def test_keeps_permission_bits_of_the_replaced_file(tmp_path: Path) -> None:
    target = tmp_path / "script.py"
    target.write_text("print(1)")
    target.chmod(0o750)
    atomic_write_text(target, "print(2)")
    assert stat.S_IMODE(target.stat().st_mode) == 0o750


def test_failed_replace_removes_the_temp_file_and_keeps_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "note.md"
    target.write_text("old")

    def refuse(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["note.md"]


def test_failed_fsync_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(descriptor: int) -> None:
        raise OSError("no fsync")

    monkeypatch.setattr(os, "fsync", refuse)
    with pytest.raises(OSError, match="no fsync"):
        atomic_write_text(tmp_path / "note.md", "new")
    assert list(tmp_path.iterdir()) == []


def test_directory_fsync_failure_does_not_fail_the_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def open_files_only(path: object, flags: int, *args: int) -> int:
        if flags == os.O_RDONLY:
            raise OSError("directories cannot be opened here")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", open_files_only)
    atomic_write_text(tmp_path / "note.md", "ok")
    assert (tmp_path / "note.md").read_text() == "ok"
