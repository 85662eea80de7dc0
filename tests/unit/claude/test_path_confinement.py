"""Every file tool refuses paths that lead out of the working folder, as an error outcome."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kumiai.application.ports.tools import ToolContext
from kumiai.infrastructure.claude.tools import EditTool, GlobTool, GrepTool, ReadTool, WriteTool
from kumiai.infrastructure.claude.tools.base import BuiltinTool

# How each attack names the secret file and the folder holding it.
ATTACKS: dict[str, tuple[str, str]] = {
    "dot-dot": ("../outside/secret.txt", "../outside"),
    "absolute": ("{outside}/secret.txt", "{outside}"),
    "symlinked-folder": ("link/secret.txt", "link"),
    "symlinked-file": ("leak.txt", "link"),
    "nul-byte": ("secret\x00.txt", "sub\x00dir"),
}

ArgumentsFor = Callable[[str, str], dict[str, Any]]

# Each tool with how it is called on an attack's (file, folder) pair.
TOOLS: dict[str, tuple[type[BuiltinTool], ArgumentsFor]] = {
    "Read": (ReadTool, lambda file, _folder: {"file_path": file}),
    "Write": (WriteTool, lambda file, _folder: {"file_path": file, "content": "pwned"}),
    "Edit": (
        EditTool,
        lambda file, _folder: {"file_path": file, "old_string": "top", "new_string": "pwned"},
    ),
    "Glob": (GlobTool, lambda _file, folder: {"pattern": "*", "path": folder}),
    "Grep-file": (GrepTool, lambda file, _folder: {"pattern": "secret", "path": file}),
    "Grep-folder": (GrepTool, lambda _file, folder: {"pattern": "secret", "path": folder}),
}


def names_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.fixture
def links(workdir: Path, outside: Path) -> None:
    (workdir / "link").symlink_to(outside, target_is_directory=True)
    (workdir / "leak.txt").symlink_to(outside / "secret.txt")


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("tool_name", TOOLS)
async def test_escaping_paths_are_refused(
    links: None, outside: Path, context: ToolContext, tool_name: str, attack: str
) -> None:
    tool_class, arguments_for = TOOLS[tool_name]
    file, folder = (name.format(outside=outside) for name in ATTACKS[attack])

    outcome = await tool_class().run(arguments_for(file, folder), context)

    assert outcome.is_error
    assert outcome.content.startswith("Path not allowed:")
    assert "top secret" not in outcome.content
    assert names_in(outside) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "top secret\n"


async def test_write_refuses_a_dangling_symlink_pointing_outside(
    workdir: Path, outside: Path, context: ToolContext
) -> None:
    (workdir / "new.txt").symlink_to(outside / "created.txt")

    outcome = await WriteTool().run({"file_path": "new.txt", "content": "x"}, context)

    assert outcome.is_error and outcome.content.startswith("Path not allowed:")
    assert not (outside / "created.txt").exists()


@pytest.mark.parametrize("pattern", ["../outside/*", "{outside}/*", "**/../../outside/*"])
async def test_glob_patterns_cannot_climb_out(
    outside: Path, context: ToolContext, pattern: str
) -> None:
    outcome = await GlobTool().run({"pattern": pattern.format(outside=outside)}, context)

    assert outcome.is_error
    assert "must be relative" in outcome.content


async def test_searches_skip_links_that_lead_outside(
    links: None, workdir: Path, context: ToolContext
) -> None:
    (workdir / "inside.txt").write_text("secret, but ours\n")

    globbed = await GlobTool().run({"pattern": "**/*.txt"}, context)
    through_link = await GlobTool().run({"pattern": "link/*"}, context)
    grepped = await GrepTool().run({"pattern": "secret"}, context)

    assert globbed.content == "inside.txt"
    assert through_link.content == "No files found"
    assert grepped.content == "inside.txt:1:secret, but ours"


async def test_links_that_stay_inside_are_followed(workdir: Path, context: ToolContext) -> None:
    (workdir / "real.txt").write_text("hello\n")
    (workdir / "alias.txt").symlink_to(workdir / "real.txt")

    outcome = await ReadTool().run({"file_path": "alias.txt"}, context)

    assert outcome.content == "     1\thello"
