"""One agent CLI process: started in its own process group, read as JSON lines, killed whole.

The CLIs start helpers of their own (Gemini CLI relaunches itself and ignores SIGTERM in
the parent; Codex runs shell commands in sandboxed children), so a cancel kills the
whole process group with SIGKILL at once: nothing of the turn runs on after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Self

STDERR_LINES = 20
"""The last lines of the CLI's stderr kept for the error of a failed turn."""
LINE_LIMIT = 64 * 1024 * 1024
"""The longest JSON line read: a tool's whole output can arrive in one event."""


class CliProcess:
    """A started CLI. Whoever starts one kills it when the turn ends any other way than
    by the CLI exiting."""

    def __init__(self, process: asyncio.subprocess.Process, program: str) -> None:
        self._process = process
        self.program = program
        self.stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self.noise: deque[str] = deque(maxlen=STDERR_LINES)
        """Lines on stdout that were not JSON (banners, warnings)."""
        self._stderr_reader = asyncio.create_task(self._read_stderr())

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        *,
        cwd: str,
        environment: Mapping[str, str],
        stdin: bytes | None = None,
    ) -> Self:
        """Start ``argv``; raises ``OSError`` when the program cannot be run."""
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=dict(environment),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            limit=LINE_LIMIT,
        )
        started = cls(process, os.path.basename(argv[0]))
        if stdin is not None:
            await started._feed(stdin)
        return started

    async def _feed(self, data: bytes) -> None:
        writer = self._process.stdin
        assert writer is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            writer.write(data)
            await writer.drain()
        writer.close()

    @property
    def pid(self) -> int:
        return self._process.pid

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Each JSON object the CLI prints on stdout, in order, until it closes stdout."""
        reader = self._process.stdout
        assert reader is not None
        async for raw in reader:
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                self.noise.append(line)
                continue
            if isinstance(event, dict):
                yield event

    async def wait(self) -> int:
        """The exit code, once the CLI has exited and its stderr is read."""
        code = await self._process.wait()
        await self._stderr_reader
        return code

    def kill(self) -> None:
        """SIGKILL the CLI's whole process group, now."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)

    async def reap(self) -> None:
        """Wait for a killed CLI to be gone."""
        with contextlib.suppress(Exception):
            await self._process.wait()
        self._stderr_reader.cancel()

    async def _read_stderr(self) -> None:
        reader = self._process.stderr
        assert reader is not None
        async for raw in reader:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line:
                self.stderr.append(line)

    def output_tail(self) -> str:
        """What the CLI said besides its events, for the error of a failed turn."""
        return "\n".join([*self.noise, *self.stderr])
