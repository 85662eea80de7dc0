"""Why waiting messages wait, as the queue view says it: a cancel's hold first (the
session is cancelled), then an archived project, the running turn, a slot of the
runtime (as the session row records it). All of it is read from the rows, so every
server process gives the owner's answer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import UUID

import pytest

from kumiai.application.dtos.conversation import WaitingReason, WaitingView
from kumiai.application.services.runtime.slots import TurnCaps
from kumiai.core.exceptions import InvalidTransitionError
from kumiai.domain.entities import Session
from tests.support.fake_runtime import say, stream_and_hang
from tests.support.runtime_app import RuntimeApp, runtime_app


async def _why(app: RuntimeApp, session_id: UUID) -> WaitingView | None:
    return (await app.conversation.queue(session_id)).waiting


async def _waiting_for_a_slot(app: RuntimeApp, session_id: UUID) -> WaitingView:
    """The reason once the session's worker waits for a slot (it takes a loop turn)."""
    async with asyncio.timeout(5):
        while (why := await _why(app, session_id)) is None or why.reason is not WaitingReason.SLOT:
            await asyncio.sleep(0)
    return why


async def _busy(app: RuntimeApp, session_id: UUID) -> None:
    app.claude.script(stream_and_hang())
    await app.send(session_id, "a long job")
    await app.claude.wait_for_requests(len(app.claude.requests) + 1)


async def _second_waits_for_a_slot(app: RuntimeApp, content: str) -> tuple[UUID, UUID, UUID]:
    """Two assistant sessions on a cap of one turn: the first busy, the second's message
    ``content`` waiting for its slot. The two ids and the waiting message's run."""
    first, second = await app.assistant(), await app.assistant()
    await _busy(app, first)
    sent = await app.send(second, content)
    await _waiting_for_a_slot(app, second)
    return first, second, sent.run_id


async def test_a_session_with_nothing_waiting_has_no_reason(app: RuntimeApp) -> None:
    session_id = await app.assistant()

    assert await _why(app, session_id) is None
    assert (await app.sessions.get(session_id)).waiting is None


async def test_a_message_behind_the_running_turn_says_so(app: RuntimeApp) -> None:
    session_id = await app.assistant()
    await _busy(app, session_id)

    await app.send(session_id, "next")

    why = await _why(app, session_id)
    assert why is not None and why.reason is WaitingReason.RUNNING_TURN
    assert why.runtime is None
    assert (await app.sessions.get(session_id)).waiting == why


async def test_a_cancel_holds_the_queue_and_says_so(app: RuntimeApp) -> None:
    session_id = await app.assistant()
    await _busy(app, session_id)
    await app.send(session_id, "next")

    await app.sessions.cancel(session_id)

    queue = await app.conversation.queue(session_id)
    assert queue.waiting is not None and queue.waiting.reason is WaitingReason.HELD
    assert queue.paused is True


async def test_the_queue_of_an_archived_project_says_it_waits_for_the_unarchive(
    app: RuntimeApp,
) -> None:
    project_id, _, team = await app.team("Dana")
    dana = await app.specialist(project_id, team["Dana"])
    await _busy(app, dana)
    await app.send(dana, "afterwards")

    await app.projects.archive(project_id)
    await app.sessions.resume(dana)  # a resume while archived starts nothing
    await app.drained()

    why = await _why(app, dana)
    assert why is not None and why.reason is WaitingReason.PROJECT_ARCHIVED


async def test_a_turn_beyond_its_runtimes_cap_names_that_runtime(tmp_path: Path) -> None:
    async with runtime_app(tmp_path, turn_caps=TurnCaps(per_runtime={}, default=1)) as app:
        first, second = await app.assistant(), await app.assistant()
        await _busy(app, first)

        await app.send(second, "me too")

        why = await _waiting_for_a_slot(app, second)
        assert why.runtime == "anthropic"


async def test_a_turn_beyond_the_server_cap_says_it_waits_for_a_server_slot(
    tmp_path: Path,
) -> None:
    async with runtime_app(tmp_path, max_concurrent_turns=1) as app:
        first, second = await app.assistant(), await app.assistant()
        await _busy(app, first)

        await app.send(second, "me too")

        why = await _waiting_for_a_slot(app, second)
        assert why.runtime == "server"
        assert "server-wide" in why.description


async def test_a_wait_for_a_slot_is_on_the_session_row_until_the_wait_ends(
    tmp_path: Path,
) -> None:
    async with runtime_app(tmp_path, turn_caps=TurnCaps(per_runtime={}, default=1)) as app:
        first, second, run_id = await _second_waits_for_a_slot(app, "me too")
        marked = app.db.session(second).waiting_slot

        app.claude.script(say("at last"))
        await app.sessions.cancel(first)
        assert await app.finished(second, run_id) == "done"
        await app.drained()

        assert marked == "anthropic"
        assert app.db.session(second).waiting_slot is None


async def test_a_turns_start_clears_a_slot_wait_its_owner_left_on_the_row(app: RuntimeApp) -> None:
    session_id = await app.assistant()
    app.db.rows[Session][session_id].waiting_slot = "codex"  # a dead owner's, never cleared
    app.claude.script(say("hello"))

    sent = await app.send(session_id, "hi")

    assert await app.finished(session_id, sent.run_id) == "done"
    assert app.db.session(session_id).waiting_slot is None


async def test_an_idle_session_waiting_for_a_slot_when_its_project_is_archived_says_archived(
    tmp_path: Path,
) -> None:
    async with runtime_app(tmp_path, turn_caps=TurnCaps(per_runtime={}, default=1)) as app:
        busy = await app.assistant()  # outside the project: its turn keeps the slot
        project_id, _, team = await app.team("Dana")
        dana = await app.specialist(project_id, team["Dana"])
        await _busy(app, busy)
        await app.send(dana, "me too")
        await _waiting_for_a_slot(app, dana)

        await app.projects.archive(project_id)

        # The owner held the queue as it stopped the project's runs, in its memory; the
        # session is not cancelled, so it says what every other process reads.
        why = await _why(app, dana)
        assert (await app.sessions.get(dana)).status == "idle"
        assert why is not None and why.reason is WaitingReason.PROJECT_ARCHIVED
        # Paused alike in the queue view and in what the archive announced.
        assert (await app.conversation.queue(dana)).paused is True
        announced = [e for e in app.events(dana) if e.type == "queue_changed"][-1]
        assert announced.data["paused"] is True
        assert (await app.sessions.get(dana)).waiting == why
        await app.sessions.cancel(busy)


async def test_a_cancel_refused_because_the_session_ended_holds_nothing_back(
    tmp_path: Path,
) -> None:
    async with runtime_app(tmp_path, turn_caps=TurnCaps(per_runtime={}, default=1)) as app:
        first, second, run_id = await _second_waits_for_a_slot(app, "me too")
        await app.sessions.complete(second)

        with pytest.raises(InvalidTransitionError):
            await app.sessions.cancel(second)

        why = await _why(app, second)
        assert why is not None and why.reason is WaitingReason.SLOT
        app.claude.script(say("at last"))
        await app.sessions.cancel(first)
        assert await app.finished(second, run_id) == "done"


async def test_a_cancel_refused_because_the_session_ended_drops_nothing_and_announces_nothing(
    tmp_path: Path,
) -> None:
    async with runtime_app(tmp_path, turn_caps=TurnCaps(per_runtime={}, default=1)) as app:
        first, second, _ = await _second_waits_for_a_slot(app, "still wanted")
        await app.sessions.complete(second)
        announced = len(app.events(second))

        with pytest.raises(InvalidTransitionError) as refused:
            await app.sessions.cancel(second, drop_queue=True)

        assert refused.value.details["current_status"] == "completed"
        assert [item.content for item in app.db.waiting(second)] == ["still wanted"]
        assert len(app.events(second)) == announced
        await app.sessions.cancel(first)
