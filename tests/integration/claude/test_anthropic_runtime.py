"""AnthropicRuntime with the real ``anthropic`` SDK against the scripted server on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from kumiai.application.ports.agent_runtime import (
    ToolCall,
    ToolOutcome,
    ToolSpec,
    TurnOutcome,
    TurnRequest,
    Usage,
)
from kumiai.core.exceptions import ClaudeUnavailableError
from kumiai.infrastructure.claude import AnthropicRuntime, ClaudeStreamError
from tests.support.scripted_anthropic import (
    Reply,
    ScriptedAnthropic,
    ServerToolUse,
    Text,
    ToolUse,
    scripted_anthropic_server,
)
from tests.support.sinks import RecordingSink, ScriptedTools

MODEL = "claude-test-model"
SYSTEM = "You are a careful test agent."
HELLO = [{"role": "user", "content": "Hello"}]
READ_SPEC = ToolSpec(
    name="Read",
    description="Read a file.",
    input_schema={
        "type": "object",
        "properties": {"file_path": {"type": "string"}},
        "required": ["file_path"],
    },
)
GREP_SPEC = ToolSpec(
    name="Grep",
    description="Search files.",
    input_schema={"type": "object", "properties": {"pattern": {"type": "string"}}},
)


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptedAnthropic]:
    yield from scripted_anthropic_server()


@pytest.fixture
def server(shared_server: ScriptedAnthropic) -> ScriptedAnthropic:
    shared_server.reset()
    return shared_server


def make_runtime(
    base_url: str, api_key: str | None = "test-key", **options: Any
) -> AnthropicRuntime:
    # Tiny backoff keeps the retry tests fast; they check behaviour, not timing.
    settings = {"max_retries": 3, "backoff_base": 0.01, "backoff_max": 0.05} | options
    return AnthropicRuntime(api_key, base_url, **settings)


@pytest.fixture
async def runtime(server: ScriptedAnthropic) -> AsyncIterator[AnthropicRuntime]:
    runtime = make_runtime(server.base_url)
    yield runtime
    await runtime.aclose()


def turn_request(**overrides: Any) -> TurnRequest:
    params: dict[str, Any] = {
        "model": MODEL,
        "system": SYSTEM,
        "messages": list(HELLO),
        "tools": [READ_SPEC, GREP_SPEC],
        "max_tokens": 1024,
    }
    return TurnRequest(**(params | overrides))


async def run(
    runtime: AnthropicRuntime,
    sink: RecordingSink,
    executor: ScriptedTools | None = None,
    **request: Any,
) -> TurnOutcome:
    return await runtime.run_turn(turn_request(**request), executor or ScriptedTools(), sink)


# --------------------------------------------------------------------------- streaming


async def test_text_arrives_in_deltas_and_completes_once(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    text = "Hello there, this answer is streamed in several pieces."
    server.enqueue(Reply.text(text, chunks=6).with_usage(input_tokens=12, output_tokens=34))
    sink = RecordingSink()

    outcome = await run(runtime, sink)

    deltas = sink.of("text_delta")
    assert len(deltas) == 6
    assert {index for _kind, index, _text in deltas} == {0}
    assert "".join(piece for _kind, _index, piece in deltas) == text
    assert sink.events[6:] == [
        ("text_done", 0, text),
        ("usage", Usage(input_tokens=12, output_tokens=34), "end_turn"),
    ]
    assert outcome == TurnOutcome("end_turn", Usage(12, 34), iterations=1)


async def test_prompt_caching_marks_tools_system_and_the_latest_message(
    server: ScriptedAnthropic,
) -> None:
    server.enqueue(Reply.tool_use("Read", {"file_path": "a.txt"}), Reply.text("Done"))
    runtime = make_runtime(server.base_url, prompt_caching=True)
    try:
        await run(runtime, RecordingSink())
    finally:
        await runtime.aclose()

    first, second = server.requests
    ephemeral = {"type": "ephemeral"}
    assert first.system == [{"type": "text", "text": SYSTEM, "cache_control": ephemeral}]
    assert [tool.get("cache_control") for tool in first.tools] == [None, ephemeral]
    assert first.messages[-1]["content"][-1]["cache_control"] == ephemeral
    marked = [
        block
        for message in second.messages
        for block in message["content"]
        if isinstance(block, dict) and "cache_control" in block
    ]
    assert len(marked) == 1
    assert second.messages[-1]["content"][-1]["type"] == "tool_result"
    assert second.messages[-1]["content"][-1]["cache_control"] == ephemeral


async def test_the_request_carries_model_system_tools_and_history(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.enqueue(Reply.text("Hi"))

    await run(runtime, RecordingSink())

    (request,) = server.requests
    assert request.body["stream"] is True
    assert request.model == MODEL
    assert request.body["max_tokens"] == 1024
    assert request.system == SYSTEM
    assert request.messages == HELLO
    assert request.tools == [
        {"name": "Read", "description": "Read a file.", "input_schema": READ_SPEC.input_schema},
        {"name": "Grep", "description": "Search files.", "input_schema": GREP_SPEC.input_schema},
    ]
    credentials = request.headers.get("authorization", "") + request.headers.get("x-api-key", "")
    assert "test-key" in credentials


async def test_the_request_is_json_as_the_sdk_sends_it_whatever_the_text(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.enqueue(Reply.text("Hi"))
    history = [{"role": "user", "content": 'Naïve "quotes", a tab\t, 日本語 and 🦀\u2028'}]

    await run(runtime, RecordingSink(), messages=history)

    (request,) = server.requests
    assert request.messages == history
    assert request.headers["content-type"] == "application/json"
    assert request.headers["anthropic-version"]


async def test_empty_system_and_tools_are_left_out(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.enqueue(Reply.text("Hi"))

    await run(runtime, RecordingSink(), system="", tools=[])

    assert "system" not in server.requests[0].body
    assert "tools" not in server.requests[0].body


# --------------------------------------------------------------------------- tool loop


async def test_parallel_tool_calls_run_in_order_and_return_paired_by_id(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    read_call = ToolUse("Read", {"file_path": "src/app.py"}, id="toolu_read")
    grep_call = ToolUse("Grep", {"pattern": "TODO"}, id="toolu_grep")
    server.enqueue(
        Reply.turn([Text("Let me look."), read_call, grep_call], stop_reason="tool_use"),
        Reply.text("All done.", chunks=2),
    )
    tools = ScriptedTools({"Grep": ToolOutcome("Invalid regular expression", is_error=True)})
    sink = RecordingSink()

    outcome = await run(runtime, sink, tools)

    read = ToolCall("toolu_read", "Read", {"file_path": "src/app.py"})
    grep = ToolCall("toolu_grep", "Grep", {"pattern": "TODO"})
    assert tools.calls == [read, grep]
    assert [event for event in sink.events if event[0] != "text_delta"] == [
        ("text_done", 0, "Let me look."),
        ("usage", Usage(25, 10), "tool_use"),
        ("tool_use", read),
        ("tool_result", "toolu_read", ToolOutcome("Read ran")),
        ("tool_use", grep),
        ("tool_result", "toolu_grep", ToolOutcome("Invalid regular expression", is_error=True)),
        # Block indexes run on across the turn: the first response had three blocks.
        ("text_done", 3, "All done."),
        ("usage", Usage(25, 10), "end_turn"),
    ]
    assert outcome == TurnOutcome("end_turn", Usage(50, 20), iterations=2)

    follow_up = server.requests[1].messages
    assert follow_up[0] == HELLO[0]
    assert follow_up[1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_read", "name": "Read", "input": read.input},
            {"type": "tool_use", "id": "toolu_grep", "name": "Grep", "input": grep.input},
        ],
    }
    assert follow_up[2] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_read",
                "content": "Read ran",
                "is_error": False,
            },
            {
                "type": "tool_result",
                "tool_use_id": "toolu_grep",
                "content": "Invalid regular expression",
                "is_error": True,
            },
        ],
    }


async def test_usage_is_summed_over_iterations(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.enqueue(
        Reply.tool_use("Read", {"file_path": "a"}).with_usage(10, 5, cache_read_input_tokens=100),
        Reply.text("ok").with_usage(20, 7, cache_creation_input_tokens=3),
    )
    sink = RecordingSink()

    outcome = await run(runtime, sink)

    assert sink.of("usage") == [
        ("usage", Usage(10, 5, cache_read_input_tokens=100), "tool_use"),
        ("usage", Usage(20, 7, cache_creation_input_tokens=3), "end_turn"),
    ]
    assert outcome.usage == Usage(
        30, 12, cache_creation_input_tokens=3, cache_read_input_tokens=100
    )


async def test_pause_turn_continues_with_the_assistant_content(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.enqueue(Reply.text("Still working", stop_reason="pause_turn"), Reply.text("Finished."))

    outcome = await run(runtime, RecordingSink())

    assert outcome.stop_reason == "end_turn"
    assert outcome.iterations == 2
    assert server.requests[1].messages[-1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Still working"}],
    }


@pytest.mark.parametrize("stop_reason", ["max_tokens", "stop_sequence", "refusal"])
async def test_other_stop_reasons_end_the_turn(
    server: ScriptedAnthropic, runtime: AnthropicRuntime, stop_reason: Any
) -> None:
    server.enqueue(Reply.text("Cut short", stop_reason=stop_reason))

    outcome = await run(runtime, RecordingSink())

    assert outcome == TurnOutcome(stop_reason, Usage(25, 10), iterations=1)


async def test_max_iterations_ends_the_turn(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.enqueue(*(Reply.tool_use("Read", {"file_path": "a"}) for _ in range(3)))
    tools = ScriptedTools()

    outcome = await run(runtime, RecordingSink(), tools, max_iterations=2)

    assert outcome == TurnOutcome("max_iterations", Usage(50, 20), iterations=2)
    assert len(server.requests) == 2
    assert len(tools.calls) == 2


# --------------------------------------------------------------------------- retries


async def test_overloaded_is_retried_without_duplicate_events(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.enqueue(Reply.error(529), Reply.text("Recovered", chunks=3))
    sink = RecordingSink()

    outcome = await run(runtime, sink)

    assert len(server.requests) == 2
    assert [text for _kind, _index, text in sink.of("text_delta")] == ["Rec", "ove", "red"]
    assert sink.of("text_done") == [("text_done", 0, "Recovered")]
    assert len(sink.of("usage")) == 1
    assert outcome.stop_reason == "end_turn"


async def test_rate_limit_waits_as_long_as_retry_after_asks(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.enqueue(Reply.error(429, retry_after=0.4), Reply.text("ok"))
    started = time.monotonic()

    outcome = await run(runtime, RecordingSink())

    assert time.monotonic() - started >= 0.35
    assert len(server.requests) == 2
    assert outcome.stop_reason == "end_turn"


async def test_server_errors_past_max_retries_make_claude_unavailable(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.enqueue(*(Reply.error(500, message="upstream on fire") for _ in range(4)))
    sink = RecordingSink()

    with pytest.raises(ClaudeUnavailableError, match="after 4 attempts: 500 api_error") as raised:
        await run(runtime, sink)

    assert "upstream on fire" in raised.value.message
    assert raised.value.details["status"] == 500
    assert len(server.requests) == 4
    assert [kind for kind, *_rest in sink.events] == ["retry"] * 3


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_not_retried_and_keep_the_api_message(
    server: ScriptedAnthropic, runtime: AnthropicRuntime, status: int
) -> None:
    message = "messages.1: tool_use ids were found without tool_result blocks"
    server.enqueue(Reply.error(status, message=message), Reply.text("never requested"))

    with pytest.raises(ClaudeUnavailableError) as raised:
        await run(runtime, RecordingSink())

    assert message in raised.value.message
    assert str(status) in raised.value.message
    assert len(server.requests) == 1


async def test_connection_failures_are_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    runtime = make_runtime(f"http://127.0.0.1:{closed_port}", max_retries=1)

    with pytest.raises(ClaudeUnavailableError, match="after 2 attempts: connection error"):
        await run(runtime, RecordingSink())
    await runtime.aclose()


# --------------------------------------------------------------------------- broken streams


async def test_a_stream_cut_after_text_is_continued_not_repeated(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    # message_start, ping, content_block_start and the one delta arrive; then the cut.
    server.enqueue(
        Reply.text("Counting: one, ", chunks=1).cut(after_events=4),
        Reply.text(" two, three."),
    )
    sink = RecordingSink()

    outcome = await run(runtime, sink)

    assert outcome.stop_reason == "end_turn"
    kinds = [kind for kind, *_rest in sink.events]
    assert kinds[:2] == ["text_delta", "retry"]
    assert sink.of("retry")[0][1:3] == (1, 3)
    # The retry continues the reply it was given back, trailing space left out.
    assert server.requests[1].messages[-1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Counting: one,"}],
    }
    assert [text for _, _, text in sink.of("text_done")] == ["Counting: one, two, three."]
    shown = "".join(text for _, _, text in sink.of("text_delta"))
    assert shown == "Counting: one, two, three."
    assert {index for _, index, _ in sink.of("text_delta")} == {0}


async def test_a_cut_reply_continued_by_a_tool_call_keeps_its_text_as_a_block_of_its_own(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.enqueue(
        Reply.text("Let me check", chunks=1).cut(after_events=4),
        Reply.tool_use("Read", {"file_path": "a.txt"}, id="toolu_1"),
        Reply.text("Done."),
    )
    sink = RecordingSink()

    await run(runtime, sink)

    assert [text for _, _, text in sink.of("text_done")] == ["Let me check", "Done."]
    assert sink.of("text_done")[0][1] != sink.of("text_done")[1][1]
    # The tool loop sends the whole reply back: the text shown first, then the call.
    replayed = server.requests[2].messages[-2]
    assert replayed["role"] == "assistant"
    assert [block["type"] for block in replayed["content"]] == ["text", "tool_use"]
    assert replayed["content"][0]["text"] == "Let me check"


async def test_a_stream_broken_again_and_again_ends_with_one_error_naming_the_cause(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    broken = Reply.text("Counting", chunks=1).fails_midway(after_events=4)
    server.enqueue(*[broken] * 4)
    sink = RecordingSink()

    with pytest.raises(ClaudeUnavailableError, match="after 4 attempts: in-stream overloaded"):
        await run(runtime, sink)

    assert [event[1:4] for event in sink.of("retry")] == [
        (1, 3, "overloaded_error"),
        (2, 3, "overloaded_error"),
        (3, 3, "overloaded_error"),
    ]


async def test_a_stream_cut_after_a_web_search_is_an_error_not_a_retry(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.enqueue(
        Reply.turn([ServerToolUse("web_search", {"query": "kumiai"}), Text("Found")]).cut(
            after_events=8
        ),
        Reply.text("A retry would repeat the search"),
    )
    sink = RecordingSink()

    with pytest.raises(ClaudeStreamError, match="after a web tool call was shown"):
        await run(runtime, sink, server_tools=("WebSearch",))

    assert isinstance(ClaudeStreamError("x"), ClaudeUnavailableError)
    assert server.pending == 1


async def test_a_stream_cut_before_any_content_is_retried(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    # message_start, ping and content_block_start arrive; no text does.
    server.enqueue(Reply.text("First try").cut(after_events=3), Reply.text("Second", chunks=2))
    sink = RecordingSink()

    outcome = await run(runtime, sink)

    assert len(server.requests) == 2
    assert sink.events[0][:3] == ("retry", 1, 3)
    assert sink.events[1:4] == [
        ("text_delta", 0, "Sec"),
        ("text_delta", 0, "ond"),
        ("text_done", 0, "Second"),
    ]
    assert outcome.iterations == 1


async def test_a_cut_tool_call_is_retried_because_nothing_was_shown(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    call = ToolUse("Read", {"file_path": "a.py"}, id="toolu_once")
    server.enqueue(
        Reply.turn([call], stop_reason="tool_use").cut(after_events=5),
        Reply.turn([call], stop_reason="tool_use"),
        Reply.text("Read it."),
    )
    tools = ScriptedTools()

    await run(runtime, RecordingSink(), tools)

    assert tools.calls == [ToolCall("toolu_once", "Read", {"file_path": "a.py"})]
    assert len(server.requests) == 3


# --------------------------------------------------------------------------- set-up and cancel


@pytest.mark.parametrize("api_key", [None, ""])
async def test_a_missing_key_fails_before_any_request(
    server: ScriptedAnthropic, api_key: str | None
) -> None:
    runtime = make_runtime(server.base_url, api_key=api_key)

    with pytest.raises(ClaudeUnavailableError, match="set ANTHROPIC_API_KEY"):
        await run(runtime, RecordingSink())

    assert server.requests == []


async def test_cancelling_a_hung_stream_stops_within_a_second(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.enqueue(Reply.hang(timeout=30), Reply.text("never requested"))
    sink = RecordingSink()
    task = asyncio.create_task(run(runtime, sink))
    await asyncio.wait_for(sink.started.wait(), timeout=5)

    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - started < 1
    await asyncio.sleep(0.1)
    assert len(server.requests) == 1
    assert server.pending == 1
