"""An agent CLI that crashes or exits mid-turn is retried, continuing what the turn did;
out of retries, or when the CLI reports a failure, the turn ends with an error saying why.
Stand-in CLIs (shell scripts) fail the ways real ones do."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from kumiai.application.ports.agent_runtime import ToolOutcome, TurnRequest, Workspace
from kumiai.core.exceptions import AgentBackendUnavailableError
from kumiai.infrastructure.cli_agents.codex import CodexBackend
from kumiai.infrastructure.cli_agents.runtime import (
    CONTINUE_AFTER_EXIT,
    STOPPED_CALL,
    CliAgentRuntime,
    CliRetries,
)
from tests.support.fake_cli import fake_cli
from tests.support.sinks import RecordingSink, ScriptedTools

NO_RETRY = CliRetries(max_retries=0)


def _request(tmp_path: Path) -> TurnRequest:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    return TurnRequest(
        model="claude-sonnet-4-6",
        backend="codex",
        system="You are Dana.",
        messages=[{"role": "user", "content": "build it"}],
        workspace=Workspace(session_id=uuid.uuid4(), working_dir=str(project)),
    )


def _runtime(tmp_path: Path, script: str, retries: CliRetries) -> CliAgentRuntime:
    executable = fake_cli(tmp_path / "bin", "codex", script)
    return CliAgentRuntime(CodexBackend(), executable, tmp_path / "state", retries=retries)


async def _failure(
    tmp_path: Path, script: str, retries: CliRetries = NO_RETRY, sink: RecordingSink | None = None
) -> AgentBackendUnavailableError:
    runtime = _runtime(tmp_path, script, retries)
    with pytest.raises(AgentBackendUnavailableError) as raised:
        await runtime.run_turn(_request(tmp_path), ScriptedTools(), sink or RecordingSink())
    return raised.value


def _events(*lines: str) -> str:
    return "\n".join(f"echo '{line}'" for line in lines)


THREAD = '{"type":"thread.started","thread_id":"t1"}'
PART_ONE = '{"type":"item.completed","item":{"id":"i1","type":"agent_message","text":"Part one."}}'
STARTED_MAKE = (
    '{"type":"item.started","item":{"id":"i2","type":"command_execution","command":"make"}}'
)
PART_TWO = '{"type":"item.completed","item":{"id":"i3","type":"agent_message","text":"Part two."}}'
COMPLETED = '{"type":"turn.completed","usage":{"input_tokens":5,"output_tokens":2}}'


async def test_a_cli_killed_by_a_signal_fails_the_turn_naming_the_signal(tmp_path: Path) -> None:
    error = await _failure(tmp_path, 'echo \'{"type":"thread.started"}\'\nkill -SEGV $$')

    assert error.message == "Codex: codex was killed by SIGSEGV"
    assert error.details["exit_code"] == -11


async def test_a_cli_failing_before_its_turn_is_not_retried_and_says_its_error_line(
    tmp_path: Path,
) -> None:
    sink = RecordingSink()

    error = await _failure(
        tmp_path,
        "echo 'Error: required MCP servers failed to initialize: broken' >&2\n"
        "echo 'Stack backtrace:' >&2\necho '   0: <unknown>' >&2\nexit 1",
        CliRetries(backoff=0.01),
        sink,
    )

    assert sink.of("retry") == []

    assert error.message == (
        "Codex: codex exited with code 1: Error: required MCP servers failed to initialize: broken"
    )
    assert "Stack backtrace:" in error.details["output"]


async def test_a_cli_that_stops_without_finishing_the_turn_fails_it(tmp_path: Path) -> None:
    error = await _failure(tmp_path, 'echo \'{"type":"thread.started","thread_id":"t1"}\'')

    assert error.message == "Codex: codex stopped before finishing the turn"
    assert error.details["exit_code"] == 0


async def test_a_crash_mid_turn_is_retried_and_the_retry_continues_the_turn(
    tmp_path: Path,
) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    # Each run keeps its prompt (stdin); the first one says a word, starts a command, and
    # crashes.
    script = f"""
n=$(ls {prompts} | wc -l)
cat > {prompts}/$n
if [ "$n" = 0 ]; then
{_events(THREAD, PART_ONE, STARTED_MAKE)}
kill -SEGV $$
fi
{_events(THREAD, PART_TWO, COMPLETED)}
"""
    sink = RecordingSink()

    outcome = await _runtime(tmp_path, script, CliRetries(backoff=0.01)).run_turn(
        _request(tmp_path), ScriptedTools(), sink
    )

    assert outcome.stop_reason == "end_turn"
    assert [event for event in sink.events if event[0] != "text_delta"][:-1] == [
        ("text_done", 0, "Part one."),
        ("tool_use", sink.of("tool_use")[0][1]),
        ("tool_result", sink.of("tool_use")[0][1].id, ToolOutcome(STOPPED_CALL, is_error=True)),
        ("retry", 1, 3, "cli_exited", None),
        ("text_done", 2, "Part two."),
    ]
    # The retry is a fresh CLI session told what the turn did, and to go on from there.
    retried = (prompts / "1").read_text()
    assert retried.index("build it") < retried.index("Part one.") < retried.index("make")
    assert STOPPED_CALL in retried
    assert retried.rstrip().endswith(CONTINUE_AFTER_EXIT)


async def test_a_cli_that_keeps_crashing_fails_the_turn_naming_the_cause_after_its_retries(
    tmp_path: Path,
) -> None:
    sink = RecordingSink()

    error = await _failure(
        tmp_path,
        f"{_events(THREAD)}\nkill -SEGV $$",
        CliRetries(max_retries=2, backoff=0.01),
        sink,
    )

    assert error.message == "Codex: codex was killed by SIGSEGV"
    assert sink.of("retry") == [
        ("retry", 1, 2, "cli_exited", None),
        ("retry", 2, 2, "cli_exited", None),
    ]


async def test_a_failure_the_cli_reports_is_not_retried(tmp_path: Path) -> None:
    sink = RecordingSink()
    failed = json.dumps({"type": "turn.failed", "error": {"message": "model refused"}})

    error = await _failure(tmp_path, f"{_events(THREAD, failed)}\nexit 1", CliRetries(), sink)

    assert error.message == "Codex: model refused"
    assert sink.of("retry") == []
