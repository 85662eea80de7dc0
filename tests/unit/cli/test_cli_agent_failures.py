"""An agent CLI that crashes or exits non-zero ends its turn with an error saying why:
stand-in CLIs (shell scripts) that fail the ways real ones do."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from kumiai.application.ports.agent_runtime import TurnRequest, Workspace
from kumiai.core.exceptions import AgentBackendUnavailableError
from kumiai.infrastructure.cli_agents.codex import CodexBackend
from kumiai.infrastructure.cli_agents.runtime import CliAgentRuntime
from tests.support.fake_cli import fake_cli
from tests.support.sinks import RecordingSink, ScriptedTools


async def _failure(tmp_path: Path, script: str) -> AgentBackendUnavailableError:
    project = tmp_path / "project"
    project.mkdir()
    runtime = CliAgentRuntime(
        CodexBackend(), fake_cli(tmp_path / "bin", "codex", script), tmp_path / "state"
    )
    request = TurnRequest(
        model="claude-sonnet-4-6",
        backend="codex",
        system="You are Dana.",
        messages=[{"role": "user", "content": "hello"}],
        workspace=Workspace(session_id=uuid.uuid4(), working_dir=str(project)),
    )
    with pytest.raises(AgentBackendUnavailableError) as raised:
        await runtime.run_turn(request, ScriptedTools(), RecordingSink())
    return raised.value


async def test_a_cli_killed_by_a_signal_fails_the_turn_naming_the_signal(tmp_path: Path) -> None:
    error = await _failure(tmp_path, 'echo \'{"type":"thread.started"}\'\nkill -SEGV $$')

    assert error.message == "Codex: codex was killed by SIGSEGV"
    assert error.details["exit_code"] == -11


async def test_a_failing_cli_s_error_line_is_the_reason_not_its_stack_trace(
    tmp_path: Path,
) -> None:
    error = await _failure(
        tmp_path,
        "echo 'Error: required MCP servers failed to initialize: broken' >&2\n"
        "echo 'Stack backtrace:' >&2\necho '   0: <unknown>' >&2\nexit 1",
    )

    assert error.message == (
        "Codex: codex exited with code 1: Error: required MCP servers failed to initialize: broken"
    )
    assert "Stack backtrace:" in error.details["output"]


async def test_a_cli_that_stops_without_finishing_the_turn_fails_it(tmp_path: Path) -> None:
    error = await _failure(tmp_path, 'echo \'{"type":"thread.started","thread_id":"t1"}\'')

    assert error.message == "Codex: stopped before finishing the turn"
    assert error.details["exit_code"] == 0
