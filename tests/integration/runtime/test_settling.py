"""Every started turn ends with exactly one terminal event and a usable session,
whatever fails: the database at any step, a tool, the runtime itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kumiai.application.services.runtime.runner import TurnRunner
from kumiai.application.services.runtime.sink import PersistingSink
from kumiai.core.exceptions import DatabaseUnavailableError
from tests.integration.runtime.helpers import (
    TERMINAL,
    messages,
    send,
    wait_for_event,
    wait_for_status,
    wait_until_idle,
)
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic
from tests.support.sse import collect

OUTAGE = "the database is unavailable: connection refused"


def _failing(
    original: Callable[..., Awaitable[Any]], failures: int
) -> Callable[..., Awaitable[Any]]:
    """``original``, except that its first ``failures`` calls hit a database outage."""
    calls = {"count": 0}

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls["count"] += 1
        if calls["count"] <= failures:
            raise DatabaseUnavailableError(OUTAGE)
        return await original(*args, **kwargs)

    return wrapper


async def _stream_turn(live: LiveApp, session_id: str, content: str) -> list[str]:
    """Send with SSE and read the turn's events up to its terminal one."""
    async with (
        asyncio.timeout(20),
        live.client.stream(
            "POST",
            f"/api/v2/sessions/{session_id}/messages",
            json={"content": content},
            headers={"accept": "text/event-stream"},
        ) as response,
    ):
        assert response.status_code == 200
        seen = [event.type for event in await collect(response)]
    return seen


def _terminals(types: list[str]) -> list[str]:
    return [name for name in types if name in TERMINAL]


async def _answers_again(live: LiveApp, claude: ScriptedAnthropic, session_id: str) -> None:
    claude.enqueue(Reply.text("working again"))
    sent = await send(live.client, session_id, "still there?")
    done = await wait_for_event(live, session_id, "done", run_id=sent["run_id"])
    assert done.type == "done"
    assert (await messages(live.client, session_id))[-1]["content"] == "working again"


async def test_an_outage_while_a_turn_starts_is_retried_and_the_turn_runs_once(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = live.container.workers._runner
    monkeypatch.setattr(runner, "_claim", _failing(runner._claim, failures=2))
    claude.enqueue(Reply.text("started after all"))

    types = await _stream_turn(live, session_id, "hello")

    assert _terminals(types) == ["done"]
    rows = await messages(live.client, session_id)
    assert [row["content"] for row in rows] == ["hello", "started after all"]
    assert len(claude.requests) == 1


async def test_an_outage_while_the_context_loads_ends_the_turn_with_an_error(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    contexts = live.container.workers._runner._contexts
    monkeypatch.setattr(contexts, "build", _failing(contexts.build, failures=1))

    types = await _stream_turn(live, session_id, "hello")

    assert _terminals(types) == ["error"]
    assert (await wait_for_status(live.client, session_id, "error"))["error_message"] == OUTAGE
    await _answers_again(live, claude, session_id)


async def test_an_outage_while_a_block_is_saved_ends_the_turn_with_an_error(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PersistingSink, "_append", _failing(PersistingSink._append, failures=1))
    claude.enqueue(Reply.text("this block cannot be saved"))

    types = await _stream_turn(live, session_id, "hello")

    assert _terminals(types) == ["error"]
    await wait_for_status(live.client, session_id, "error")
    await _answers_again(live, claude, session_id)


async def test_an_outage_while_the_turn_settles_still_ends_every_stream_and_heals(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TurnRunner, "_save_end", _failing(TurnRunner._save_end, failures=3))
    claude.enqueue(Reply.text("answered"))

    async with live.client.stream("GET", f"/api/v2/sessions/{session_id}/events") as follower:
        types = await _stream_turn(live, session_id, "hello")
        async with asyncio.timeout(20):
            # The save is retried until the database answers; the session then settles.
            followed = [
                event.type
                for event in await collect(follower, until="status_changed", after="done")
            ]

    assert _terminals(types) == ["done"]
    assert _terminals(followed) == ["done"]
    assert (await wait_for_status(live.client, session_id, "idle"))["status"] == "idle"
    await wait_until_idle(live, session_id)
    await _answers_again(live, claude, session_id)


async def test_a_crash_inside_the_runtime_ends_the_turn_with_an_error(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = live.container.workers._runner._runtime

    async def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(runtime, "run_turn", explode)
    types = await _stream_turn(live, session_id, "hello")
    assert _terminals(types) == ["error"]
    failed = await wait_for_status(live.client, session_id, "error")
    assert failed["error_message"] == "internal error: boom"
    monkeypatch.undo()
    await _answers_again(live, claude, session_id)


async def test_a_cancel_while_the_turn_starts_settles_it_as_cancelled(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = live.container.workers._runner
    claiming = asyncio.Event()
    original = runner.start_in

    async def slow_start(*args: Any, **kwargs: Any) -> Any:
        claiming.set()
        await asyncio.sleep(0.3)  # the send's transaction, made long enough to cancel in
        return await original(*args, **kwargs)

    # The send to an idle session starts the turn in its own transaction.
    monkeypatch.setattr(runner, "start_in", slow_start)
    sending = asyncio.create_task(send(live.client, session_id, "hello"))
    await asyncio.wait_for(claiming.wait(), 10)
    cancelled = await live.client.post(f"/api/v2/sessions/{session_id}/cancel")
    assert cancelled.status_code == 200
    sent = await sending

    terminal = await wait_for_event(live, session_id, "cancelled", run_id=sent["run_id"])
    assert terminal.type == "cancelled"
    assert (await wait_for_status(live.client, session_id, "cancelled"))["status"] == "cancelled"
    assert claude.requests == []
    monkeypatch.undo()
    await _answers_again(live, claude, session_id)
