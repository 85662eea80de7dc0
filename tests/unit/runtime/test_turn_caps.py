"""Caps on turns running at once: each runtime has its own, the API's high, the CLIs'
from memory; a turn beyond its runtime's cap waits with its input pending."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import UUID, uuid4

from kumiai.application.services.runtime.slots import TurnCaps, TurnSlots
from kumiai.core.config import Settings, memory_based_cap
from kumiai.domain.value_objects.cli_backend import CliBackend
from tests.support.fake_runtime import stream_and_hang
from tests.support.runtime_app import RuntimeApp, runtime_app

GIB = 1024**3


async def _codex_specialist(app: RuntimeApp) -> UUID:
    project_id, _, team = await app.team("Cody")
    cody = team["Cody"]
    cody.cli_backend = CliBackend.CODEX
    app.db.insert(cody)
    return await app.specialist(project_id, cody)


async def test_a_full_runtime_holds_its_own_turns_but_not_another_runtimes(
    tmp_path: Path,
) -> None:
    caps = TurnCaps(per_runtime={"anthropic": 1}, default=1)
    async with runtime_app(tmp_path, turn_caps=caps) as app:
        first, second = await app.assistant(), await app.assistant()
        codex = await _codex_specialist(app)
        app.claude.script(stream_and_hang())
        app.claude.script(stream_and_hang())
        await app.send(first, "go")
        await app.claude.wait_for_requests(1)

        waiting = await app.send(second, "me too")
        other = await app.send(codex, "and me")

        assert waiting.queued is True
        assert other.queued is False
        await app.claude.wait_for_requests(2)
        assert app.claude.requests[1].backend == "codex"
        assert app.status(second) == "idle"  # its turn has not started
        await app.sessions.cancel(first)
        assert await app.finished(second, waiting.run_id) == "done"


async def test_fifty_api_turns_run_at_once_under_the_default_caps(tmp_path: Path) -> None:
    async with runtime_app(tmp_path) as app:
        sessions = [await app.assistant() for _ in range(50)]
        for _ in sessions:
            app.claude.script(stream_and_hang())

        sent = [await app.send(session_id, "go") for session_id in sessions]

        await app.claude.wait_for_requests(50)
        assert not any(item.queued for item in sent)


async def test_the_server_wide_cap_still_bounds_every_runtime_together(tmp_path: Path) -> None:
    caps = TurnCaps(per_runtime={}, default=10, server=1)
    async with runtime_app(tmp_path, turn_caps=caps) as app:
        claude = await app.assistant()
        codex = await _codex_specialist(app)
        app.claude.script(stream_and_hang())
        await app.send(claude, "go")
        await app.claude.wait_for_requests(1)

        waiting = await app.send(codex, "me too")

        assert waiting.queued is True
        await app.sessions.cancel(claude)
        assert await app.finished(codex, waiting.run_id) == "done"


async def test_a_freed_slot_goes_to_the_turn_that_waited_longest() -> None:
    slots = TurnSlots(TurnCaps(per_runtime={}, default=1))
    running = slots.try_take("anthropic")
    assert running is not None
    order: list[str] = []

    async def wait(name: str) -> None:
        slot = await slots.take("anthropic", uuid4())
        order.append(name)
        slot.release()

    waiters = [asyncio.create_task(wait(name)) for name in ("first", "second")]
    await asyncio.sleep(0)  # both wait now
    running.release()
    assert slots.try_take("anthropic") is None  # a newcomer does not jump the queue
    await asyncio.gather(*waiters)

    assert order == ["first", "second"]
    assert slots.try_take("anthropic") is not None


async def test_a_waiter_cancelled_while_it_waits_gives_its_turn_up() -> None:
    slots = TurnSlots(TurnCaps(per_runtime={}, default=1))
    running = slots.try_take("codex")
    assert running is not None
    session_id = uuid4()
    heard: dict[object, str | None] = {}
    slots.watch(heard.__setitem__)
    waiter = asyncio.create_task(slots.take("codex", session_id))
    await asyncio.sleep(0)
    assert heard.get(session_id) == "codex"

    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    running.release()

    assert heard.get(session_id) is None
    assert slots.try_take("codex") is not None


def test_claude_agents_run_on_the_selected_claude_runtime_and_others_on_their_cli() -> None:
    caps = TurnCaps(per_runtime={"anthropic": 64}, default=3, claude_runtime="claude-code")

    assert caps.runtime_of(CliBackend.CLAUDE) == "claude-code"
    assert caps.runtime_of(CliBackend.GEMINI) == "gemini"
    assert caps.cap_of("claude-code") == 3
    assert caps.cap_of("anthropic") == 64


def test_the_cli_cap_is_as_many_processes_as_half_the_memory_holds() -> None:
    assert memory_based_cap(16 * GIB, 512) == 16
    assert memory_based_cap(1 * GIB, 4096) == 1  # never below one
    assert memory_based_cap(None, 512) >= 1  # memory unknown: a small fixed cap


def test_a_configured_cli_cap_wins_over_the_memory() -> None:
    settings = Settings(max_cli_turns=3, cli_turn_memory_mb=16, _env_file=None)  # type: ignore[call-arg]

    assert settings.cli_turn_cap() == 3
    assert Settings(_env_file=None).max_api_turns >= 50  # type: ignore[call-arg]
