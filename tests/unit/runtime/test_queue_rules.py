"""The queue: every accepted message is answered once, in order, and enters the
transcript only when its own turn starts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import pytest

from kumiai.application.services.runtime.inbox import MAX_MESSAGE_CHARS
from kumiai.core.exceptions import (
    ClaudeUnavailableError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
)
from tests.support.fake_runtime import say, stream_and_hang
from tests.support.runtime_app import RuntimeApp, runtime_app


async def test_a_message_to_an_idle_session_is_answered_at_once(app: RuntimeApp) -> None:
    session_id = await app.assistant()
    app.claude.script(say("Hello, Ada."))

    sent = await app.send(session_id, "hi")

    assert sent.queued is False
    assert await app.finished(session_id, sent.run_id) == "done"
    assert app.transcript(session_id) == [("user", "hi"), ("assistant", "Hello, Ada.")]
    assert app.db.transcript(session_id)[0].id == sent.message_id
    assert app.status(session_id) == "idle"


async def test_a_message_sent_during_a_turn_waits_outside_the_transcript(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    app.claude.script(stream_and_hang("thinking..."))
    await app.send(session_id, "first")
    await app.claude.wait_for_requests(1)

    waiting = await app.send(session_id, "second")

    assert waiting.queued is True
    assert app.transcript(session_id) == [("user", "first")]
    assert [item.content for item in app.db.waiting(session_id)] == ["second"]
    queue = await app.conversation.queue(session_id)
    assert queue.running is not None and queue.running.content == "first"
    assert [item.content for item in queue.messages] == ["second"]
    assert queue.paused is False


async def test_waiting_messages_are_answered_in_order_each_with_the_history_before_it(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    gate = asyncio.Event()

    async def wait_for_gate(*_: object) -> None:
        await gate.wait()

    app.claude.script(wait_for_gate, say("answer A"))
    app.claude.script(say("answer B"))
    app.claude.script(say("answer C"))
    await app.send(session_id, "A")
    await app.claude.wait_for_requests(1)
    b = await app.send(session_id, "B")
    c = await app.send(session_id, "C")
    gate.set()

    assert await app.finished(session_id, c.run_id) == "done"
    assert [app.claude.user_texts(index) for index in range(3)] == [
        ["A"],
        ["A", "B"],
        ["A", "B", "C"],
    ]
    assert app.transcript(session_id) == [
        ("user", "A"),
        ("assistant", "answer A"),
        ("user", "B"),
        ("assistant", "answer B"),
        ("user", "C"),
        ("assistant", "answer C"),
    ]
    stored = {message.id: message.metadata for message in app.db.transcript(session_id)}
    assert stored[b.message_id]["queued"] is True and stored[c.message_id]["queued"] is True


async def test_a_message_that_waits_is_announced_in_queue_changed(app: RuntimeApp) -> None:
    session_id = await app.assistant()
    app.claude.script(stream_and_hang())
    await app.send(session_id, "first")
    await app.claude.wait_for_requests(1)

    waiting = await app.send(session_id, "second, and a long one " * 10)

    announced = [event.data for event in app.events(session_id) if event.type == "queue_changed"]
    assert announced[-1]["size"] == 1
    assert announced[-1]["paused"] is False
    (entry,) = announced[-1]["messages"]
    assert entry["message_id"] == str(waiting.message_id)
    assert entry["content_preview"] == ("second, and a long one " * 10)[:120]


async def test_concurrent_sends_to_one_session_make_one_turn_each_in_acceptance_order(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    for number in range(20):
        app.claude.script(say(f"answer {number}"))

    sent = await asyncio.gather(*(app.send(session_id, f"m{number}") for number in range(20)))
    await app.idle(session_id)

    assert len(app.claude.requests) == 20
    users = [content for role, content in app.transcript(session_id) if role == "user"]
    assert sorted(users) == sorted(f"m{number}" for number in range(20))
    asked = [app.claude.user_texts(index)[-1] for index in range(20)]
    assert asked == users  # each turn answers the message it claimed, in queue order
    assert [item.queued for item in sent].count(False) == 1


async def test_turns_beyond_the_server_cap_wait_in_their_queues(tmp_path: Path) -> None:
    async with runtime_app(tmp_path, max_concurrent_turns=1) as app:
        first, second = await app.assistant(), await app.assistant()
        app.claude.script(stream_and_hang())
        await app.send(first, "go")
        await app.claude.wait_for_requests(1)

        waiting = await app.send(second, "me too")

        assert waiting.queued is True
        assert (await app.conversation.queue(second)).running is None
        await app.sessions.cancel(first)
        assert await app.finished(second, waiting.run_id) == "done"
        assert app.claude.user_texts() == ["me too"]


async def test_a_message_over_the_size_limit_is_refused_and_nothing_is_queued(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    with pytest.raises(PayloadTooLargeError):
        await app.runtime.inbox.accept(session_id, "x" * (MAX_MESSAGE_CHARS + 1))
    assert app.db.waiting(session_id) == []


async def test_a_message_to_an_unknown_session_is_a_404_that_leaves_no_trace(
    app: RuntimeApp,
) -> None:
    unknown = uuid4()
    with pytest.raises(NotFoundError):
        await app.runtime.inbox.accept(unknown, "hello?")
    assert app.events(unknown) == []
    assert app.runtime.workers.running(unknown) is None


async def test_without_claude_a_message_is_refused_with_an_error_event(tmp_path: Path) -> None:
    async with runtime_app(tmp_path, claude_configured=False) as app:
        session_id = await app.assistant()
        with pytest.raises(ClaudeUnavailableError):
            await app.send(session_id, "hi")
        assert app.types(session_id) == ["error"]
        assert app.db.waiting(session_id) == []


async def test_the_sessions_of_an_archived_project_take_no_messages(app: RuntimeApp) -> None:
    project_id, _, team = await app.team("Dana")
    dana = await app.specialist(project_id, team["Dana"])
    await app.projects.archive(project_id)

    with pytest.raises(ConflictError) as refused:
        await app.send(dana, "hello")

    assert refused.value.details["reason"] == "project_archived"
    assert app.db.waiting(dana) == []


async def test_the_queue_of_an_archived_project_waits_until_it_is_unarchived(
    app: RuntimeApp,
) -> None:
    project_id, _, team = await app.team("Dana")
    dana = await app.specialist(project_id, team["Dana"])
    app.claude.script(stream_and_hang())
    await app.send(dana, "a long job")
    await app.claude.wait_for_requests(1)
    waiting = await app.send(dana, "and this afterwards")

    await app.projects.archive(project_id)
    await app.sessions.resume(dana)  # a resume while archived starts nothing
    await app.drained()
    assert [item.content for item in app.db.waiting(dana)] == ["and this afterwards"]
    assert len(app.claude.requests) == 1

    await app.projects.unarchive(project_id)
    assert await app.finished(dana, waiting.run_id) == "done"
    assert app.transcript(dana)[-2:] == [("user", "and this afterwards"), ("assistant", "ok")]
