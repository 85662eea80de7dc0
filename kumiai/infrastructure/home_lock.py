"""One ``kumiai serve`` per home folder, enforced with an advisory file lock."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from kumiai.core.exceptions import ConflictError


class HomeLock:
    """Held for the whole life of a server; the OS releases it if the process dies."""

    def __init__(self, home: Path) -> None:
        self.path = home / "kumiai.lock"
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise ConflictError(
                f"another kumiai server (pid {owner}) is already using {self.path.parent}"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
