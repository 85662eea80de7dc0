"""`kumiai serve` as a user runs it: embedded PostgreSQL, restarts, clean shutdown."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from kumiai.infrastructure.database.migrations import runner
from tests.support.database import embedded_home
from tests.support.fake_cli import fake_cli, printing_version
from tests.support.processes import free_port, kumiai_env, run_kumiai, serving
from tests.support.scripted_anthropic import ScriptedAnthropic, ScriptedModel

pytestmark = pytest.mark.slow


def _postgres_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if process.info.get("name") == "postgres" and any(str(pgdata) in part for part in cmdline):
            found.append(process)
    return found


def _write_profile(base_url: str, name: str) -> None:
    response = httpx.patch(f"{base_url}/api/v2/profile", json={"display_name": name}, timeout=10)
    assert response.status_code == 200, response.text


def _read_profile_name(base_url: str) -> str:
    return httpx.get(f"{base_url}/api/v2/profile", timeout=10).json()["data"]["display_name"]


@pytest.fixture
def home() -> Iterator[Path]:
    """A home for a real embedded server (see ``embedded_home`` for why not tmp_path)."""
    with embedded_home() as home:
        yield home


def test_serve_on_a_fresh_home_keeps_data_across_restarts(home: Path) -> None:
    env = kumiai_env(home)
    with serving(env) as server:
        assert httpx.get(f"{server.base_url}/api/health").json()["database"]["embedded"] is True
        _write_profile(server.base_url, "Kumi")
        assert server.stop(signal.SIGTERM) == 0
    assert _postgres_processes(home / "pgdata") == []

    with serving(env) as server:
        assert _read_profile_name(server.base_url) == "Kumi"
        assert server.stop(signal.SIGINT) == 0
    assert _postgres_processes(home / "pgdata") == []


def test_a_second_server_on_the_same_home_adopts_postgres_and_the_last_one_stops_it(
    home: Path,
) -> None:
    env = kumiai_env(home)
    with serving(env) as first, serving(env) as second:
        _write_profile(first.base_url, "Shared")
        assert _read_profile_name(second.base_url) == "Shared"
        assert first.stop(signal.SIGTERM) == 0
        # The first one started PostgreSQL; the second still uses it.
        assert _read_profile_name(second.base_url) == "Shared"
        assert second.stop(signal.SIGTERM) == 0
    assert _postgres_processes(home / "pgdata") == []


def test_serve_with_two_workers_on_the_embedded_postgres_stops_it_on_sigterm(home: Path) -> None:
    env = kumiai_env(home)
    with serving(env, timeout=180, args=["--workers", "2"]) as server:
        for _ in range(4):  # the requests land on either worker
            _write_profile(server.base_url, "Both")
            assert _read_profile_name(server.base_url) == "Both"
        assert server.stop(signal.SIGTERM) == 0
    assert _postgres_processes(home / "pgdata") == []


def test_after_a_kill_9_the_next_server_adopts_postgres_and_stops_it_on_sigterm(
    home: Path,
) -> None:
    env = kumiai_env(home)
    with serving(env) as server:
        _write_profile(server.base_url, "Survivor")
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    # PostgreSQL outlives a SIGKILL of serve (fine: the next start adopts it) ...
    assert _postgres_processes(home / "pgdata") != []

    with serving(env) as server:
        assert _read_profile_name(server.base_url) == "Survivor"
        assert server.stop(signal.SIGTERM) == 0
    # ... and the dead serve's pid in the handle file no longer keeps it alive.
    assert _postgres_processes(home / "pgdata") == []


def test_a_port_in_use_is_reported_on_one_line_before_postgres_starts(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_kumiai("serve", "--port", str(port), env=kumiai_env(home))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0]
    assert not (home / "pgdata").exists()


def test_serve_fails_clearly_when_the_database_is_unreachable(tmp_path: Path) -> None:
    env = kumiai_env(
        tmp_path / "home",
        KUMIAI_DATABASE_URL="postgresql://kumiai:hunter2@127.0.0.1:1/kumiai",
        KUMIAI_DB_CONNECT_TIMEOUT="2",
    )
    result = run_kumiai("serve", "--port", str(free_port()), env=env)
    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KUMIAI_PORT", "not-a-port"),
        ("KUMIAI_LOG_LEVEL", "loud"),
        ("KUMIAI_DATABASE_URL", "mysql://x"),
    ],
)
def test_a_bad_config_value_gives_a_one_line_error(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = run_kumiai("serve", env=kumiai_env(tmp_path / "home", **{variable: value}))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert variable in lines[0]


def test_doctor_reports_the_model_without_revealing_the_key(
    tmp_path: Path, database_url: str
) -> None:
    with ScriptedAnthropic() as claude:
        claude.set_models([ScriptedModel("claude-sonnet-5-5", "2026-09-01T00:00:00Z", "sonnet")])
        env = kumiai_env(
            tmp_path / "home",
            KUMIAI_DATABASE_URL=database_url,
            ANTHROPIC_API_KEY="sk-ant-secret-value",
            ANTHROPIC_BASE_URL=claude.base_url,
            COLUMNS="200",  # one table row per line
        )
        result = run_kumiai("doctor", env=env)
    assert result.returncode == 0, result.stderr
    assert "reachable" in result.stdout
    assert "anthropic" in result.stdout and "ANTHROPIC_API_KEY is set" in result.stdout
    assert "claude-sonnet-5-5 (newest 'sonnet' in the API's model list)" in result.stdout
    assert "sk-ant-secret-value" not in result.stdout + result.stderr


def test_doctor_reports_each_cli_backend_as_the_server_finds_it(
    tmp_path: Path, database_url: str
) -> None:
    bin_folder = tmp_path / "bin"
    claude = printing_version(tmp_path / "opt", "claude", "2.1.337 (Claude Code)")
    codex = printing_version(bin_folder, "codex", "codex-cli 0.98.0")
    fake_cli(bin_folder, "opencode", "exit 4")
    env = kumiai_env(
        tmp_path / "home",
        KUMIAI_DATABASE_URL=database_url,
        KUMIAI_CLAUDE_CODE_CLI=str(claude),
        PATH=str(bin_folder),
        COLUMNS="400",  # one table row per line
    )

    result = run_kumiai("doctor", env=env)

    assert result.returncode == 0, result.stderr
    rows = {
        cells[0]: cells[1]
        for line in result.stdout.splitlines()
        if len(cells := [cell.strip() for cell in line.strip("│ ").split("│")]) == 2
    }
    assert rows["claude cli"] == f"{claude} (configured), 2.1.337 (Claude Code)"
    alone = "; its agents cannot call KumiAI's orchestration tools"
    assert rows["codex cli"] == f"{codex} (path), codex-cli 0.98.0{alone}"
    assert rows["gemini cli"] == (
        f"not found: `gemini` is not on PATH (or set KUMIAI_GEMINI_CLI){alone}"
    )
    assert rows["opencode cli"] == (
        f"{bin_folder / 'opencode'} (path), version unknown: "
        f"`{bin_folder / 'opencode'} --version` exited with 4{alone}"
    )


def test_db_commands_upgrade_and_report_the_revision(tmp_path: Path, database_url: str) -> None:
    env = kumiai_env(tmp_path / "home", KUMIAI_DATABASE_URL=database_url)
    assert run_kumiai("db", "upgrade", env=env).returncode == 0
    current = run_kumiai("db", "current", env=env)
    assert f"current: {runner.head_revision()}" in current.stdout
