"""The Codex runtime: the real ``codex`` CLI against the scripted Responses API server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from kumiai.application.ports.agent_runtime import ToolOutcome, Usage
from kumiai.core.exceptions import AgentBackendUnavailableError
from kumiai.infrastructure.cli_agents.codex import CodexBackend
from kumiai.infrastructure.cli_agents.runtime import BackendModels, CliAgentRuntime
from tests.integration.cli_agents.conftest import all_ended, installed_cli, turn_request
from tests.support.scripted_anthropic import Reply, Text, ToolUse
from tests.support.scripted_openai import (
    ScriptedResponses,
    codex_provider,
    input_texts,
    scripted_responses_server,
)
from tests.support.sinks import RecordingSink, ScriptedTools

MODEL = "gpt-scripted"
KEY_VARIABLE = "KUMIAI_SCRIPTED_OPENAI_KEY"
TRANSCRIPT_MARK = "<conversation_transcript>"


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptedResponses]:
    yield from scripted_responses_server()


@pytest.fixture
def openai(shared_server: ScriptedResponses) -> ScriptedResponses:
    shared_server.reset()
    return shared_server


@pytest.fixture
def runtime(tmp_path: Path, openai: ScriptedResponses) -> CliAgentRuntime:
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    return CliAgentRuntime(
        CodexBackend(config=codex_provider(openai, KEY_VARIABLE)),
        installed_cli("codex"),
        tmp_path / "state",
        models=BackendModels((MODEL, "gpt-other")),
        environment={"CODEX_HOME": str(codex_home), KEY_VARIABLE: "test-key"},
    )


def _write(command: str) -> ToolUse:
    return ToolUse("exec_command", {"cmd": command})


async def test_a_turn_streams_text_edits_a_file_and_reports_the_command(
    runtime: CliAgentRuntime, openai: ScriptedResponses, project: Path
) -> None:
    openai.enqueue(
        Reply.turn([Text("Writing the notes."), _write("printf hello > notes.txt")], "tool_use"),
        Reply.text("The notes are written.").with_usage(120, 30),
    )
    sink = RecordingSink()

    outcome = await runtime.run_turn(
        turn_request(project, [{"role": "user", "content": "write notes"}]), ScriptedTools(), sink
    )

    assert (project / "notes.txt").read_text() == "hello"
    kinds = [event[0] for event in sink.events]
    assert kinds == [
        "text_delta", "text_done", "tool_use", "tool_result", "text_delta", "text_done", "usage",
    ]  # fmt: skip
    assert sink.of("text_done") == [
        ("text_done", 0, "Writing the notes."),
        ("text_done", 2, "The notes are written."),
    ]
    call = sink.of("tool_use")[0][1]
    assert call.name == "Bash"
    assert "printf hello > notes.txt" in call.input["command"]
    assert sink.of("tool_result")[0][1:] == (call.id, ToolOutcome("", False))
    assert outcome.usage == Usage(input_tokens=145, output_tokens=40)
    first = openai.requests[0]
    assert first.model == MODEL
    assert any("MARKER-DANA" in text for text in input_texts(first, "developer"))
    assert input_texts(first, "user")[-1] == "write notes"


async def test_a_write_outside_the_project_is_refused_by_the_sandbox(
    runtime: CliAgentRuntime, openai: ScriptedResponses, project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    openai.enqueue(
        Reply.turn([_write(f"printf x > {outside}")], "tool_use"), Reply.text("It was refused.")
    )

    await runtime.run_turn(
        turn_request(project, [{"role": "user", "content": "write outside"}]),
        ScriptedTools(),
        RecordingSink(),
    )

    assert not outside.exists()
    answered = openai.requests[1].body["input"][-1]
    assert answered["type"] == "function_call_output"
    assert "Read-only file system" in answered["output"]


async def test_the_next_turn_resumes_the_codex_thread(
    runtime: CliAgentRuntime, openai: ScriptedResponses, project: Path
) -> None:
    openai.enqueue(Reply.text("The answer is 42."), Reply.text("You asked about 42."))
    session_id = uuid.uuid4()
    first = [{"role": "user", "content": "what is the answer?"}]
    await runtime.run_turn(
        turn_request(project, first, session_id=session_id), ScriptedTools(), RecordingSink()
    )

    second = [
        *first,
        {"role": "assistant", "content": [{"type": "text", "text": "The answer is 42."}]},
        {"role": "user", "content": "what did I ask?"},
    ]
    await runtime.run_turn(
        turn_request(project, second, session_id=session_id), ScriptedTools(), RecordingSink()
    )

    resumed = openai.requests[1]
    assert input_texts(resumed, "assistant") == ["The answer is 42."]
    assert input_texts(resumed, "user")[-2:] == ["what is the answer?", "what did I ask?"][-2:]
    assert TRANSCRIPT_MARK not in str(resumed.body["input"])


async def test_history_codex_never_saw_is_replayed_as_a_transcript(
    runtime: CliAgentRuntime, openai: ScriptedResponses, project: Path
) -> None:
    openai.enqueue(Reply.text("Continuing."))
    history = [
        {"role": "user", "content": "remember the word teal"},
        {"role": "assistant", "content": [{"type": "text", "text": "Teal, noted."}]},
        {"role": "user", "content": "which word?"},
    ]

    await runtime.run_turn(turn_request(project, history), ScriptedTools(), RecordingSink())

    prompt = input_texts(openai.requests[0], "user")[-1]
    assert TRANSCRIPT_MARK in prompt
    assert "Teal, noted." in prompt
    assert prompt.endswith("which word?")


async def test_a_cancel_kills_the_codex_process_group_within_a_second(
    runtime: CliAgentRuntime, openai: ScriptedResponses, project: Path
) -> None:
    openai.enqueue(Reply.hang(timeout=30))
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    turn = asyncio.create_task(
        runtime.run_turn(
            turn_request(project, [{"role": "user", "content": "think long"}]),
            ScriptedTools(),
            RecordingSink(),
        )
    )
    await openai.wait_for_requests_async(1, timeout=30)
    cli = [c for c in psutil.Process().children(recursive=True) if c.pid not in before]
    assert cli, "the codex process runs while its request hangs"

    started = time.monotonic()
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    assert time.monotonic() - started < 1.0
    assert all_ended(cli, deadline=started + 1.0)
    await runtime.aclose()


async def test_a_failed_request_fails_the_turn_with_codex_s_reason(
    runtime: CliAgentRuntime, openai: ScriptedResponses, project: Path
) -> None:
    openai.enqueue(Reply.error(400, message="model gpt-scripted is not allowed"))

    with pytest.raises(AgentBackendUnavailableError) as raised:
        await runtime.run_turn(
            turn_request(project, [{"role": "user", "content": "hello"}]),
            ScriptedTools(),
            RecordingSink(),
        )

    assert "not allowed" in raised.value.message
    assert raised.value.message.startswith("Codex: ")
    assert raised.value.details["runtime"] == "codex"
    assert raised.value.details["exit_code"] == 1


async def test_an_agent_model_of_the_backend_is_passed_and_a_claude_one_means_the_default(
    runtime: CliAgentRuntime, openai: ScriptedResponses, project: Path
) -> None:
    openai.enqueue(Reply.text("one"), Reply.text("two"))
    hello = [{"role": "user", "content": "hello"}]

    await runtime.run_turn(
        turn_request(project, hello, model="gpt-other"), ScriptedTools(), RecordingSink()
    )
    await runtime.run_turn(turn_request(project, hello), ScriptedTools(), RecordingSink())

    assert [request.model for request in openai.requests] == ["gpt-other", MODEL]


async def test_a_missing_cli_fails_the_turn_saying_where_it_looked(
    tmp_path: Path, project: Path
) -> None:
    missing = tmp_path / "bin" / "codex"
    runtime = CliAgentRuntime(CodexBackend(), missing, tmp_path / "state")

    with pytest.raises(AgentBackendUnavailableError) as raised:
        await runtime.run_turn(
            turn_request(project, [{"role": "user", "content": "hello"}]),
            ScriptedTools(),
            RecordingSink(),
        )

    assert str(missing) in raised.value.message
