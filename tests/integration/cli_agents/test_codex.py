"""What only the Codex runtime has: its shell commands, its sandbox, its usage report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kumiai.application.ports.agent_runtime import ToolOutcome, Usage
from kumiai.application.ports.mcp import McpServerDefinition
from kumiai.core.exceptions import AgentBackendUnavailableError
from kumiai.infrastructure.cli_agents.runtime import CliAgentRuntime
from tests.integration.cli_agents.cases import CODEX
from tests.integration.cli_agents.helpers import turn_request
from tests.support.scripted_anthropic import Reply, Text, ToolUse
from tests.support.scripted_openai import ScriptedResponses, scripted_responses_server
from tests.support.sinks import RecordingSink, ScriptedTools


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptedResponses]:
    yield from scripted_responses_server()


@pytest.fixture
def openai(shared_server: ScriptedResponses) -> ScriptedResponses:
    shared_server.reset()
    return shared_server


@pytest.fixture
def runtime(tmp_path: Path, openai: ScriptedResponses) -> CliAgentRuntime:
    return CODEX.runtime(openai, tmp_path)


def _shell(command: str) -> ToolUse:
    return ToolUse("exec_command", {"cmd": command})


async def test_a_shell_command_is_a_bash_call_with_its_output_and_usage_is_split(
    runtime: CliAgentRuntime, openai: ScriptedResponses, project: Path
) -> None:
    openai.enqueue(
        Reply.turn([Text("Listing."), _shell("printf listed")], "tool_use").with_usage(
            100, 10, cache_read_input_tokens=40
        ),
        Reply.text("Listed."),
    )
    sink = RecordingSink()

    outcome = await runtime.run_turn(
        turn_request(project, [{"role": "user", "content": "list"}]), ScriptedTools(), sink
    )

    call = sink.of("tool_use")[0][1]
    assert call.name == "Bash"
    assert "printf listed" in call.input["command"]
    assert sink.of("tool_result")[0][1:] == (call.id, ToolOutcome("listed", False))
    # Codex counts cached tokens inside its input tokens; KumiAI keeps them apart.
    assert outcome.usage == Usage(input_tokens=125, output_tokens=20, cache_read_input_tokens=40)


async def test_the_sandbox_refuses_writes_outside_the_project_even_in_tmp(
    runtime: CliAgentRuntime, openai: ScriptedResponses, project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    openai.enqueue(Reply.turn([_shell(f"printf x > {outside}")]), Reply.text("Refused."))

    await runtime.run_turn(
        turn_request(project, [{"role": "user", "content": "write outside"}]),
        ScriptedTools(),
        RecordingSink(),
    )

    answered = openai.requests[1].body["input"][-1]
    assert answered["type"] == "function_call_output"
    assert "Read-only file system" in answered["output"]


async def test_an_agent_allowed_no_editing_tool_runs_read_only(
    runtime: CliAgentRuntime, openai: ScriptedResponses, project: Path
) -> None:
    openai.enqueue(Reply.turn([_shell("printf x > notes.txt")]), Reply.text("Refused."))

    await runtime.run_turn(
        turn_request(
            project, [{"role": "user", "content": "write"}], allowed_tools=("Read", "Grep")
        ),
        ScriptedTools(),
        RecordingSink(),
    )

    assert not (project / "notes.txt").exists()
    assert "Read-only file system" in openai.requests[1].body["input"][-1]["output"]


async def test_an_mcp_server_that_cannot_start_fails_the_turn_at_once_saying_so(
    tmp_path: Path, openai: ScriptedResponses, project: Path
) -> None:
    broken = McpServerDefinition("broken", "stdio", "kumiai", command=str(tmp_path / "none"))
    runtime = CODEX.runtime(openai, tmp_path, lambda names: [broken])
    sink = RecordingSink()

    with pytest.raises(AgentBackendUnavailableError) as raised:
        await runtime.run_turn(
            turn_request(project, [{"role": "user", "content": "hi"}], allowed_mcps=("broken",)),
            ScriptedTools(),
            sink,
        )

    # Codex waits for the agent's servers (they are required): one that cannot start
    # fails the turn before any request, and is not retried.
    assert "required MCP servers failed to initialize: broken" in raised.value.message
    assert sink.of("retry") == []
    assert openai.requests == []
