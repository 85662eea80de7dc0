"""What every agent CLI runtime does, each real CLI against its scripted provider server:
a turn streams text and edits a file inside the project (and only there), is cancelled
within a second, fails clearly, and continues with its history on the next turn.

A ``test_<cli>_turns.py`` per CLI runs these scenarios on it (its ``CLI``), so the
CLIs' tests run in parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from kumiai.application.ports.agent_runtime import TurnRequest
from kumiai.application.ports.mcp import McpServerDefinition
from kumiai.core.exceptions import AgentBackendUnavailableError
from kumiai.infrastructure.cli_agents.runtime import CliAgentRuntime
from tests.integration.cli_agents.cases import CliCase
from tests.integration.cli_agents.helpers import all_ended, turn_request
from tests.support.mcp_probe_server import SCRIPT as PROBE
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, Text, ToolUse
from tests.support.sinks import RecordingSink, ScriptedTools

TRANSCRIPT_MARK = "<conversation_transcript>"


async def _run(runtime: CliAgentRuntime, request: TurnRequest) -> RecordingSink:
    sink = RecordingSink()
    await runtime.run_turn(request, ScriptedTools(), sink)
    return sink


async def test_a_turn_streams_text_edits_a_file_and_persists_each_block_once(
    case: CliCase, runtime: CliAgentRuntime, server: ScriptedAnthropic, project: Path
) -> None:
    server.enqueue(
        Reply.turn([Text("Writing the notes."), case.write_file(project / "notes.txt", "hello")]),
        Reply.text("The notes are written."),
    )

    sink = await _run(runtime, turn_request(project, [{"role": "user", "content": "write"}]))

    assert (project / "notes.txt").read_text() == "hello"
    # Usage comes per model response (OpenCode) or once for the turn (Codex, Gemini).
    assert [event[0] for event in sink.events if event[0] not in ("text_delta", "usage")] == [
        "text_done", "tool_use", "tool_result", "text_done",
    ]  # fmt: skip
    assert sink.events[-1][0] == "usage"
    assert sink.of("text_done") == [
        ("text_done", 0, "Writing the notes."),
        ("text_done", 2, "The notes are written."),
    ]
    streamed = "".join(event[2] for event in sink.of("text_delta"))
    assert streamed == "Writing the notes.The notes are written."
    call = sink.of("tool_use")[0][1]
    assert sink.of("tool_result")[0][1] == call.id
    assert not sink.of("tool_result")[0][2].is_error
    first = server.requests[0]
    assert case.model_of(first) == case.models[0]
    assert "MARKER-DANA" in case.system_text(first)
    assert case.user_texts(first)[-1] == "write"


async def test_a_file_outside_the_project_is_never_written(
    case: CliCase,
    runtime: CliAgentRuntime,
    server: ScriptedAnthropic,
    project: Path,
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside.txt"
    server.enqueue(Reply.turn([case.write_file(outside, "x")]), Reply.text("Refused."))

    await _run(runtime, turn_request(project, [{"role": "user", "content": "write outside"}]))

    assert not outside.exists()
    assert len(server.requests) == 2, "the refusal went back to the model"


async def test_the_next_turn_continues_the_cli_s_own_session_on_the_agent_s_model(
    case: CliCase, runtime: CliAgentRuntime, server: ScriptedAnthropic, project: Path
) -> None:
    server.enqueue(Reply.text("The answer is 42."), Reply.text("You asked about 42."))
    session_id = uuid.uuid4()
    first = [{"role": "user", "content": "what is the answer?"}]
    await _run(runtime, turn_request(project, first, session_id=session_id))
    second = [
        *first,
        {"role": "assistant", "content": [{"type": "text", "text": "The answer is 42."}]},
        {"role": "user", "content": "what did I ask?"},
    ]

    await _run(runtime, turn_request(project, second, session_id=session_id, model=case.models[1]))

    resumed = server.requests[1]
    # A Claude model (a session's default) means the backend's default; one of the
    # backend's own (the agent's default_model) is asked for as it is.
    assert [case.model_of(request) for request in server.requests] == list(case.models)
    assert case.assistant_texts(resumed) == ["The answer is 42."]
    assert case.user_texts(resumed)[-2:] == ["what is the answer?", "what did I ask?"]
    assert TRANSCRIPT_MARK not in str(resumed.body)


async def test_history_the_cli_never_saw_is_replayed_as_a_transcript(
    case: CliCase, runtime: CliAgentRuntime, server: ScriptedAnthropic, project: Path
) -> None:
    server.enqueue(Reply.text("Teal."))
    history = [
        {"role": "user", "content": "remember the word teal"},
        {"role": "assistant", "content": [{"type": "text", "text": "Teal, noted."}]},
        {"role": "user", "content": "which word?"},
    ]

    await _run(runtime, turn_request(project, history))

    prompt = case.user_texts(server.requests[0])[-1]
    assert TRANSCRIPT_MARK in prompt
    assert "Teal, noted." in prompt
    assert prompt.rstrip().endswith("which word?")


async def test_a_cancel_kills_the_cli_s_process_group_within_a_second(
    runtime: CliAgentRuntime, server: ScriptedAnthropic, project: Path
) -> None:
    server.enqueue(Reply.hang(timeout=30))
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    turn = asyncio.create_task(
        _run(runtime, turn_request(project, [{"role": "user", "content": "think long"}]))
    )
    await server.wait_for_requests_async(1, timeout=60)
    cli = [child for child in psutil.Process().children(recursive=True) if child.pid not in before]
    assert cli, "the CLI runs while its request hangs"

    started = time.monotonic()
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn

    assert time.monotonic() - started < 1.0
    assert all_ended(cli, deadline=started + 1.0)
    await runtime.aclose()


async def test_a_cli_killed_mid_turn_is_retried_and_the_turn_completes(
    runtime: CliAgentRuntime, server: ScriptedAnthropic, project: Path
) -> None:
    server.enqueue(Reply.hang(timeout=30), Reply.text("Recovered."))
    before = {child.pid for child in psutil.Process().children()}
    sink = RecordingSink()
    turn = asyncio.create_task(
        runtime.run_turn(
            turn_request(project, [{"role": "user", "content": "survive"}]), ScriptedTools(), sink
        )
    )
    await server.wait_for_requests_async(1, timeout=60)
    (cli,) = [child for child in psutil.Process().children() if child.pid not in before]

    os.killpg(cli.pid, signal.SIGKILL)  # as if the CLI crashed
    await asyncio.wait_for(turn, timeout=60)

    seen = f"events {sink.events!r}, {len(server.requests)} requests"
    assert sink.of("retry") == [("retry", 1, 3, "cli_exited", None)], seen
    # Text the CLI had shown before it was killed, if any yet (the hanging reply streams
    # "Thinking" first; whether it got through is up to timing), is kept once as its own
    # block; the retry's reply follows in the next one.
    *shown, last = [text for _, _, text in sink.of("text_done")]
    assert last == "Recovered.", seen
    assert len(shown) <= 1 and all("Thinking".startswith(text) for text in shown), seen
    assert len(server.requests) == 2, seen
    await runtime.aclose()


async def test_a_refused_request_fails_the_turn_with_the_provider_s_reason(
    case: CliCase, runtime: CliAgentRuntime, server: ScriptedAnthropic, project: Path
) -> None:
    server.enqueue(Reply.error(400, message="this model is not allowed here"))

    with pytest.raises(AgentBackendUnavailableError) as raised:
        await _run(runtime, turn_request(project, [{"role": "user", "content": "hello"}]))

    assert "not allowed here" in raised.value.message
    assert raised.value.details["runtime"] == case.name
    assert raised.value.details["exit_code"] != 0


async def test_a_missing_cli_fails_the_turn_saying_where_it_looked(
    case: CliCase, runtime: CliAgentRuntime, tmp_path: Path, project: Path
) -> None:
    missing = tmp_path / "bin" / case.name
    broken = CliAgentRuntime(runtime.backend, missing, tmp_path / "state")

    with pytest.raises(AgentBackendUnavailableError) as raised:
        await _run(broken, turn_request(project, [{"role": "user", "content": "hello"}]))

    assert str(missing) in raised.value.message


async def test_the_agent_s_mcp_servers_are_started_by_the_cli_with_their_secrets(
    case: CliCase, server: ScriptedAnthropic, project: Path, tmp_path: Path
) -> None:
    probe = McpServerDefinition(
        "probe", "stdio", "kumiai", command=sys.executable, args=(str(PROBE),),
        env={"PROBE_SECRET": "s3cret"},
    )  # fmt: skip
    runtime = case.runtime(server, tmp_path, lambda names: [probe] if "probe" in names else [])
    whoami = case.mcp_tool("probe", "whoami")
    server.enqueue(Reply.turn([ToolUse(whoami, {})]), Reply.text("Done."))

    sink = await _run(
        runtime,
        turn_request(project, [{"role": "user", "content": "who?"}], allowed_mcps=("probe",)),
    )

    # Codex offers a server's tools in a namespace of its own: "mcp__probe/whoami".
    assert whoami.rpartition("/")[2] in str(server.requests[0].body.get("tools"))
    assert f"cwd={project} secret=s3cret" in str(server.requests[1].body)
    (result,) = sink.of("tool_result")
    assert not result[2].is_error
    # The server ended with the turn (its CLI's process group), wherever it ran.
    assert all_ended(_probes_in(project), deadline=time.monotonic() + 5)


def _probes_in(folder: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if str(PROBE) in process.cmdline() and process.cwd() == str(folder):
                found.append(process)
    return found
