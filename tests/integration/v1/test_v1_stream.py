"""The v1 streams on a live server: the persistent session stream and the legacy query
stream (V1_CONTRACT §3)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from uuid import UUID

import pytest

from kumiai.api.v1 import streaming
from kumiai.application.ports.events import SessionEvent
from tests.factories.tasks import bound_session, create_task
from tests.integration.runtime.helpers import (
    create_team,
    wait_for_status,
    wait_until_idle,
)
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, Text, ToolUse
from tests.support.sse import Event, events

V1 = "/api/v1/sessions"
SPAWN = "mcp__pm_management__spawn_instance"
CONTACT_PM = "mcp__common_tools__contact_pm"
IGNORED_HERE = {"ping", "queue_status"}


@pytest.fixture(autouse=True)
def quick_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "PING_SECONDS", 0.2)


@asynccontextmanager
async def _stream(live: LiveApp, session_id: str) -> AsyncIterator[AsyncIterator[Event]]:
    """The parsed events of the session's stream, read on by each ``_read_until``."""
    async with live.client.stream(
        "GET", f"{V1}/{session_id}/stream", headers={"accept": "text/event-stream"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        yield events(response)


async def _read_until(
    stream: AsyncIterator[Event], done: Callable[[list[Event]], bool], seconds: float = 15
) -> list[Event]:
    seen: list[Event] = []
    async with asyncio.timeout(seconds):
        async for event in stream:
            seen.append(event)
            if done(seen):
                return seen
    raise AssertionError(f"the stream ended early: {seen}")


def _turn_ended(seen: list[Event]) -> bool:
    names = [event.type for event in seen]
    return "message_complete" in names and _is_status(seen[-1], "idle")


def _is_status(event: Event, status: str) -> bool:
    return event.type == "session_status" and event.data["status"] == status


def _story(seen: list[Event]) -> list[str]:
    """The events that tell the turn, with statuses spelled out."""
    return [
        f"session_status:{event.data['status']}" if event.type == "session_status" else event.type
        for event in seen
        if event.type not in IGNORED_HERE
    ]


async def _enqueue(live: LiveApp, session_id: str, query: str) -> None:
    response = await live.client.post(
        f"{V1}/{session_id}/enqueue", json={"query": query, "stream": True}
    )
    assert 200 <= response.status_code < 300, response.text


def _assert_v1_framing(seen: list[Event]) -> None:
    payloads = [event.data for event in seen if event.type != "ping"]
    assert all("type" not in payload for payload in payloads)
    ids = [payload["event_id"] for payload in payloads]
    assert len(ids) == len(set(ids))


async def test_one_message_streams_in_the_order_the_client_handles_best(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = team.pm_session_id
    claude.enqueue(
        Reply.turn(
            [Text("Writing it."), ToolUse("Write", {"file_path": "notes.md", "content": "hi"})],
            stop_reason="tool_use",
        ),
        Reply.text("Done."),
    )
    async with _stream(live, session_id) as stream:
        await _enqueue(live, session_id, "write notes")
        seen = await _read_until(stream, _turn_ended)
        seen += await _read_until(stream, lambda more: more[-1].type == "ping")

    assert _story(seen) == [
        "user_message",
        "session_status:working",
        "content_block",
        "tool_use",
        "tool_complete",
        "content_block",
        "message_complete",
        "session_status:idle",
    ]
    _assert_v1_framing(seen)
    assert next(event.data for event in seen if event.type == "ping") == {}
    by_type = {event.type: event.data for event in seen}
    user = by_type["user_message"]
    assert user["content"] == "write notes"
    assert {"agent_id", "agent_name", "from_instance_id"}.isdisjoint(user)
    blocks = [event.data for event in seen if event.type == "content_block"]
    assert [block["content"] for block in blocks] == ["Writing it.", "Done."]
    pat = (await live.client.get(f"{V1}/{session_id}")).json()["agent_id"]
    assert pat == "pat"
    for payload in [*blocks, by_type["tool_use"]]:
        assert (payload["agent_id"], payload["agent_name"]) == (pat, "Pat")
    assert len({payload["response_id"] for payload in [*blocks, by_type["tool_use"]]}) == 1
    assert by_type["tool_use"]["tool_input"] == {"file_path": "notes.md", "content": "hi"}
    complete = by_type["tool_complete"]
    assert isinstance(complete["result"], str) and complete["is_error"] is False
    assert complete["tool_use_id"] == by_type["tool_use"]["tool_use_id"]
    assert by_type["message_complete"] == {
        "has_more_messages": False,
        "event_id": by_type["message_complete"]["event_id"],
    }

    items = (await live.client.get(f"{V1}/{session_id}/messages")).json()["items"]
    assert [item["role"] for item in items] == ["user", "assistant", "tool", "assistant"]
    assert items[2]["tool_result"]["content"] == complete["result"]
    assert items[1]["response_id"] == blocks[0]["response_id"]


async def test_a_message_from_another_session_arrives_as_a_user_message_with_its_agent(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    dana = team.members["Dana"]["slug"]
    claude.enqueue(
        Reply.tool_use(SPAWN, {"agent_id": dana, "task_description": "Write dana.md"}),
        Reply.text("I asked Dana."),
        Reply.text("Thanks, Dana."),
        when_system_contains="You are Pat,",
    )
    claude.enqueue(
        Reply.tool_use(CONTACT_PM, {"message": "dana.md is written"}),
        Reply.text("Reported."),
        when_system_contains="You are Dana,",
    )

    def routed(seen: list[Event]) -> bool:
        return seen[-1].type == "user_message" and "from_instance_id" in seen[-1].data

    async with _stream(live, team.pm_session_id) as stream:
        await _enqueue(live, team.pm_session_id, "get dana.md written")
        seen = await _read_until(stream, routed, seconds=20)

    listed = await live.client.get(V1, params={"project_id": team.project["id"]})
    (specialist,) = [item for item in listed.json() if item["session_type"] == "specialist"]
    assert (specialist["agent_id"], specialist["kanban_stage"]) == (dana, "active")
    message = seen[-1].data
    assert message["content"] == "dana.md is written"
    assert (message["agent_id"], message["agent_name"]) == (dana, "Dana")
    assert message["from_instance_id"] == specialist["id"]

    await wait_until_idle(live, specialist["id"], timeout=20)
    await wait_until_idle(live, team.pm_session_id, timeout=20)
    first = (await live.client.get(f"{V1}/{specialist['id']}/messages")).json()["items"][0]
    assert first["role"] == "user"
    assert (first["agent_id"], first["agent_name"]) == ("pat", "Pat")
    assert first["from_instance_id"] == team.pm_session_id


async def test_a_message_sent_while_busy_shows_in_the_queue_and_interrupt_ends_the_turn(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = team.pm_session_id
    claude.enqueue(Reply.hang(), Reply.text("later"))
    async with _stream(live, session_id) as stream:
        await _enqueue(live, session_id, "first")
        await wait_for_status(live.client, session_id, "thinking", "working")
        await _enqueue(live, session_id, "second")

        def queued(seen: list[Event]) -> bool:
            waiting = seen[-1].data.get("messages") if seen[-1].type == "queue_status" else None
            return bool(waiting) and waiting[-1]["content_preview"] == "second"

        seen = await _read_until(stream, queued)
        (waiting,) = seen[-1].data["messages"]
        assert waiting["content_preview"] == "second"
        assert waiting["sender_name"] == "User"

        interrupted = await live.client.post(f"{V1}/{session_id}/interrupt")
        assert interrupted.status_code == 204
        seen += await _read_until(stream, _turn_ended)

    story = _story(seen)
    assert story[:2] == ["user_message", "session_status:working"]
    assert story[-2:] == ["message_complete", "session_status:idle"]
    complete = [event.data for event in seen if event.type == "message_complete"]
    assert complete[-1]["has_more_messages"] is False
    _assert_v1_framing(seen)


async def test_a_session_bound_to_an_open_task_moves_it_in_progress_when_it_starts_working(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    task = await create_task(live.client, team.project["id"], "Checkout page")
    specialist = await bound_session(live.client, team.project, task, team.members["Dana"]["slug"])
    claude.enqueue(Reply.text("On it."), Reply.text("Still on it."))
    async with _stream(live, specialist["id"]) as stream:
        await _enqueue(live, specialist["id"], "build the checkout page")
        seen = await _read_until(stream, _turn_ended)
        await _enqueue(live, specialist["id"], "and the receipt")
        seen += await _read_until(stream, _turn_ended)

    (task_status,) = [event.data for event in seen if event.type == "task_status"]
    assert task_status | {"event_id": ""} == {
        "task_id": task["id"],
        "status": "in_progress",
        "project_id": team.project["id"],
        "event_id": "",
    }
    assert _story(seen)[:3] == ["user_message", "session_status:working", "task_status"]
    fetched = await live.client.get(f"/api/v1/tasks/{task['id']}")
    assert fetched.json()["status"] == "in_progress"
    # The board listens on the PM's stream: it hears the move as task_changed.
    changed = await _task_updated(live, team.pm_session_id)
    assert changed.data["fields"] == ["status"]
    assert changed.data["task"]["status"] == "in_progress"
    activity = await live.client.get("/api/v2/activity", params={"event_type": "task_updated"})
    (entry,) = activity.json()["data"]
    assert entry["event_data"]["automatic"] is True


async def _task_updated(live: LiveApp, session_id: str) -> SessionEvent:
    """The first ``task_changed`` of an update in the session's log (created comes first)."""
    subscription = await live.container.events.subscribe(UUID(session_id), after=0)
    try:
        async with asyncio.timeout(10):
            async for event in subscription:
                if event.type == "task_changed" and event.data["change"] == "updated":
                    return event
    finally:
        subscription.close()
    raise AssertionError("no task update")


async def test_a_task_already_in_progress_done_or_archived_keeps_its_status(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    task = await create_task(live.client, team.project["id"], "Shipped")
    moved = await live.client.patch(f"/api/v1/tasks/{task['id']}", json={"status": "done"})
    assert moved.status_code == 200
    specialist = await bound_session(live.client, team.project, task, team.members["Dana"]["slug"])
    claude.enqueue(Reply.text("Looking again."))
    async with _stream(live, specialist["id"]) as stream:
        await _enqueue(live, specialist["id"], "one more look")
        seen = await _read_until(stream, _turn_ended)
    assert "task_status" not in _story(seen)
    fetched = await live.client.get(f"/api/v1/tasks/{task['id']}")
    assert fetched.json()["status"] == "done"


async def test_the_legacy_query_streams_one_turn_and_ends(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    claude.enqueue(Reply.text("Hello there."))
    seen: list[Event] = []
    async with live.client.stream(
        "POST",
        f"{V1}/{team.pm_session_id}/query",
        json={"query": "hi", "stream": True},
        headers={"accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in events(response):  # the server ends the response itself
            seen.append(event)
    assert _story(seen) == [
        "user_message",
        "session_status:working",
        "content_block",
        "message_complete",
        "session_status:idle",
    ]
    _assert_v1_framing(seen)


async def test_the_stream_of_an_unknown_session_is_a_404(live: LiveApp) -> None:
    response = await live.client.get(f"{V1}/00000000-0000-0000-0000-000000000000/stream")
    assert response.status_code == 404
    assert "not found" in response.json()["detail"]
