"""The control protocol the web-client driver scripts Claude with (tests/e2e/client)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anthropic
import pytest
from anthropic import AsyncAnthropic

from tests.e2e.client.backend import AGENT_PROMPT, SESSION_TITLE_PROMPT, Controller
from tests.support.scripted_anthropic import ScriptedAnthropic, scripted_anthropic_server

QUESTION = {"questions": [{"question": "Which?", "header": "Pick", "multiSelect": False}]}
AGENT_SYSTEM = f"You are Dana.\n\n{AGENT_PROMPT}\nWorking directory: /tmp/demo"


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptedAnthropic]:
    yield from scripted_anthropic_server()


@pytest.fixture
def controller(shared_server: ScriptedAnthropic) -> Controller:
    shared_server.reset()
    return Controller(shared_server, titles=1)


@pytest.fixture
async def client(shared_server: ScriptedAnthropic) -> AsyncIterator[AsyncAnthropic]:
    base_url = shared_server.base_url
    async with AsyncAnthropic(base_url=base_url, api_key="k", max_retries=0) as sdk:
        yield sdk


async def _ask(
    client: AsyncAnthropic, text: str, system: str = AGENT_SYSTEM
) -> anthropic.types.Message:
    return await client.messages.create(
        model="claude-scripted",
        max_tokens=100,
        system=system,
        messages=[{"role": "user", "content": text}],
        tools=[{"name": "AskUserQuestion", "input_schema": {"type": "object"}}],
    )


async def test_a_reply_of_blocks_with_a_tool_call_stops_for_the_tool(
    controller: Controller, client: AsyncAnthropic
) -> None:
    spec = {"blocks": [{"text": "First"}, {"tool_use": "AskUserQuestion", "id": "toolu_q"}]}
    spec["blocks"][1]["input"] = QUESTION
    assert controller.handle({"op": "enqueue", "replies": [spec]}) == {"ok": True}

    message = await _ask(client, "Go")

    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[1].id == "toolu_q"  # type: ignore[union-attr]
    assert message.content[1].input == QUESTION  # type: ignore[union-attr]


async def test_a_session_title_request_gets_a_title_and_leaves_the_agents_reply(
    controller: Controller, client: AsyncAnthropic
) -> None:
    controller.handle({"op": "enqueue", "replies": [{"text": "The agent's answer"}]})

    title = await _ask(client, "<session>Go</session>", system=SESSION_TITLE_PROMPT)
    answer = await _ask(client, "Go")

    assert title.content[0].text == "Scripted session"  # type: ignore[union-attr]
    assert answer.content[0].text == "The agent's answer"  # type: ignore[union-attr]
    report = controller.handle({"op": "requests"})
    assert (report["count"], report["others"], report["unscripted"]) == (1, 1, 0)


async def test_requests_report_the_agents_tools_and_last_message_and_unscripted_ones(
    controller: Controller, client: AsyncAnthropic
) -> None:
    controller.handle({"op": "enqueue", "replies": [{"text": "Hi"}]})
    await _ask(client, "One")
    with pytest.raises(anthropic.InternalServerError):
        await _ask(client, "Two")
    with pytest.raises(anthropic.InternalServerError):
        await _ask(client, "Who am I?", system="Someone else")

    answer = controller.handle({"op": "requests", "since": 1})

    assert (answer["count"], answer["others"], answer["unscripted"]) == (2, 1, 2)
    assert answer["requests"] == [
        {
            "path": "/v1/messages",
            "model": "claude-scripted",
            "system": f'"{AGENT_SYSTEM}"'.replace("\n", "\\n"),
            "tools": ["AskUserQuestion"],
            "last_message": {"role": "user", "content": "Two"},
        }
    ]


async def test_waiting_answers_the_requests_since_the_one_asked_for(
    controller: Controller, client: AsyncAnthropic
) -> None:
    controller.handle({"op": "enqueue", "replies": [{"text": "A"}, {"text": "B"}]})
    await _ask(client, "One")
    await _ask(client, "Two")

    answer = controller.handle({"op": "wait_requests", "count": 2, "timeout": 1, "since": 1})

    assert answer["count"] == 2
    assert [request["last_message"]["content"] for request in answer["requests"]] == ["Two"]


def test_waiting_for_more_requests_than_came_answers_not_ok(controller: Controller) -> None:
    answer = controller.handle({"op": "wait_requests", "count": 1, "timeout": 0.05})

    assert answer["ok"] is False
    assert answer["error"] == "expected 1 agent request(s) within 0.05s, got 0"


def test_an_unknown_command_answers_not_ok(controller: Controller) -> None:
    assert controller.handle({"op": "reboot"}) == {"ok": False, "error": "unknown op 'reboot'"}
