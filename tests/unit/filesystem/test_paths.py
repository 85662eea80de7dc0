"""confine() keeps every user-supplied path inside its root folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kumiai.core.exceptions import PathNotAllowedError
from kumiai.infrastructure.filesystem.paths import confine


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    (folder / "docs").mkdir(parents=True)
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("secret")
    return folder


def test_nested_relative_path_resolves_inside_root(root: Path) -> None:
    assert confine(root, "docs/guide/intro.md") == root.resolve() / "docs/guide/intro.md"


def test_dot_names_the_root_itself(root: Path) -> None:
    assert confine(root, ".") == root.resolve()


def test_dotdot_that_stays_inside_is_allowed(root: Path) -> None:
    assert confine(root, "docs/../notes.md") == root.resolve() / "notes.md"


@pytest.mark.parametrize("relative", ["..", "../x", "docs/../../x", "docs/../../root2/a"])
def test_dotdot_escaping_root_is_rejected(root: Path, relative: str) -> None:
    with pytest.raises(PathNotAllowedError, match="outside"):
        confine(root, relative)


def test_absolute_path_is_rejected_by_default(root: Path) -> None:
    with pytest.raises(PathNotAllowedError, match="absolute"):
        confine(root, str(root / "docs" / "a.md"))


def test_absolute_path_inside_root_is_allowed_when_asked(root: Path) -> None:
    inside = str(root / "docs" / "a.md")
    assert confine(root, inside, allow_absolute=True) == root.resolve() / "docs" / "a.md"


def test_absolute_path_outside_root_is_rejected_even_when_allowed(
    root: Path, outside: Path
) -> None:
    with pytest.raises(PathNotAllowedError, match="outside"):
        confine(root, str(outside / "secret.txt"), allow_absolute=True)


@pytest.mark.parametrize("relative", ["", "   "])
def test_empty_path_is_rejected(root: Path, relative: str) -> None:
    with pytest.raises(PathNotAllowedError, match="empty"):
        confine(root, relative)


def test_nul_byte_is_rejected(root: Path) -> None:
    with pytest.raises(PathNotAllowedError, match="NUL"):
        confine(root, "docs/a\x00.md")


@pytest.mark.parametrize("relative", ["..\\..\\etc\\passwd", "docs\\a.md", "\\\\server\\share"])
def test_backslash_paths_are_rejected(root: Path, relative: str) -> None:
    with pytest.raises(PathNotAllowedError, match="separator"):
        confine(root, relative)


@pytest.mark.parametrize("relative", ["C:/Windows", "c:secret"])
def test_drive_letter_paths_are_rejected(root: Path, relative: str) -> None:
    with pytest.raises(PathNotAllowedError, match="drive"):
        confine(root, relative)


def test_symlinked_file_pointing_outside_is_rejected(root: Path, outside: Path) -> None:
    (root / "link.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(PathNotAllowedError, match="outside"):
        confine(root, "link.txt")


def test_symlinked_directory_pointing_outside_is_rejected(root: Path, outside: Path) -> None:
    (root / "docs" / "linked").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathNotAllowedError, match="outside"):
        confine(root, "docs/linked/secret.txt")
    with pytest.raises(PathNotAllowedError, match="outside"):
        confine(root, "docs/linked/not-yet-created.txt")


def test_symlink_pointing_inside_root_is_allowed(root: Path) -> None:
    (root / "docs" / "real.md").write_text("x")
    (root / "alias.md").symlink_to(root / "docs" / "real.md")
    assert confine(root, "alias.md") == root.resolve() / "docs" / "real.md"


def test_symlink_loop_is_rejected(root: Path) -> None:
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    with pytest.raises(PathNotAllowedError):
        confine(root, "loop-a/file")


def test_root_given_through_a_symlink_is_resolved(tmp_path: Path, root: Path) -> None:
    alias = tmp_path / "alias-root"
    alias.symlink_to(root, target_is_directory=True)
    assert confine(alias, "docs/a.md") == root.resolve() / "docs" / "a.md"


def test_rejection_carries_the_offending_path(root: Path) -> None:
    with pytest.raises(PathNotAllowedError) as caught:
        confine(root, "../x")
    assert caught.value.details == {"path": "../x"}
    assert caught.value.code == "path_not_allowed"
