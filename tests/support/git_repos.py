"""Local git repositories for import tests, served over file:// and a loopback git daemon."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import free_port

# A file's content, or ("->", target) for a symbolic link.
Content = str | tuple[str, str]

_IDENTITY = ("-c", "user.name=Test", "-c", "user.email=test@example.com")


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git quietly, without the user's or the system's configuration."""
    environment = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    done = subprocess.run(
        ["git", *_IDENTITY, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def skill_md(name: str, description: str = "A test skill", body: str = "Do it.") -> str:
    return f"---\nname: {name}\ndescription: {description}\n---\n\n{body}\n"


def bare_repository(
    root: Path,
    name: str,
    files: Mapping[str, Content],
    *,
    branches: Mapping[str, Mapping[str, Content]] | None = None,
) -> Path:
    """A bare repository ``root/<name>.git`` whose ``main`` holds ``files``.

    Each entry of ``branches`` is a branch made from ``main`` whose files are
    ``files`` updated with the branch's own.
    """
    work = root / f"{name}.work"
    work.mkdir(parents=True)
    git("init", "--quiet", "--initial-branch=main", cwd=work)
    _commit(work, files, "main")
    for branch, extra in (branches or {}).items():
        git("checkout", "--quiet", "-b", branch, "main", cwd=work)
        _commit(work, extra, branch)
    git("checkout", "--quiet", "main", cwd=work)  # the bare clone's default branch
    bare = root / f"{name}.git"
    git("clone", "--quiet", "--bare", str(work), str(bare))
    shutil.rmtree(work)
    return bare


def file_url(bare: Path) -> str:
    return bare.resolve().as_uri()


def _commit(work: Path, files: Mapping[str, Content], message: str) -> None:
    for relative, content in files.items():
        target = work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            target.symlink_to(content[1])
        else:
            target.write_text(content)
    git("add", "--all", cwd=work)
    git("commit", "--quiet", "-m", message, cwd=work)


@contextmanager
def git_daemon(base: Path, *, timeout: float = 10.0) -> Iterator[str]:
    """Serve the repositories under ``base`` on 127.0.0.1; yield ``git://127.0.0.1:<port>``."""
    port = free_port()
    process = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--listen=127.0.0.1",
            f"--port={port}",
            "--export-all",
            "--informative-errors",
            f"--base-path={base}",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process, timeout)
        yield f"git://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers; yields the port."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("git daemon exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("git daemon did not start listening in time")
