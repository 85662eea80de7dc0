"""Stopping: a cancel stops the running turn and pauses the queue, an interrupt drops
it, a deleted session stops for good; resuming lets the queue drain again."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from kumiai.application.ports.unit_of_work import UnitOfWork
from kumiai.application.services.conversation import INTERRUPT_REASON
from kumiai.application.services.runtime.inbox import TurnStart
from kumiai.core.exceptions import InvalidTransitionError
from kumiai.domain.entities import PendingInput, Project, Session, UserProfile
from tests.support.fake_runtime import say, stream_and_hang
from tests.support.runtime_app import TERMINAL, RuntimeApp


async def _busy(app: RuntimeApp) -> tuple[UUID, UUID]:
    """An assistant session whose turn hangs, and the run of that turn."""
    session_id = await app.assistant()
    app.claude.script(stream_and_hang())
    sent = await app.send(session_id, "long task")
    await app.claude.wait_for_requests(1)
    return session_id, sent.run_id


async def test_a_cancel_stops_the_turn_and_announces_the_queue_before_the_end(
    app: RuntimeApp,
) -> None:
    session_id, run_id = await _busy(app)

    view = await app.sessions.cancel(session_id)

    assert view.status == "cancelled"
    assert await app.finished(session_id, run_id) == "cancelled"
    tail = [e.type for e in app.events(session_id)][-3:]
    assert tail == ["queue_changed", "status_changed", "cancelled"]
    assert app.runtime.workers.running(session_id) is None


async def test_a_cancel_pauses_the_queue_and_a_resume_drains_it(app: RuntimeApp) -> None:
    session_id, _ = await _busy(app)
    waiting = await app.send(session_id, "second")

    await app.sessions.cancel(session_id)
    queue = await app.conversation.queue(session_id)
    assert queue.paused is True
    assert [item.content for item in queue.messages] == ["second"]

    app.claude.script(say("answer to second"))
    await app.sessions.resume(session_id)
    assert await app.finished(session_id, waiting.run_id) == "done"
    queue = await app.conversation.queue(session_id)
    assert (queue.size, queue.paused) == (0, False)


async def test_a_new_message_after_a_cancel_runs_after_the_one_that_waited(
    app: RuntimeApp,
) -> None:
    session_id, _ = await _busy(app)
    await app.send(session_id, "older")
    await app.sessions.cancel(session_id)

    app.claude.script(say("answer older"))
    app.claude.script(say("answer newer"))
    newer = await app.send(session_id, "newer")

    assert await app.finished(session_id, newer.run_id) == "done"
    asked = [app.claude.user_texts(index)[-1] for index in (1, 2)]
    assert asked == ["older", "newer"]
    assert app.db.events_of("session_resumed")[-1].event_data == {"status": "idle"}


async def test_an_interrupt_drops_the_queue_keeps_it_listable_and_leaves_the_session_idle(
    app: RuntimeApp,
) -> None:
    session_id, run_id = await _busy(app)
    await app.send(session_id, "and then this")

    assert await app.conversation.interrupt(session_id) is True

    assert await app.finished(session_id, run_id) == "cancelled"
    assert app.status(session_id) == "idle"
    queue = await app.conversation.queue(session_id)
    assert queue.messages == []
    assert [(item.content, item.drop_reason) for item in queue.dropped] == [
        ("and then this", INTERRUPT_REASON)
    ]
    app.claude.script(say("ok"))
    sent = await app.send(session_id, "new question")
    await app.finished(session_id, sent.run_id)
    assert "and then this" not in app.claude.user_texts()


async def test_cancelling_an_idle_session_ends_it_and_says_so(app: RuntimeApp) -> None:
    session_id = await app.assistant()

    view = await app.sessions.cancel(session_id)

    assert view.status == "cancelled"
    assert app.types(session_id) == ["queue_changed", "status_changed"]
    assert app.events(session_id)[-1].data == {"status": "cancelled"}
    assert app.db.events_of("session_cancelled")[-1].event_data == {"status": "cancelled"}
    with pytest.raises(InvalidTransitionError):
        await app.sessions.cancel(session_id)


async def test_a_cancel_while_the_claim_runs_settles_the_started_turn_as_cancelled(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    row = app.db.lock(session_id)
    # Through the queue, as an agent's message goes: a worker claims it.
    sent = (await app.runtime.inbox.accept(session_id, "hello")).item
    await row.acquire()  # before the claim (it starts on the next loop turn) locks the row
    async with asyncio.timeout(5):
        while not row._waiters:  # the claim waits for the row
            await asyncio.sleep(0)
        cancelling = asyncio.create_task(app.sessions.cancel(session_id))
        worker = app.runtime.workers._workers[session_id]
        while worker.turn is not None and not worker.turn.cancelling():
            await asyncio.sleep(0)
    row.release()  # the claim, once begun, completes
    await cancelling

    assert await app.finished(session_id, sent.run_id) == "cancelled"
    assert app.status(session_id) == "cancelled"
    assert app.claude.requests == []
    assert [t for t in app.types(session_id, sent.run_id) if t in TERMINAL] == ["cancelled"]


async def test_a_cancel_while_a_send_starts_its_turn_settles_that_turn_unrun(
    app: RuntimeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = await app.assistant()
    claiming, go_on = asyncio.Event(), asyncio.Event()
    reserve = app.runtime.workers.reserve

    def reserve_and_pause(session: Session, runtime: str) -> TurnStart | None:
        start = reserve(session, runtime)
        assert start is not None
        claim = start.claim

        async def paused_claim(
            uow: UnitOfWork,
            item: PendingInput,
            project: Project | None,
            profile: UserProfile | None,
        ) -> bool:
            claiming.set()
            await go_on.wait()
            return await claim(uow, item, project, profile)

        monkeypatch.setattr(start, "claim", paused_claim)
        return start

    monkeypatch.setattr(app.runtime.workers, "reserve", reserve_and_pause)
    sending = asyncio.create_task(app.send(session_id, "hello"))
    await asyncio.wait_for(claiming.wait(), 5)
    # The send holds the row and is starting the turn when the cancel arrives.
    cancelling = asyncio.create_task(app.sessions.cancel(session_id))
    async with asyncio.timeout(5):
        while not app.runtime.workers._reserved[session_id].cancelled:
            await asyncio.sleep(0)
    go_on.set()
    sent = await sending
    await cancelling

    assert await app.finished(session_id, sent.run_id) == "cancelled"
    assert app.status(session_id) == "cancelled"
    assert app.claude.requests == []
    assert [t for t in app.types(session_id, sent.run_id) if t in TERMINAL] == ["cancelled"]


async def test_deleting_a_session_stops_its_turn_and_drops_its_queue(app: RuntimeApp) -> None:
    session_id, _ = await _busy(app)
    events = await app.hub.subscribe(session_id)
    await app.send(session_id, "never answered")

    await app.sessions.delete(session_id)

    seen = [event.type for event in events.ready()]
    assert "cancelled" in seen
    assert app.db.waiting(session_id) == []
    assert app.events(session_id) == []  # its log is forgotten
    assert app.db.events_of("session_deleted")[-1].session_id == session_id


async def test_a_reset_empties_the_conversation_and_leaves_the_session_idle(
    app: RuntimeApp,
) -> None:
    session_id, _ = await _busy(app)

    view = await app.sessions.reset(session_id)

    assert view.status == "idle"
    assert app.transcript(session_id) == []
    reset = app.db.events_of("session_reset")[-1]
    assert reset.event_data == {"status": "idle", "messages_deleted": 1}
    assert app.events(session_id)[-1].data == {"status": "idle"}
