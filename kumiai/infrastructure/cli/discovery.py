"""``CliDiscovery``: which coding-agent CLI would run for each backend, and its version.

A backend's CLI is, in this order: the executable its setting names
(``KUMIAI_CLAUDE_CODE_CLI``, ``KUMIAI_CODEX_CLI``, ...; a setting naming something that
is not executable means "not installed", never a silent fall-back), the copy bundled
with the Claude Code SDK (``claude`` only, the one the Claude Code runtime starts), then
the first match of the command on ``PATH``.

The version is the first line ``<cli> --version`` prints. The CLI runs as a child
process in its own process group, awaited without blocking the event loop, killed with
its group after a few seconds. Answers are kept for a minute per executable (a changed
file is asked again), and concurrent questions about one executable share one run.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from kumiai.application.ports.cli_backends import CLI_BACKENDS, CliInstallation, CliSource

VERSION_TIMEOUT_SECONDS = 5.0
VERSION_CACHE_SECONDS = 60.0
MAX_VERSION_CHARS = 200
SETTING_OF = {
    "claude": "KUMIAI_CLAUDE_CODE_CLI",
    "codex": "KUMIAI_CODEX_CLI",
    "gemini": "KUMIAI_GEMINI_CLI",
    "opencode": "KUMIAI_OPENCODE_CLI",
}
CLAUDE_CODE_SDK = "claude_agent_sdk"


def bundled_claude_cli() -> Path | None:
    """The CLI bundled with the Claude Code SDK, found without importing the SDK (slow)."""
    spec = importlib.util.find_spec(CLAUDE_CODE_SDK)
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        return None
    name = "claude.exe" if sys.platform == "win32" else "claude"
    return Path(next(iter(locations))) / "_bundled" / name


@dataclass(frozen=True)
class _Found:
    path: str
    source: CliSource
    file: tuple[int, int]  # modification time and size: a replaced CLI is asked again

    @classmethod
    def of(cls, path: Path, source: CliSource) -> _Found | None:
        """``path`` when it is an executable file, else None."""
        try:
            stat = path.stat()
        except OSError:
            return None
        if not S_ISREG(stat.st_mode) or not os.access(path, os.X_OK):
            return None
        return cls(str(path), source, (stat.st_mtime_ns, stat.st_size))


@dataclass(frozen=True)
class _Version:
    text: str | None
    problem: str | None
    file: tuple[int, int]
    until: float


class CliDiscoverer:
    def __init__(
        self,
        configured: Mapping[str, Path | None],
        bundled: Mapping[str, Path | None] | None = None,
        *,
        timeout: float = VERSION_TIMEOUT_SECONDS,
        cache_seconds: float = VERSION_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``configured``: the executable each backend's setting names (None: unset).
        ``bundled``: a backend's own copy, tried before ``PATH``."""
        self._configured = dict(configured)
        self._bundled = dict(bundled or {})
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._versions: dict[str, _Version] = {}
        self._asking: dict[str, asyncio.Lock] = {}

    async def find(self, name: str) -> CliInstallation:
        if name not in CLI_BACKENDS:
            raise ValueError(f"unknown CLI backend {name!r}")
        # PATH lookups and stat calls touch the disk: off the event loop.
        found = await asyncio.to_thread(self._locate, name)
        if isinstance(found, str):
            return CliInstallation(name, None, None, problem=found)
        version = await self._version(found)
        return CliInstallation(name, found.path, found.source, version.text, version.problem)

    async def find_all(self) -> list[CliInstallation]:
        return list(await asyncio.gather(*(self.find(name) for name in CLI_BACKENDS)))

    def _locate(self, name: str) -> _Found | str:
        """The CLI that would run, or why there is none."""
        configured = self._configured.get(name)
        if configured is not None:
            return _Found.of(configured, "configured") or (
                f"{SETTING_OF[name]} is not an executable file: {configured}"
            )
        bundled = self._bundled.get(name)
        if bundled is not None and (found := _Found.of(bundled, "bundled")):
            return found
        on_path = shutil.which(name)
        if on_path is not None and (found := _Found.of(Path(on_path), "path")):
            return found
        return f"`{name}` is not on PATH (or set {SETTING_OF[name]})"

    async def _version(self, found: _Found) -> _Version:
        lock = self._asking.setdefault(found.path, asyncio.Lock())
        async with lock:
            known = self._versions.get(found.path)
            if known is not None and known.file == found.file and known.until > self._clock():
                return known
            text, problem = await self._ask_version(found.path)
            answer = _Version(text, problem, found.file, self._clock() + self._cache_seconds)
            self._versions[found.path] = answer
            return answer

    async def _ask_version(self, path: str) -> tuple[str | None, str | None]:
        command = f"`{path} --version`"
        try:
            process = await asyncio.create_subprocess_exec(
                path,
                "--version",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as error:
            return None, f"cannot run {path}: {error.strerror or error}"
        output = asyncio.ensure_future(process.communicate())
        try:
            async with asyncio.timeout(self._timeout):
                stdout, stderr = await asyncio.shield(output)
        except TimeoutError:
            return None, f"{command} did not answer within {self._timeout:g} s"
        finally:
            if process.returncode is None:
                # A script's children (a shell's `sleep`) hold the pipes: stop them all.
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = await output
        if process.returncode != 0:
            said = _first_line(stderr) or _first_line(stdout)
            return None, f"{command} exited with {process.returncode}" + (
                f": {said}" if said else ""
            )
        # Some CLIs print their version on stderr.
        version = _first_line(stdout) or _first_line(stderr)
        if version is None:
            return None, f"{command} printed nothing"
        return version, None


def _first_line(output: bytes) -> str | None:
    for line in output.decode(errors="replace").splitlines():
        if line.strip():
            return line.strip()[:MAX_VERSION_CHARS]
    return None
