"""Talking to a session makes a real (scripted) Claude agent work on the project."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psutil

from kumiai.core.config import Settings
from tests.integration.runtime.conftest import BOTH_RUNTIMES
from tests.integration.runtime.helpers import (
    assert_history_pairs,
    create_specialist,
    create_team,
    messages,
    send,
    wait_for_event,
    wait_for_status,
    wait_until_idle,
)
from tests.support.live import LiveApp, live_app
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, Text, ToolUse
from tests.support.sse import collect, events


@BOTH_RUNTIMES
async def test_a_turn_with_two_tool_calls_writes_files_and_persists_everything_in_order(
    live: LiveApp, claude: ScriptedAnthropic, runtime: str
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    claude.enqueue(
        Reply.turn(
            [
                Text("I'll write both files."),
                ToolUse("Write", {"file_path": "a.txt", "content": "alpha"}),
                ToolUse("Write", {"file_path": "docs/b.txt", "content": "beta"}),
            ],
            stop_reason="tool_use",
        ),
        Reply.text("Both files are written.", chunks=6),
    )
    async with live.client.stream(
        "POST",
        f"/api/v2/sessions/{session_id}/messages",
        json={"content": "write two files"},
        headers={"accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        events = await collect(response, until="done")

    project = Path(team.project["path"])
    assert (project / "a.txt").read_text() == "alpha"
    assert (project / "docs" / "b.txt").read_text() == "beta"

    rows = await messages(live.client, session_id)
    # The API runtime answers each call before the next; Claude Code may persist both
    # calls first. Either way every call is answered, in the order it was made.
    if runtime == "anthropic":
        assert [(row["role"], row["content"]) for row in rows] == [
            ("user", "write two files"),
            ("assistant", "I'll write both files."),
            ("assistant", ""),
            ("tool_result", "Created a.txt (5 characters)"),
            ("assistant", ""),
            ("tool_result", "Created docs/b.txt (4 characters)"),
            ("assistant", "Both files are written."),
        ]
    assert [(row["role"], row["content"]) for row in rows[:2]] == [
        ("user", "write two files"),
        ("assistant", "I'll write both files."),
    ]
    calls = [row["metadata"]["tool_use"] for row in rows[2:-1] if row["role"] == "assistant"]
    assert [call["name"] for call in calls] == ["Write", "Write"]
    assert [call["input"]["file_path"] for call in calls] == ["a.txt", "docs/b.txt"]
    assert [row["role"] for row in rows[2:-1]].count("tool_result") == 2
    assert (rows[-1]["role"], rows[-1]["content"]) == ("assistant", "Both files are written.")
    assert_history_pairs(rows)
    assert rows[-1]["metadata"]["usage"]["output_tokens"] == 10

    types = [event.type for event in events]
    assert types[:2] == ["message_created", "queue_changed"]
    assert types.index("run_started") < types.index("text_delta") < types.index("tool_use")
    assert types.count("tool_result") == 2
    assert types.count("text_done") == 2
    assert types[-1] == "done"
    ids = [int(event.id) for event in events if event.id]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    second_request = claude.requests[1]
    assert [m["role"] for m in second_request.messages] == ["user", "assistant", "user"]
    assert second_request.tools and {t["name"] for t in second_request.tools} >= {"Write", "Read"}
    assert "Dana" in str(second_request.system)
    assert (await wait_for_status(live.client, session_id, "idle"))["status"] == "idle"
    activity = await live.client.get(
        "/api/v2/activity", params={"session_id": session_id, "event_type": "tool_executed"}
    )
    assert len(activity.json()["data"]) == 2


@BOTH_RUNTIMES
async def test_an_overloaded_api_is_retried_and_the_turn_succeeds(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.error(529), Reply.text("Recovered."))
    sent = await send(live.client, session_id, "hello")
    await wait_until_idle(live, session_id)
    rows = await messages(live.client, session_id)
    assert [row["content"] for row in rows] == ["hello", "Recovered."]
    assert len(claude.requests) == 2
    # Visible on both runtimes (Claude Code reports the retries it makes itself).
    retry = await wait_for_event(live, session_id, "retry", run_id=sent["run_id"])
    assert retry.data["attempt"] == 1
    assert retry.data["error_type"] == "overloaded_error"


async def test_an_overload_mid_stream_is_retried_visibly_and_the_text_is_kept_once(
    live: LiveApp, claude: ScriptedAnthropic, session_id: str
) -> None:
    # The reply shows "Counting: one," then the API reports an overload inside the stream.
    claude.enqueue(
        Reply.text("Counting: one,", chunks=1).fails_midway(after_events=4),
        Reply.text(" two, three."),
    )
    async with live.client.stream(
        "POST",
        f"/api/v2/sessions/{session_id}/messages",
        json={"content": "count"},
        headers={"accept": "text/event-stream"},
    ) as response:
        seen = await collect(response, until="done")

    kinds = [event.type for event in seen]
    assert kinds.index("retry") < kinds.index("done")
    (retry,) = [event.data for event in seen if event.type == "retry"]
    assert (retry["attempt"], retry["max_retries"], retry["error_type"]) == (
        1,
        3,
        "overloaded_error",
    )
    streamed = "".join(event.data["text"] for event in seen if event.type == "text_delta")
    assert streamed == "Counting: one, two, three."
    rows = await messages(live.client, session_id)
    assert [(row["role"], row["content"]) for row in rows] == [
        ("user", "count"),
        ("assistant", "Counting: one, two, three."),
    ]


async def test_a_stream_cut_past_every_retry_fails_the_turn_and_the_session_can_resume(
    live: LiveApp, claude: ScriptedAnthropic, session_id: str
) -> None:
    claude.enqueue(*[Reply.text("Cut off", chunks=1).cut(after_events=4)] * 4)
    await send(live.client, session_id, "tell me")
    failed = await wait_for_status(live.client, session_id, "error")
    assert "after 4 attempts" in failed["error_message"]
    rows = await messages(live.client, session_id)
    assert rows[-1]["metadata"].get("partial") is True

    resumed = await live.client.post(f"/api/v2/sessions/{session_id}/resume")
    assert resumed.json()["data"]["status"] == "idle"
    claude.enqueue(Reply.text("Second try works."))
    await send(live.client, session_id, "again")
    await wait_until_idle(live, session_id)
    assert (await messages(live.client, session_id))[-1]["content"] == "Second try works."


@BOTH_RUNTIMES
async def test_cancel_during_a_slow_stream_stops_within_a_second_and_the_session_goes_on(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.text("A long answer that streams slowly " * 4, chunks=40).slow(0.25))
    async with live.client.stream(
        "POST",
        f"/api/v2/sessions/{session_id}/messages",
        json={"content": "tell me slowly"},
        headers={"accept": "text/event-stream"},
    ) as response:
        stream = events(response)
        async for event in stream:
            if event.type == "text_delta":
                break
        started = time.monotonic()
        cancelled = await live.client.post(f"/api/v2/sessions/{session_id}/cancel")
        elapsed = time.monotonic() - started
        rest = []
        async for event in stream:
            rest.append(event)
            if event.type == "cancelled":
                break

    assert cancelled.json()["data"]["status"] == "cancelled"
    assert elapsed < 1.0
    assert [event.type for event in rest].count("cancelled") == 1
    assert not {"done", "error"} & {event.type for event in rest}
    rows = await messages(live.client, session_id)
    assert rows[-1]["metadata"].get("partial") is True
    assert rows[-1]["content"] and ("A long answer that " * 4).startswith(rows[-1]["content"])

    claude.enqueue(Reply.text("Here is the short version."))
    await send(live.client, session_id, "shorter please")
    await wait_until_idle(live, session_id)
    assert (await messages(live.client, session_id))[-1]["content"] == "Here is the short version."
    assert "shorter please" in str(claude.requests[-1].messages[-1])


async def test_cancel_during_a_long_bash_command_stops_it_within_a_second(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.tool_use("Bash", {"command": "sleep 30 & echo $! > pid.txt; wait"}))
    await send(live.client, session_id, "run the long job")
    await wait_for_status(live.client, session_id, "working")
    pid_file = Path(team.project["path"]) / "pid.txt"
    while not pid_file.exists() or not pid_file.read_text().strip():
        await asyncio.sleep(0.02)
    sleeper = int(pid_file.read_text())

    started = time.monotonic()
    response = await live.client.post(f"/api/v2/sessions/{session_id}/cancel")
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.json()["data"]["status"] == "cancelled"
    assert elapsed < 1.0
    assert not psutil.pid_exists(sleeper) or psutil.Process(sleeper).status() == "zombie"
    rows = await messages(live.client, session_id)
    assert rows[-1]["role"] == "tool_result" and rows[-1]["metadata"]["is_error"] is True
    assert_history_pairs(rows)

    claude.enqueue(Reply.text("Fine, stopped."))
    await send(live.client, session_id, "ok?")
    await wait_until_idle(live, session_id)
    replayed = claude.requests[-1].messages
    assert replayed[1]["content"][0]["type"] == "tool_use"
    assert replayed[2]["content"][0]["type"] == "tool_result"


async def test_twenty_messages_sent_while_busy_are_all_answered_in_order(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    # Slow enough that all twenty arrive while the first turn is still running.
    claude.enqueue(Reply.text("answer 0").slow(0.3))
    claude.enqueue(*[Reply.text(f"answer {n}") for n in range(1, 21)])
    first = await send(live.client, session_id, "question 0")
    assert first["queued"] is False
    queued = [await send(live.client, session_id, f"question {n}") for n in range(1, 21)]
    assert all(item["queued"] for item in queued)
    await wait_until_idle(live, session_id, timeout=30)

    rows = await messages(live.client, session_id)
    questions = [row["content"] for row in rows if row["role"] == "user"]
    answers = [row["content"] for row in rows if row["role"] == "assistant"]
    assert questions == [f"question {n}" for n in range(21)]
    assert answers == [f"answer {n}" for n in range(21)]
    asked = [request.messages[-1]["content"][-1]["text"] for request in claude.requests]
    assert asked == [f"question {n}" for n in range(21)]


async def test_the_queue_endpoint_shows_waiting_messages(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.hang(), Reply.text("later"))
    first = await send(live.client, session_id, "first")
    await wait_for_event(live, session_id, "run_started", run_id=first["run_id"])
    await send(live.client, session_id, "second")
    queue = (await live.client.get(f"/api/v2/sessions/{session_id}/queue")).json()["data"]
    assert queue["running"]["content_preview"] == "first"
    assert [item["content"] for item in queue["messages"]] == ["second"]
    assert queue["paused"] is False
    await live.client.post(f"/api/v2/sessions/{session_id}/cancel", params={"drop_queue": "true"})
    queue = (await live.client.get(f"/api/v2/sessions/{session_id}/queue")).json()["data"]
    assert queue["size"] == 0 and queue["running"] is None
    assert [(item["content"], item["state"]) for item in queue["dropped"]] == [
        ("second", "dropped")
    ]


async def test_sending_without_claude_credentials_is_a_503_with_an_error_event(
    live_settings: Settings,
) -> None:
    settings = live_settings.model_copy(update={"anthropic_api_key": None})
    async with live_app(settings) as live:
        await _refused_without_credentials(live)


async def _refused_without_credentials(live: LiveApp) -> None:
    assert live.container.runtime_selection.active is None
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    response = await live.client.post(
        f"/api/v2/sessions/{session_id}/messages", json={"content": "hi"}
    )
    assert response.status_code == 503
    assert "ANTHROPIC_API_KEY" in response.json()["error"]["message"]
    assert await messages(live.client, session_id) == []
    error = await wait_for_event(live, session_id, "error")
    assert "ANTHROPIC_API_KEY" in error.data["error"]
