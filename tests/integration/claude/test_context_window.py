"""Every request of a turn fits the context window, against a scripted server that
refuses oversized requests with the API's real "prompt is too long" error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from kumiai.application.ports.agent_runtime import ToolOutcome
from kumiai.application.services.runtime.history.budget import TRIMMED_PLACEHOLDER
from kumiai.core.exceptions import ContextWindowExceededError
from kumiai.infrastructure.claude import AnthropicRuntime
from tests.integration.claude.test_anthropic_runtime import (
    RecordingSink,
    ScriptedTools,
    make_runtime,
    turn_request,
)
from tests.support.scripted_anthropic import (
    RecordedRequest,
    Reply,
    ScriptedAnthropic,
    scripted_anthropic_server,
)

MAX_TOKENS = 1024
ELIDED = "[tool output elided to fit the context window"


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptedAnthropic]:
    yield from scripted_anthropic_server()


@pytest.fixture
def server(shared_server: ScriptedAnthropic) -> ScriptedAnthropic:
    shared_server.reset()
    return shared_server


@pytest.fixture
async def runtime(server: ScriptedAnthropic) -> AsyncIterator[AnthropicRuntime]:
    runtime = make_runtime(server.base_url)
    yield runtime
    await runtime.aclose()


def _window(limit: int) -> int:
    """A context window whose input budget is exactly ``limit`` tokens."""
    return limit + MAX_TOKENS


def _model_requests(server: ScriptedAnthropic) -> list[RecordedRequest]:
    return [request for request in server.requests if request.path == "/v1/messages"]


def _history(exchanges: int, chars: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for index in range(exchanges):
        messages += [
            {
                "role": "user",
                "content": [{"type": "text", "text": f"question {index} " + "q" * chars}],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "a" * chars}]},
        ]
    return [*messages, {"role": "user", "content": [{"type": "text", "text": "latest"}]}]


async def test_the_whole_request_is_budgeted_with_the_apis_token_count(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    limit = 3_000
    server.max_prompt_tokens = limit
    system = "Follow the house rules. " * 250  # about 1,500 tokens of the 3,000
    history = _history(exchanges=10, chars=400)  # fits alone, not with the system prompt
    assert server.prompt_tokens({"messages": history}) < limit
    assert server.prompt_tokens({"system": system, "messages": history}) > limit
    server.enqueue(Reply.text("It fits."))

    outcome = await runtime.run_turn(
        turn_request(
            system=system,
            messages=history,
            max_tokens=MAX_TOKENS,
            context_window_tokens=_window(limit),
        ),
        ScriptedTools(),
        RecordingSink(),
    )

    assert outcome.stop_reason == "end_turn"
    assert [request.path for request in server.requests] == [
        "/v1/messages/count_tokens",
        "/v1/messages",
    ]
    (sent,) = _model_requests(server)
    assert server.prompt_tokens(sent.body) <= limit
    assert sent.system == system
    first, *_, last = sent.messages
    assert first["content"][0]["text"] == TRIMMED_PLACEHOLDER
    assert last["content"][-1]["text"] == "latest"


async def test_once_calibrated_a_request_far_over_the_budget_is_shrunk_without_counting(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    limit = 3_000
    server.max_prompt_tokens = limit
    near = _history(exchanges=7, chars=400)  # about 0.8 of the budget: counted
    far = _history(exchanges=40, chars=400)  # about 4.5 times the budget
    for history in (near, far):
        server.enqueue(Reply.text("ok"))
        request = turn_request(
            messages=history, max_tokens=MAX_TOKENS, context_window_tokens=_window(limit)
        )
        await runtime.run_turn(request, ScriptedTools(), RecordingSink())

    assert [request.path for request in server.requests] == [
        "/v1/messages/count_tokens",
        "/v1/messages",
        "/v1/messages",
    ]
    assert server.prompt_tokens(_model_requests(server)[-1].body) <= limit


async def test_a_growing_tool_loop_elides_old_outputs_and_stays_inside_the_window(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    limit = 4_000
    server.max_prompt_tokens = limit
    calls = 8  # eight outputs of ~750 tokens each would pass the limit
    server.enqueue(
        *[Reply.tool_use("Read", {"file_path": f"part{index}.txt"}) for index in range(calls)],
        Reply.text("Read them all."),
    )
    tools = ScriptedTools({"Read": ToolOutcome("x" * 3_000)})

    outcome = await runtime.run_turn(
        turn_request(max_tokens=MAX_TOKENS, context_window_tokens=_window(limit)),
        tools,
        RecordingSink(),
    )

    assert outcome.stop_reason == "end_turn"
    assert outcome.iterations == calls + 1
    requests = _model_requests(server)
    assert len(requests) == calls + 1  # none was refused
    assert all(server.prompt_tokens(request.body) <= limit for request in requests)
    results = [
        block["content"]
        for message in requests[-1].messages
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert len(results) == calls
    assert results[0].startswith(ELIDED)
    assert results[-1] == "x" * 3_000


async def test_a_prompt_too_long_refusal_is_trimmed_harder_and_sent_once_more(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    # No counting endpoint, and a tokenizer far denser than the estimate assumes: the
    # first request is refused, and the size the error states corrects the estimate.
    server.count_tokens_available = False
    server.chars_per_token = 1
    limit = 6_000
    server.max_prompt_tokens = limit
    history = _history(exchanges=4, chars=1_000)
    assert server.prompt_tokens({"messages": history}) > limit
    server.enqueue(Reply.text("Made it."))
    sink = RecordingSink()

    outcome = await runtime.run_turn(
        turn_request(messages=history, max_tokens=MAX_TOKENS, context_window_tokens=_window(limit)),
        ScriptedTools(),
        sink,
    )

    assert outcome.stop_reason == "end_turn"
    refused, accepted = _model_requests(server)
    assert server.prompt_tokens(refused.body) > limit
    assert server.prompt_tokens(accepted.body) <= limit
    assert accepted.messages[0]["content"][0]["text"] == TRIMMED_PLACEHOLDER
    assert [event[2] for event in sink.of("text_done")] == ["Made it."]


async def test_a_second_refusal_ends_the_turn_with_an_error_naming_the_cause(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.max_prompt_tokens = 5  # not even the system prompt fits

    with pytest.raises(ContextWindowExceededError) as failure:
        await runtime.run_turn(turn_request(), ScriptedTools(), RecordingSink())

    assert "context window" in failure.value.message
    assert "prompt is too long" in failure.value.message
    assert failure.value.code == "context_too_long"
    assert len(_model_requests(server)) == 2
    assert server.pending == 0


async def test_the_runtime_answers_normally_once_the_request_fits_again(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    server.max_prompt_tokens = 5
    with pytest.raises(ContextWindowExceededError):
        await runtime.run_turn(turn_request(), ScriptedTools(), RecordingSink())
    server.max_prompt_tokens = None
    server.enqueue(Reply.text("Hello again."))

    outcome = await runtime.run_turn(turn_request(), ScriptedTools(), RecordingSink())

    assert outcome.stop_reason == "end_turn"
    assert json.dumps(_model_requests(server)[-1].messages).count("Hello") == 1


async def test_a_window_a_refusal_states_is_respected_by_the_next_turn(
    server: ScriptedAnthropic, runtime: AnthropicRuntime
) -> None:
    # The configured window is far larger than the model's real one (6,000 here).
    limit = 6_000
    server.max_prompt_tokens = limit
    history = _history(exchanges=8, chars=2_000)
    server.enqueue(Reply.text("First."), Reply.text("Second."))
    request = turn_request(messages=history, max_tokens=MAX_TOKENS, context_window_tokens=200_000)

    await runtime.run_turn(request, ScriptedTools(), RecordingSink())
    assert len(_model_requests(server)) == 2  # refused once, then trimmed harder
    await runtime.run_turn(request, ScriptedTools(), RecordingSink())

    first_try_of_second_turn = _model_requests(server)[2]
    assert len(_model_requests(server)) == 3
    assert server.prompt_tokens(first_try_of_second_turn.body) <= limit
