"""What the benchmarks share: a scratch database and servers in their own processes."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.reporting import ROOT
from kumiai.infrastructure.database.migrations import runner
from tests.support.database import create_scratch_database, drop_database, postgres_server
from tests.support.processes import free_port, kumiai_env


@contextmanager
def scratch() -> Iterator[Path]:
    """A temporary folder the embedded PostgreSQL's own user can enter too."""
    with tempfile.TemporaryDirectory(prefix="kumiai-bench-") as folder:
        Path(folder).chmod(0o755)
        yield Path(folder)


@contextmanager
def scratch_database() -> Iterator[str]:
    """A migrated database on ``KUMIAI_TEST_DATABASE_URL``'s server (or an embedded one)."""
    with postgres_server() as server:
        url = create_scratch_database(server, prefix="kumiai_bench")
        try:
            runner.upgrade(url)
            yield url
        finally:
            drop_database(url)


@contextmanager
def checkout(revision: str, scratch: Path) -> Iterator[Path]:
    """``revision`` in a temporary git worktree, removed afterwards."""
    folder = scratch / "baseline"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(folder), revision],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)


@contextmanager
def serve(
    command: list[str],
    probe: str,
    log: Path,
    env: dict[str, str] | None = None,
    *,
    cwd: Path = ROOT,
) -> Iterator[str]:
    """Run ``command PORT`` in ``cwd`` (output to ``log``) until ``probe`` answers; yields
    its URL."""
    port = free_port()
    with log.open("a") as output:
        process = subprocess.Popen(
            [*command, str(port)], cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_for(base_url + probe, process)
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def kumiai(
    database_url: str,
    folder: Path,
    *options: str,
    wrapper: Sequence[str] = (),
    code: Path = ROOT,
    **env: str,
) -> Iterator[str]:
    """``kumiai serve [options]`` on ``database_url`` with its home in ``folder``, as a user
    runs it (``wrapper``: a command that runs it, e.g. in namespaces of its own, and must
    ``exec`` it, so that its pid is the server's; ``code``: the checkout whose ``kumiai``
    runs, as ``-m`` imports from the working folder first)."""
    variables = kumiai_env(
        folder / "home", KUMIAI_DATABASE_URL=database_url, KUMIAI_LOG_FORMAT="console", **env
    )
    command = [*wrapper, sys.executable, "-m", "kumiai", "serve", *options, "--port"]
    with serve(command, "/api/health", folder / "kumiai.log", variables, cwd=code) as base_url:
        yield base_url


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} never answered")
