"""Run the real `kumiai` command in a child process, as a user would."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def kumiai_env(home: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("KUMIAI_")}
    env.pop("ANTHROPIC_API_KEY", None)
    # The machine's Claude Code config is not the test's business.
    claude_config = str(home / ".claude.json")
    env.update(
        {
            "KUMIAI_HOME": str(home),
            "KUMIAI_LOG_FORMAT": "json",
            "KUMIAI_CLAUDE_CONFIG_FILE": claude_config,
            **extra,
        }
    )
    return env


def run_kumiai(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kumiai", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    port: int
    log: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        """What the server printed (once it has exited, when it prints to a pipe)."""
        if self.log is not None:
            return self.log.read_text()
        return self.process.stdout.read() if self.process.stdout else ""


class _PortTaken(AssertionError):
    """The server could not bind its port: another process holds it."""


def _wait_until_healthy(server: RunningServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            output = server.output()
            if "already in use" in output:
                raise _PortTaken(f"port {server.port} was taken:\n{output}")
            raise AssertionError(f"kumiai serve exited early:\n{output}")
        try:
            healthy = httpx.get(f"{server.base_url}/api/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            healthy = False
        # A free port is free only when asked: another test's server may have bound it
        # meanwhile, and its health is not this server's.
        if healthy and _listens(server.process.pid, server.port):
            return
        time.sleep(0.1)
    raise AssertionError("kumiai serve did not become healthy in time")


def _listens(pid: int, port: int) -> bool:
    """Whether the process ``pid`` holds the listening socket on ``port``."""
    try:
        process = psutil.Process(pid)
        # net_connections since psutil 6; connections before it.
        connections = getattr(process, "net_connections", None) or process.connections
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections(kind="tcp")
        )
    except psutil.Error:
        return False


@contextmanager
def serving(
    env: dict[str, str],
    timeout: float = 60,
    *,
    port: int | None = None,
    log: Path | None = None,
    args: Sequence[str] = (),
) -> Iterator[RunningServer]:
    """`kumiai serve` on ``port`` (a free one by default), healthy, stopped afterwards.

    Its output goes to a pipe, or to the file ``log`` when given (a long run fills a pipe);
    ``args`` are more options for ``serve`` (``--workers 2``).
    """
    # A free port may be taken by another test's server before this one binds it: then
    # it exits at once, and another port is tried.
    for attempt in range(1 if port else 3):
        chosen = port or free_port()
        with contextlib.ExitStack() as stack:
            output = stack.enter_context(log.open("w")) if log else subprocess.PIPE
            process = subprocess.Popen(
                [sys.executable, "-m", "kumiai", "serve", "--port", str(chosen), *args],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
            )
            server = RunningServer(process, chosen, log)
            try:
                try:
                    _wait_until_healthy(server, timeout)
                except _PortTaken:
                    if attempt == 2 or port:
                        raise
                    continue
                yield server
                return
            finally:
                if process.poll() is None:
                    server.stop()
