"""The Bash tool: output, exit codes, timeouts, cancellation and the settings switch."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from kumiai.application.ports.agent_runtime import ToolOutcome
from kumiai.application.ports.tools import ToolContext
from kumiai.infrastructure.claude.tools import BashTool
from kumiai.infrastructure.claude.tools.base import OUTPUT_LIMIT
from tests.unit.claude.conftest import make_context

# Records the shell's pid (its process group id) and leaves a child in the group.
SPAWN_AND_RECORD = "sleep 30 & echo $$ > group.pid; "


async def bash(context: ToolContext, command: str, **arguments: Any) -> ToolOutcome:
    return await BashTool().run({"command": command, **arguments}, context)


def group_is_gone(group: int) -> bool:
    """No live process is left in ``group`` (zombies awaiting their reaper don't count)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE:
                return False
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return True


def real_path(path: Path) -> str:
    return str(path.resolve())


async def vanishes(group: int, within: float = 1.0) -> bool:
    """Whether ``group`` is gone within ``within`` seconds.

    A killed process closes its pipes a moment before the kernel finishes tearing it
    down, so the check polls instead of sampling once.
    """
    deadline = time.monotonic() + within
    while not group_is_gone(group):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def recorded_group(workdir: Path) -> int:
    """Wait for the command to write its group id, then return it."""
    pid_file = workdir / "group.pid"
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text().strip():
            return int(pid_file.read_text())
        await asyncio.sleep(0.01)
    raise AssertionError("the command never recorded its process group")


async def test_output_and_exit_code_are_reported(context: ToolContext) -> None:
    outcome = await bash(context, "echo out; echo err >&2")

    assert outcome == ToolOutcome("out\nerr\n\nExit code: 0")


async def test_a_failing_command_is_an_error_with_its_output(context: ToolContext) -> None:
    outcome = await bash(context, "echo 'no such thing'; exit 3", description="Fail on purpose")

    assert outcome == ToolOutcome("no such thing\n\nExit code: 3", is_error=True)


async def test_runs_in_the_working_folder_without_server_secrets(
    workdir: Path, context: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-not-for-agents")
    monkeypatch.setenv("KUMIAI_DATABASE_URL", "postgresql://user:pw@db/kumiai")

    outcome = await bash(context, "pwd; env")

    assert outcome.content.splitlines()[0] == real_path(workdir)
    assert "sk-ant-not-for-agents" not in outcome.content
    assert "KUMIAI_DATABASE_URL" not in outcome.content


async def test_silent_commands_say_so(context: ToolContext) -> None:
    assert await bash(context, "true") == ToolOutcome("(no output)\n\nExit code: 0")


async def test_long_output_keeps_its_start_and_end(context: ToolContext) -> None:
    outcome = await bash(
        context, "echo FIRST; head -c 100000 /dev/zero | tr '\\0' a; echo; echo LAST"
    )

    assert outcome.content.startswith("FIRST\n")
    assert "LAST\n\nExit code: 0" in outcome.content
    assert "[truncated: " in outcome.content
    assert len(outcome.content) < OUTPUT_LIMIT + 200


async def test_timeout_kills_the_whole_process_group(workdir: Path, context: ToolContext) -> None:
    started = time.monotonic()

    outcome = await bash(context, SPAWN_AND_RECORD + "echo waiting; wait", timeout=300)

    assert time.monotonic() - started < 2
    assert outcome.is_error
    assert outcome.content == "waiting\n\nCommand timed out after 300 ms and was killed"
    assert await vanishes(int((workdir / "group.pid").read_text()))


async def test_cancelling_stops_the_command_within_a_second(
    workdir: Path, context: ToolContext
) -> None:
    task = asyncio.create_task(bash(context, SPAWN_AND_RECORD + "sleep 30"))
    group = await recorded_group(workdir)

    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - started < 1
    assert await vanishes(group, within=started + 1 - time.monotonic())


async def test_processes_ignoring_sigterm_are_killed_after_the_grace(
    workdir: Path, context: ToolContext
) -> None:
    # Ignored signals stay ignored in the children, so only SIGKILL can stop this group.
    task = asyncio.create_task(bash(context, "trap '' TERM; " + SPAWN_AND_RECORD + "wait"))
    group = await recorded_group(workdir)

    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - started < 1
    assert await vanishes(group, within=started + 1 - time.monotonic())


async def test_background_processes_holding_the_output_do_not_block(
    workdir: Path, context: ToolContext
) -> None:
    started = time.monotonic()

    outcome = await bash(context, SPAWN_AND_RECORD + "echo started")

    assert time.monotonic() - started < 2
    assert outcome == ToolOutcome("started\n\nExit code: 0")
    assert await vanishes(int((workdir / "group.pid").read_text()))


async def test_disabled_in_settings(workdir: Path) -> None:
    outcome = await bash(make_context(workdir, bash_enabled=False), "echo hi")

    assert outcome == ToolOutcome("Bash is disabled in settings", is_error=True)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"command": ""}, "'command' must not be empty"),
        ({}, "'command' is required and must be a string"),
        ({"command": "true", "timeout": "soon"}, "'timeout' must be an integer"),
        ({"command": "true", "timeout": 0}, "'timeout' must be at least 1"),
    ],
)
async def test_bad_arguments_are_errors(
    context: ToolContext, arguments: dict[str, Any], message: str
) -> None:
    outcome = await BashTool().run(arguments, context)

    assert outcome == ToolOutcome(message, is_error=True)


async def test_a_missing_working_folder_is_an_error(tmp_path: Path) -> None:
    outcome = await bash(make_context(tmp_path / "gone"), "true")

    assert outcome.is_error and "working folder does not exist" in outcome.content
