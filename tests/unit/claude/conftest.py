"""A working folder with a secret next to it, and the tool context pointing at it."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from kumiai.application.ports.tools import ToolContext


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the working folder that no tool may reach."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("top secret\n", encoding="utf-8")
    return folder


@pytest.fixture
def context(workdir: Path) -> ToolContext:
    return make_context(workdir)


def make_context(workdir: Path, *, bash_enabled: bool = True) -> ToolContext:
    return ToolContext(
        session_id=uuid4(),
        project_id=uuid4(),
        working_dir=str(workdir),
        session_type="specialist",
        bash_enabled=bash_enabled,
    )
