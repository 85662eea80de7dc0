"""The control protocol the web-client driver scripts Claude with (tests/e2e/client)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anthropic
import pytest
from anthropic import AsyncAnthropic

from tests.e2e.client.backend import Controller
from tests.support.scripted_anthropic import ScriptedAnthropic, scripted_anthropic_server

QUESTION = {"questions": [{"question": "Which?", "header": "Pick", "multiSelect": False}]}


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptedAnthropic]:
    yield from scripted_anthropic_server()


@pytest.fixture
def controller(shared_server: ScriptedAnthropic) -> Controller:
    shared_server.reset()
    return Controller(shared_server)


@pytest.fixture
async def client(shared_server: ScriptedAnthropic) -> AsyncIterator[AsyncAnthropic]:
    base_url = shared_server.base_url
    async with AsyncAnthropic(base_url=base_url, api_key="k", max_retries=0) as sdk:
        yield sdk


async def _ask(client: AsyncAnthropic, text: str) -> anthropic.types.Message:
    return await client.messages.create(
        model="claude-scripted",
        max_tokens=100,
        messages=[{"role": "user", "content": text}],
        tools=[{"name": "AskUserQuestion", "input_schema": {"type": "object"}}],
    )


async def test_a_reply_of_blocks_with_a_tool_call_stops_for_the_tool(
    controller: Controller, client: AsyncAnthropic
) -> None:
    spec = {"blocks": [{"text": "First"}, {"tool_use": "AskUserQuestion", "id": "toolu_q"}]}
    spec["blocks"][1]["input"] = QUESTION
    assert controller.handle({"op": "enqueue", "replies": [spec]}) == {"ok": True, "pending": 1}

    message = await _ask(client, "Go")

    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[1].id == "toolu_q"  # type: ignore[union-attr]
    assert message.content[1].input == QUESTION  # type: ignore[union-attr]


async def test_requests_report_the_tools_offered_the_last_message_and_unscripted_ones(
    controller: Controller, client: AsyncAnthropic
) -> None:
    controller.handle({"op": "enqueue", "replies": [{"text": "Hi"}]})
    await _ask(client, "One")
    with pytest.raises(anthropic.InternalServerError):
        await _ask(client, "Two")

    answer = controller.handle({"op": "requests", "since": 1})

    assert answer["count"] == 2
    assert answer["pending"] == 0
    assert answer["unscripted"] == 1
    assert answer["requests"] == [
        {
            "path": "/v1/messages",
            "tools": ["AskUserQuestion"],
            "last_message": {"role": "user", "content": "Two"},
        }
    ]


def test_waiting_for_more_requests_than_came_answers_not_ok(controller: Controller) -> None:
    answer = controller.handle({"op": "wait_requests", "count": 1, "timeout": 0.05})

    assert answer["ok"] is False
    assert "expected 1 request(s)" in answer["error"]


def test_an_unknown_command_answers_not_ok(controller: Controller) -> None:
    assert controller.handle({"op": "reboot"}) == {"ok": False, "error": "unknown op 'reboot'"}
