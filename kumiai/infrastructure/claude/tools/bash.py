"""The ``Bash`` tool: run a shell command in the working folder.

The command runs as ``bash -c`` in a process group of its own, so a timeout or a
cancelled turn can stop everything it started, not just the shell: the group gets
SIGTERM, then SIGKILL after a short grace. Processes the command leaves running in
the background are killed as well if they keep its output open; ones that detach
their output (``cmd > log 2>&1 &``) are left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from asyncio.subprocess import Process
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kumiai.application.ports.agent_runtime import ToolOutcome, ToolSpec
from kumiai.application.ports.tools import ToolContext
from kumiai.infrastructure.claude.tools.base import (
    OUTPUT_LIMIT,
    BuiltinTool,
    ToolInputError,
    optional_int,
    require_str,
    working_root,
)

DEFAULT_TIMEOUT_MS = 120_000
MAX_TIMEOUT_MS = 600_000
DISABLED_MESSAGE = "Bash is disabled in settings"

# Between SIGTERM and SIGKILL: long enough for a clean exit, short enough that a
# cancel still stops everything within a second.
KILL_GRACE_SECONDS = 0.3
# After the shell exits, how long output may keep arriving from processes it left.
DRAIN_SECONDS = 0.5
_READ_CHUNK = 65_536
_EXIT_POLL_SECONDS = 0.02
# Room in the capped result for the exit status line after the output.
_STATUS_RESERVE = 200

# The server's own credentials and settings are not the agent's business, and a
# command such as ``env`` would otherwise print the API key into the transcript.
_HIDDEN_ENVIRONMENT_PREFIXES = ("ANTHROPIC_", "KUMIAI_")


@dataclass(frozen=True)
class CommandResult:
    """What a finished (or killed) command produced."""

    output: str
    exit_code: int | None
    timed_out: bool


class BashTool(BuiltinTool):
    """Runs a shell command with a timeout and a capped, merged stdout+stderr."""

    spec = ToolSpec(
        name="Bash",
        description=(
            "Run a bash command in the working folder and return its combined stdout and "
            "stderr (capped) and exit code. Stdin is empty. The command is killed after "
            f"'timeout' milliseconds (default {DEFAULT_TIMEOUT_MS}, max {MAX_TIMEOUT_MS})."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command to run."},
                "timeout": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_TIMEOUT_MS,
                    "description": "Timeout in milliseconds.",
                },
                "description": {
                    "type": "string",
                    "description": "A few words saying what the command does, shown to the user.",
                },
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    )

    async def perform(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutcome:
        if not context.bash_enabled:
            return ToolOutcome(DISABLED_MESSAGE, is_error=True)
        command = require_str(arguments, "command", allow_empty=False)
        requested = optional_int(arguments, "timeout", minimum=1) or DEFAULT_TIMEOUT_MS
        timeout_ms = min(requested, MAX_TIMEOUT_MS)
        folder = working_root(context)
        if not folder.is_dir():
            raise ToolInputError(f"The working folder does not exist: {folder}")
        result = await run_command(command, folder, timeout_ms / 1000)
        return _outcome(result, timeout_ms)


async def run_command(command: str, cwd: Path, time_limit: float) -> CommandResult:
    """Run ``command`` under ``bash -c``; kill its process group on timeout or cancellation."""
    spawn = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            "bash",
            "-c",
            command,
            cwd=cwd,
            env=_command_environment(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    )
    try:
        process = await asyncio.shield(spawn)
    except asyncio.CancelledError:
        # The shell runs before its pipes are connected; a cancellation in between
        # would make asyncio kill the shell alone and leave its children running.
        process = await spawn
        await _terminate_group(process)
        raise
    output = OutputBuffer(OUTPUT_LIMIT - _STATUS_RESERVE)
    reader = asyncio.create_task(_collect(process, output))
    try:
        finished = await _wait_for_exit(process, time_limit)
        if not finished:
            await _terminate_group(process)
        await _finish_reading(process, reader)
    except BaseException:
        # Cancellation above all: the turn is being stopped, so nothing may outlive it.
        reader.cancel()
        await _terminate_group(process)
        raise
    return CommandResult(output.text(), process.returncode, timed_out=not finished)


class OutputBuffer:
    """Keeps the start and the end of a command's output within ``limit`` bytes.

    Both ends matter: the start shows what ran, the end holds the error or the summary.
    """

    def __init__(self, limit: int) -> None:
        self._half = max(limit // 2, 1)
        self._head = bytearray()
        self._tail = bytearray()
        self._total = 0

    def add(self, chunk: bytes) -> None:
        self._total += len(chunk)
        room = self._half - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        self._tail += chunk
        del self._tail[: -self._half]

    def text(self) -> str:
        omitted = self._total - len(self._head) - len(self._tail)
        if omitted == 0:
            return bytes(self._head + self._tail).decode("utf-8", errors="replace")
        head = bytes(self._head).decode("utf-8", errors="replace")
        tail = bytes(self._tail).decode("utf-8", errors="replace")
        return f"{head}\n[truncated: {omitted} bytes omitted]\n{tail}"


def _command_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_HIDDEN_ENVIRONMENT_PREFIXES)
    }


async def _collect(process: Process, output: OutputBuffer) -> None:
    assert process.stdout is not None  # created with stdout=PIPE
    while chunk := await process.stdout.read(_READ_CHUNK):
        output.add(chunk)


async def _wait_for_exit(process: Process, time_limit: float) -> bool:
    """Wait until the shell exits; False when ``time_limit`` seconds passed first.

    Polls ``returncode`` because ``Process.wait()`` (Python 3.11) also waits for the
    output pipe to close, which a background child can keep open indefinitely.
    """
    deadline = asyncio.get_running_loop().time() + time_limit
    while process.returncode is None:
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(_EXIT_POLL_SECONDS)
    return True


async def _finish_reading(process: Process, reader: asyncio.Task[None]) -> None:
    """Let the last output arrive; kill leftovers that keep the pipe open."""
    if await _settled(reader, DRAIN_SECONDS):
        return
    _signal_group(process.pid, signal.SIGKILL)
    if not await _settled(reader, DRAIN_SECONDS):
        # Something outside the group (it called setsid) still holds the pipe.
        reader.cancel()


async def _settled(task: asyncio.Task[None], seconds: float) -> bool:
    done, _pending = await asyncio.wait({task}, timeout=seconds)
    return bool(done)


async def _terminate_group(process: Process) -> None:
    """SIGTERM the command's process group, then SIGKILL what is left after a grace."""
    # start_new_session made the shell a group leader, so its pid is the group id.
    group = process.pid
    _signal_group(group, signal.SIGTERM)
    try:
        await _wait_for_exit(process, KILL_GRACE_SECONDS)
    finally:
        # In ``finally`` so a second cancellation during the grace still kills the group;
        # children may also outlive the shell or ignore SIGTERM.
        _signal_group(group, signal.SIGKILL)
    # asyncio's child watcher reaps the shell; this waits (boundedly) until it has.
    await _wait_for_exit(process, KILL_GRACE_SECONDS)


def _signal_group(group: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


def _outcome(result: CommandResult, timeout_ms: int) -> ToolOutcome:
    output = result.output.rstrip("\n") or "(no output)"
    if result.timed_out:
        return ToolOutcome(
            f"{output}\n\nCommand timed out after {timeout_ms} ms and was killed", is_error=True
        )
    code = result.exit_code
    status = f"Killed by signal {-code}" if code is not None and code < 0 else f"Exit code: {code}"
    return ToolOutcome(f"{output}\n\n{status}", is_error=code != 0)
