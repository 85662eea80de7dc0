"""Read, Write, Edit, Glob and Grep on a temporary working folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kumiai.application.ports.agent_runtime import ToolOutcome
from kumiai.application.ports.tools import ToolContext
from kumiai.infrastructure.claude.tools import (
    EditTool,
    GlobTool,
    GrepTool,
    ReadTool,
    WriteTool,
    file_tools,
)
from kumiai.infrastructure.claude.tools.base import OUTPUT_LIMIT
from kumiai.infrastructure.claude.tools.files import GLOB_LIMIT, GREP_LIMIT


async def read(context: ToolContext, **arguments: Any) -> ToolOutcome:
    return await ReadTool().run(arguments, context)


def write_lines(path: Path, count: int, width: int = 0) -> None:
    path.write_text("".join(f"line {n}{'x' * width}\n" for n in range(1, count + 1)))


def test_file_tools_carry_claude_code_names_and_object_schemas() -> None:
    names = [tool.spec.name for tool in file_tools()]

    assert names == ["Read", "Write", "Edit", "Glob", "Grep", "Bash", "TodoWrite"]
    for tool in file_tools():
        assert tool.spec.input_schema["type"] == "object"
        assert set(tool.spec.input_schema["required"]) <= set(tool.spec.input_schema["properties"])


# --------------------------------------------------------------------------- Read


async def test_read_numbers_lines_like_cat_n(workdir: Path, context: ToolContext) -> None:
    (workdir / "a.txt").write_text("alpha\nbeta\n\tgamma\n")

    outcome = await read(context, file_path="a.txt")

    assert outcome == ToolOutcome("     1\talpha\n     2\tbeta\n     3\t\tgamma")


async def test_read_accepts_an_absolute_path_inside_the_folder(
    workdir: Path, context: ToolContext
) -> None:
    (workdir / "a.txt").write_text("alpha\n")

    outcome = await read(context, file_path=str(workdir / "a.txt"))

    assert outcome.content == "     1\talpha"


async def test_read_honours_offset_and_limit(workdir: Path, context: ToolContext) -> None:
    write_lines(workdir / "ten.txt", 10)

    outcome = await read(context, file_path="ten.txt", offset=3, limit=2)

    assert outcome.content.splitlines() == [
        "     3\tline 3",
        "     4\tline 4",
        "[showing lines 3-4; use offset and limit to read more]",
    ]


async def test_read_shows_2000_lines_by_default(workdir: Path, context: ToolContext) -> None:
    (workdir / "long.txt").write_text("x\n" * 2500)

    lines = (await read(context, file_path="long.txt")).content.splitlines()

    assert len(lines) == 2001
    assert lines[-2] == "  2000\tx"
    assert lines[-1].startswith("[showing lines 1-2000")


async def test_read_truncates_very_long_lines(workdir: Path, context: ToolContext) -> None:
    (workdir / "wide.txt").write_text("y" * 5000 + "\n")

    content = (await read(context, file_path="wide.txt")).content

    assert content.endswith("... [line truncated]")
    assert len(content) < 2100


async def test_read_caps_the_whole_output(workdir: Path, context: ToolContext) -> None:
    write_lines(workdir / "big.txt", 1000, width=200)

    content = (await read(context, file_path="big.txt")).content

    assert "[truncated:" in content
    assert len(content) < OUTPUT_LIMIT + 100


async def test_read_reports_empty_files_and_offsets_past_the_end(
    workdir: Path, context: ToolContext
) -> None:
    (workdir / "empty.txt").write_text("")
    write_lines(workdir / "three.txt", 3)

    assert (await read(context, file_path="empty.txt")).content == "(empty file)"
    past = await read(context, file_path="three.txt", offset=9)
    assert past == ToolOutcome("(the file has fewer than 9 lines)")


@pytest.mark.parametrize(
    ("setup", "arguments", "message"),
    [
        (None, {"file_path": "missing.txt"}, "File does not exist: missing.txt"),
        ("folder", {"file_path": "folder"}, "is a folder"),
        ("binary", {"file_path": "image.bin"}, "binary file"),
        (None, {}, "'file_path' is required"),
        ("text", {"file_path": "a.txt", "offset": 0}, "'offset' must be at least 1"),
        ("text", {"file_path": "a.txt", "limit": "ten"}, "'limit' must be an integer"),
    ],
)
async def test_read_refuses_what_it_cannot_show(
    workdir: Path, context: ToolContext, setup: str | None, arguments: dict[str, Any], message: str
) -> None:
    (workdir / "folder").mkdir()
    (workdir / "image.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (workdir / "a.txt").write_text("a\n")

    outcome = await ReadTool().run(arguments, context)

    assert outcome.is_error
    assert message in outcome.content


# --------------------------------------------------------------------------- Write


async def test_write_creates_parents_and_replaces_atomically(
    workdir: Path, context: ToolContext
) -> None:
    tool = WriteTool()

    created = await tool.run({"file_path": "src/pkg/mod.py", "content": "x = 1\n"}, context)
    updated = await tool.run({"file_path": "src/pkg/mod.py", "content": "x = 2\n"}, context)

    assert created == ToolOutcome("Created src/pkg/mod.py (6 characters)")
    assert updated == ToolOutcome("Updated src/pkg/mod.py (6 characters)")
    assert (workdir / "src/pkg/mod.py").read_text() == "x = 2\n"
    assert [p.name for p in (workdir / "src/pkg").iterdir()] == ["mod.py"]


async def test_write_refuses_a_folder_and_missing_content(
    workdir: Path, context: ToolContext
) -> None:
    (workdir / "docs").mkdir()

    on_folder = await WriteTool().run({"file_path": "docs", "content": "x"}, context)
    no_content = await WriteTool().run({"file_path": "a.txt"}, context)

    assert on_folder == ToolOutcome("docs is a folder, not a file", is_error=True)
    assert no_content.is_error and "'content' is required" in no_content.content
    assert not (workdir / "a.txt").exists()


# --------------------------------------------------------------------------- Edit


async def edit(context: ToolContext, **arguments: Any) -> ToolOutcome:
    return await EditTool().run({"file_path": "code.py", **arguments}, context)


async def test_edit_replaces_a_unique_string(workdir: Path, context: ToolContext) -> None:
    (workdir / "code.py").write_text("a = 1\nb = 2\n")

    outcome = await edit(context, old_string="b = 2", new_string="b = 3")

    assert outcome == ToolOutcome("Replaced 1 occurrence in code.py")
    assert (workdir / "code.py").read_text() == "a = 1\nb = 3\n"


async def test_edit_refuses_an_ambiguous_string_unless_replace_all(
    workdir: Path, context: ToolContext
) -> None:
    (workdir / "code.py").write_text("x = 0\nx = 0\n")

    ambiguous = await edit(context, old_string="x = 0", new_string="x = 1")
    unchanged = (workdir / "code.py").read_text()
    everywhere = await edit(context, old_string="x = 0", new_string="x = 1", replace_all=True)

    assert ambiguous.is_error and "occurs 2 times" in ambiguous.content
    assert unchanged == "x = 0\nx = 0\n"
    assert everywhere == ToolOutcome("Replaced 2 occurrences in code.py")
    assert (workdir / "code.py").read_text() == "x = 1\nx = 1\n"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"old_string": "zzz", "new_string": "y"}, "'old_string' was not found in code.py"),
        ({"old_string": "a = 1", "new_string": "a = 1"}, "are the same"),
        ({"old_string": "", "new_string": "y"}, "must not be empty"),
        ({"old_string": "a", "new_string": "b", "replace_all": "yes"}, "true or false"),
        ({"file_path": "nope.py", "old_string": "a", "new_string": "b"}, "does not exist"),
    ],
)
async def test_edit_reports_impossible_edits(
    workdir: Path, context: ToolContext, arguments: dict[str, Any], message: str
) -> None:
    (workdir / "code.py").write_text("a = 1\n")

    outcome = await edit(context, **arguments)

    assert outcome.is_error
    assert message in outcome.content
    assert (workdir / "code.py").read_text() == "a = 1\n"


async def test_edit_keeps_windows_line_endings(workdir: Path, context: ToolContext) -> None:
    (workdir / "code.py").write_bytes(b"one\r\ntwo\r\n")

    await edit(context, old_string="two", new_string="2")

    assert (workdir / "code.py").read_bytes() == b"one\r\n2\r\n"


async def test_edit_refuses_non_utf8_text(workdir: Path, context: ToolContext) -> None:
    (workdir / "code.py").write_bytes("caf\u00e9 = 1\n".encode("latin-1"))

    outcome = await edit(context, old_string="1", new_string="2")

    assert outcome.is_error and "not UTF-8" in outcome.content


# --------------------------------------------------------------------------- Glob


def touch(path: Path, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    os.utime(path, (mtime, mtime))


async def glob(context: ToolContext, **arguments: Any) -> ToolOutcome:
    return await GlobTool().run(arguments, context)


async def test_glob_lists_matches_newest_first(workdir: Path, context: ToolContext) -> None:
    touch(workdir / "old.py", 1_000)
    touch(workdir / "pkg/new.py", 3_000)
    touch(workdir / "pkg/sub/mid.py", 2_000)
    touch(workdir / "notes.md", 4_000)
    touch(workdir / ".git/hooks/hook.py", 5_000)

    outcome = await glob(context, pattern="**/*.py")

    assert outcome == ToolOutcome("pkg/new.py\npkg/sub/mid.py\nold.py")


async def test_glob_searches_under_path_and_expands_braces(
    workdir: Path, context: ToolContext
) -> None:
    touch(workdir / "web/app.ts", 1_000)
    touch(workdir / "web/view.tsx", 2_000)
    touch(workdir / "web/style.css", 3_000)
    touch(workdir / "other.ts", 4_000)

    outcome = await glob(context, pattern="*.{ts,tsx}", path="web")

    assert outcome == ToolOutcome("web/view.tsx\nweb/app.ts")


async def test_glob_caps_the_number_of_files(workdir: Path, context: ToolContext) -> None:
    for number in range(GLOB_LIMIT + 5):
        touch(workdir / f"f{number:03}.txt", 1_000 + number)

    lines = (await glob(context, pattern="*.txt")).content.splitlines()

    assert len(lines) == GLOB_LIMIT + 1
    assert lines[0] == f"f{GLOB_LIMIT + 4:03}.txt"
    assert lines[-1] == "[truncated: 5 more files; narrow the pattern]"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"pattern": "*.rs"}, ToolOutcome("No files found")),
        ({"pattern": "*", "path": "a.txt"}, ToolOutcome("Not a folder: a.txt", is_error=True)),
        ({"pattern": "a**b/*"}, None),
    ],
)
async def test_glob_reports_no_match_and_bad_input(
    workdir: Path, context: ToolContext, arguments: dict[str, Any], expected: ToolOutcome | None
) -> None:
    touch(workdir / "a.txt", 1_000)

    outcome = await glob(context, **arguments)

    if expected is None:
        assert outcome.is_error and "Invalid glob pattern" in outcome.content
    else:
        assert outcome == expected


# --------------------------------------------------------------------------- Grep


async def grep(context: ToolContext, **arguments: Any) -> ToolOutcome:
    return await GrepTool().run(arguments, context)


@pytest.fixture
def sources(workdir: Path) -> Path:
    (workdir / "src").mkdir()
    (workdir / "src/app.py").write_text("import os\n\ndef main():\n    return TODO\n")
    (workdir / "src/util.py").write_text("# todo: tidy\nVALUE = 1\n")
    (workdir / "README.md").write_text("TODO: write docs\n")
    (workdir / "blob.bin").write_bytes(b"TODO\x00\x01")
    (workdir / ".git").mkdir()
    (workdir / ".git/config").write_text("TODO in git\n")
    return workdir


async def test_grep_returns_path_line_text(sources: Path, context: ToolContext) -> None:
    outcome = await grep(context, pattern=r"TODO")

    assert outcome == ToolOutcome("README.md:1:TODO: write docs\nsrc/app.py:4:    return TODO")


async def test_grep_filters_by_glob_and_path_and_ignores_case(
    sources: Path, context: ToolContext
) -> None:
    by_glob = await grep(context, pattern="todo", glob="*.py", **{"-i": True})
    by_file = await grep(context, pattern=r"^VALUE", path="src/util.py")
    by_folder = await grep(context, pattern="import", path="src")

    assert by_glob.content.splitlines() == [
        "src/app.py:4:    return TODO",
        "src/util.py:1:# todo: tidy",
    ]
    assert by_file == ToolOutcome("src/util.py:2:VALUE = 1")
    assert by_folder == ToolOutcome("src/app.py:1:import os")


async def test_grep_caps_matching_lines(workdir: Path, context: ToolContext) -> None:
    write_lines(workdir / "many.txt", GREP_LIMIT + 10)

    lines = (await grep(context, pattern="line")).content.splitlines()

    assert len(lines) == GREP_LIMIT + 1
    assert lines[-1] == f"[truncated: stopped after {GREP_LIMIT} matching lines]"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"pattern": "nothing-like-this"}, ToolOutcome("No matches found")),
        ({"pattern": "("}, None),
        ({"pattern": "x", "path": "gone"}, ToolOutcome("Path does not exist: gone", True)),
        ({"pattern": ""}, ToolOutcome("'pattern' must not be empty", True)),
    ],
)
async def test_grep_reports_no_match_and_bad_input(
    sources: Path, context: ToolContext, arguments: dict[str, Any], expected: ToolOutcome | None
) -> None:
    outcome = await grep(context, **arguments)

    if expected is None:
        assert outcome.is_error and "Invalid regular expression" in outcome.content
    else:
        assert outcome == expected


async def test_special_files_and_unencodable_text_are_errors(
    workdir: Path, context: ToolContext
) -> None:
    os.mkfifo(workdir / "pipe")

    fifo = await read(context, file_path="pipe")
    surrogate = await WriteTool().run({"file_path": "a.txt", "content": "\ud800"}, context)

    assert fifo == ToolOutcome("pipe is not a regular file", is_error=True)
    assert surrogate.is_error and surrogate.content.startswith("Write failed:")
