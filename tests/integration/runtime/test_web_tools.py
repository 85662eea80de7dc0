"""WebSearch and WebFetch: the API's server tools, persisted and streamed like any tool."""

from __future__ import annotations

import json

from tests.integration.runtime.helpers import (
    assert_history_pairs,
    messages,
    send,
    specialist_of_dana_with,
    wait_for_status,
    wait_until_idle,
)
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import (
    Reply,
    ScriptedAnthropic,
    ServerToolUse,
    Text,
    WebFetchResult,
    WebSearchResult,
)
from tests.support.sse import collect


async def test_web_tools_in_allowed_tools_become_the_apis_server_tools(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await specialist_of_dana_with(
        live, allowed_tools=["Read", "WebSearch", "WebFetch"]
    )
    search = ServerToolUse("web_search", {"query": "kumiai agents"})
    fetch = ServerToolUse("web_fetch", {"url": "https://kumiai.example/docs"})
    claude.enqueue(
        Reply.turn(
            [
                Text("Let me look that up."),
                search,
                WebSearchResult(search.id, (("KumiAI docs", "https://kumiai.example/docs"),)),
                fetch,
                WebFetchResult(fetch.id, "https://kumiai.example/docs", "Agents work in teams."),
                Text("KumiAI agents work in teams."),
            ]
        )
    )
    async with live.client.stream(
        "POST",
        f"/api/v2/sessions/{session_id}/messages",
        json={"content": "what is kumiai?"},
        headers={"accept": "text/event-stream"},
    ) as response:
        events = await collect(response, until="done")

    (request,) = claude.requests
    tools = {tool["name"]: tool for tool in request.tools}
    assert tools["web_search"]["type"] == "web_search_20250305"
    assert tools["web_fetch"]["type"] == "web_fetch_20250910"
    assert "Write" not in tools and "Read" in tools
    calls = [event.data for event in events if event.type == "tool_use"]
    assert [(call["tool_name"], call["tool_input"]) for call in calls] == [
        ("WebSearch", {"query": "kumiai agents"}),
        ("WebFetch", {"url": "https://kumiai.example/docs"}),
    ]
    results = [event.data for event in events if event.type == "tool_result"]
    assert results[0]["content"] == "KumiAI docs — https://kumiai.example/docs"
    assert results[1]["content"] == "https://kumiai.example/docs\n\nAgents work in teams."
    assert not any(result["is_error"] for result in results)
    rows = await messages(live.client, session_id)
    assert [row["role"] for row in rows] == [
        "user",
        "assistant",
        "assistant",
        "tool_result",
        "assistant",
        "tool_result",
        "assistant",
    ]
    assert rows[2]["metadata"]["tool_use"]["name"] == "WebSearch"
    assert_history_pairs(rows)

    # The next turn replays them as the assistant's own words, which the API accepts.
    claude.enqueue(Reply.text("Anything else?"))
    await send(live.client, session_id, "thanks")
    await wait_until_idle(live, session_id)
    replayed = claude.requests[-1].messages
    assert [message["role"] for message in replayed] == ["user", "assistant", "user"]
    texts = [block["text"] for block in replayed[1]["content"]]
    assert texts[1] == '[WebSearch {"query": "kumiai agents"}]'
    assert texts[2] == "[WebSearch result]\nKumiAI docs — https://kumiai.example/docs"
    assert not [b for b in replayed[1]["content"] if b["type"] != "text"]


async def test_a_failed_web_search_is_an_error_result_and_the_turn_goes_on(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await specialist_of_dana_with(live, allowed_tools=["WebSearch"])
    search = ServerToolUse("web_search", {"query": "x"})
    claude.enqueue(
        Reply.turn(
            [
                search,
                WebSearchResult(search.id, error_code="too_many_requests"),
                Text("Search is busy."),
            ]
        )
    )
    await send(live.client, session_id, "search")
    await wait_until_idle(live, session_id)

    rows = await messages(live.client, session_id)
    result = next(row for row in rows if row["role"] == "tool_result")
    assert result["content"] == "Web search failed: too_many_requests"
    assert result["metadata"]["is_error"] is True
    assert (await wait_for_status(live.client, session_id, "idle"))["status"] == "idle"


async def test_a_model_without_web_tools_gives_the_agent_a_clear_error_not_a_broken_turn(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await specialist_of_dana_with(live, allowed_tools=["WebSearch"])
    claude.enqueue(
        Reply.error(400, message="tools.0: 'web_search_20250305' is not supported on this model"),
        Reply.tool_use("WebSearch", {"query": "x"}),
        Reply.text("I cannot search the web here."),
    )
    await send(live.client, session_id, "search")
    await wait_until_idle(live, session_id)

    refused, retried, _ = claude.requests
    assert [tool["type"] for tool in refused.tools if "type" in tool] == ["web_search_20250305"]
    assert not [tool for tool in retried.tools if "type" in tool]
    stand_in = next(tool for tool in retried.tools if tool["name"] == "WebSearch")
    assert stand_in["input_schema"]["required"] == ["query"]
    rows = await messages(live.client, session_id)
    result = next(row for row in rows if row["role"] == "tool_result")
    assert result["metadata"]["is_error"] is True
    assert result["content"].startswith("WebSearch is not available for this model or account:")
    assert "not supported on this model" in result["content"]
    assert rows[-1]["content"] == "I cannot search the web here."
    assert (await wait_for_status(live.client, session_id, "idle"))["status"] == "idle"

    # The refusal is remembered for the model: the next turn does not ask again.
    claude.enqueue(Reply.text("Still no web."))
    await send(live.client, session_id, "again")
    await wait_until_idle(live, session_id)
    assert json.dumps(claude.requests[-1].tools).count("web_search_2025") == 0


async def test_a_search_paused_by_the_api_is_one_call_with_one_result(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await specialist_of_dana_with(live, allowed_tools=["WebSearch"])
    search = ServerToolUse("web_search", {"query": "long"})
    claude.enqueue(
        Reply.turn([search], stop_reason="pause_turn"),
        Reply.turn([WebSearchResult(search.id, (("Long", "https://long.example"),)), Text("ok")]),
    )
    await send(live.client, session_id, "search long")
    await wait_until_idle(live, session_id)

    resumed = claude.requests[1].messages[-1]
    assert resumed["role"] == "assistant"
    assert resumed["content"][0]["type"] == "server_tool_use"
    assert resumed["content"][0]["id"] == search.id
    rows = await messages(live.client, session_id)
    assert [row["role"] for row in rows] == ["user", "assistant", "tool_result", "assistant"]
    assert rows[2]["content"] == "Long — https://long.example"
    assert_history_pairs(rows)
