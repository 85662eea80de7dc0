"""``GitRepositories`` on the ``git`` command line.

Each call is one ``git`` child process in its own process group, awaited without
blocking the event loop. Cloning a stranger's repository must not run its code or
hang on a prompt, so every call:

- disables hooks (``core.hooksPath=/dev/null``), the file-system monitor and the
  clone template, and skips Git LFS downloads;
- never prompts (``GIT_TERMINAL_PROMPT=0``, ssh in batch mode);
- allows only the protocols given (``GIT_ALLOW_PROTOCOL``), which also rules out
  ``ext::`` commands and submodules over other transports;
- is killed with its whole process group when it runs past the time limit or its
  folder grows past the size limit.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from kumiai.core.exceptions import PayloadTooLargeError, ValidationError
from kumiai.core.logging import get_logger, redact_text

logger = get_logger(__name__)

# Given before the subcommand, these win over the user's and the system's git config.
_SAFE_CONFIG = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "submodule.recurse=false",
)
# Variables that would point git at another repository than the one it is told to use.
_REPOSITORY_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
)
# How often a running clone's folder is measured against the size limit.
_SIZE_CHECK_SECONDS = 0.2
_MISSING_BRANCH = re.compile(r"Remote branch (?P<branch>\S+) not found", re.I)


class GitCli:
    """Shallow clones through the ``git`` executable found on ``PATH``."""

    def __init__(
        self,
        *,
        protocols: Sequence[str],
        timeout_seconds: float,
        max_bytes: int,
        executable: str = "git",
    ) -> None:
        self._protocols = tuple(protocols)
        self._timeout = timeout_seconds
        self._max_bytes = max_bytes
        self._executable = executable

    async def remote_refs(self, url: str) -> list[str]:
        output = await self._run(["ls-remote", "--heads", "--tags", "--", url], url)
        names = set()
        for line in output.splitlines():
            ref = line.partition("\t")[2].removesuffix("^{}")
            for prefix in ("refs/heads/", "refs/tags/"):
                if ref.startswith(prefix):
                    names.add(ref.removeprefix(prefix))
        return sorted(names)

    @asynccontextmanager
    async def checkout(self, url: str, branch: str | None, path: str) -> AsyncIterator[str]:
        temporary = Path(tempfile.mkdtemp(prefix="kumiai-git-"))
        try:
            clone = temporary / _folder_name(url)
            arguments = ["clone", "--depth", "1", "--single-branch", "--no-tags", "--template="]
            if branch is not None:
                arguments += ["--branch", branch]
            await self._run([*arguments, "--", url, str(clone)], url, grows=temporary)
            await self._check_size(temporary, url)
            yield str(_folder_in(clone, path, url, branch))
        finally:
            # Shielded: a cancelled import still waits for nothing, yet the folder goes.
            await asyncio.shield(asyncio.to_thread(shutil.rmtree, temporary, ignore_errors=True))

    async def _run(self, arguments: list[str], url: str, *, grows: Path | None = None) -> str:
        """Run git and return its output; failures become errors naming the problem."""
        executable = shutil.which(self._executable)
        if executable is None:
            raise ValidationError(
                "git is not installed on this server: install git, or clone the repository "
                "yourself and import the skill's folder",
                details={"field": "source", "reason": "git_missing"},
            )
        process = await asyncio.create_subprocess_exec(
            executable,
            *_SAFE_CONFIG,
            *arguments,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._environment(),
            start_new_session=True,
        )
        output = asyncio.ensure_future(process.communicate())
        try:
            async with asyncio.timeout(self._timeout):
                while not output.done():
                    await asyncio.wait({output}, timeout=_SIZE_CHECK_SECONDS)
                    if grows is not None and not output.done():
                        await self._check_size(grows, url)
        except TimeoutError:
            raise ValidationError(
                f"git took longer than {self._timeout:g} s for {redact_text(url)}; "
                "is the repository reachable?",
                details={"field": "source", "reason": "timeout"},
            ) from None
        finally:
            if process.returncode is None:
                _kill_group(process.pid)
            stdout, stderr = await output
        if process.returncode != 0:
            raise _failure(stderr.decode(errors="replace"), url)
        return stdout.decode(errors="replace")

    async def _check_size(self, folder: Path, url: str) -> None:
        if await asyncio.to_thread(_tree_size, folder) > self._max_bytes:
            raise PayloadTooLargeError(
                f"{redact_text(url)} is larger than the {self._max_bytes}-byte import limit",
                details={"field": "source", "limit_bytes": self._max_bytes},
            )

    def _environment(self) -> dict[str, str]:
        environment = {
            name: value for name, value in os.environ.items() if name not in _REPOSITORY_VARIABLES
        }
        environment.update(
            GIT_TERMINAL_PROMPT="0",
            GIT_ALLOW_PROTOCOL=":".join(self._protocols),
            GIT_LFS_SKIP_SMUDGE="1",
            GCM_INTERACTIVE="never",
            # Error messages are matched in English.
            LC_ALL="C",
            LANGUAGE="C",
        )
        environment.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        return environment


def _folder_name(url: str) -> str:
    """The repository's name, so a skill at the root is named after its repository."""
    tail = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return tail if tail and not tail.startswith(".") else "repository"


def _folder_in(clone: Path, path: str, url: str, branch: str | None) -> Path:
    """``path`` inside the clone, step by step so no symbolic link leads out of it."""
    folder = clone
    for part in path.split("/") if path else ():
        folder = folder / part
        if folder.is_symlink():
            raise ValidationError(
                f"{path!r} is a symbolic link in the repository; links are not followed",
                details={"field": "path", "value": path},
            )
        if not folder.is_dir():
            where = f"branch {branch!r} of " if branch else ""
            raise ValidationError(
                f"folder {path!r} not found in {where}{redact_text(url)}",
                details={"field": "path", "value": path, "reason": "path_not_found"},
            )
    return folder


def _failure(stderr: str, url: str) -> ValidationError:
    missing = _MISSING_BRANCH.search(stderr)
    if missing is not None:
        return ValidationError(
            f"branch {missing['branch']!r} not found in {redact_text(url)}",
            details={"field": "branch", "value": missing["branch"], "reason": "branch_not_found"},
        )
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.lower().startswith(("fatal:", "error:"))]
    reason = redact_text((fatal or lines or ["git failed"])[-1])
    logger.info("git_failed", url=redact_text(url), stderr=redact_text(stderr[-2000:]))
    return ValidationError(
        f"could not clone {redact_text(url)}: {reason}",
        details={"field": "source", "reason": "clone_failed"},
    )


def _kill_group(pid: int) -> None:
    # git runs helpers (remote-https, index-pack, ssh) in its group: stop them all.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _tree_size(folder: Path) -> int:
    total = 0
    for directory, _, files in os.walk(folder):
        for name in files:
            with suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total
