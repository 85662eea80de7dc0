"""A session whose history outgrows the context window keeps working."""

from __future__ import annotations

import asyncio
from uuid import UUID

from kumiai.application.ports.events import SessionEvent
from kumiai.application.services.runtime.events import Subscription
from tests.integration.runtime.helpers import (
    TERMINAL,
    create_specialist,
    create_team,
    messages,
    send,
    wait_until_idle,
)
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic


async def _terminal(subscription: Subscription) -> SessionEvent:
    async def find() -> SessionEvent:
        while (event := await subscription.next()) is not None:
            if event.type in TERMINAL:
                return event
        raise AssertionError("the subscription ended before the turn did")

    return await asyncio.wait_for(find(), timeout=15)


async def test_a_request_that_never_fits_ends_with_a_clear_error_and_the_next_message_works(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    dana = await create_specialist(live, team, "Dana")
    events = await live.container.events.subscribe(UUID(dana))
    claude.max_prompt_tokens = 5

    await send(live.client, dana, "hello")
    failed = await _terminal(events)

    assert failed.type == "error"
    assert failed.data["code"] == "context_too_long"
    assert "context window" in failed.data["error"]
    await wait_until_idle(live, dana)

    claude.max_prompt_tokens = None
    claude.enqueue(Reply.text("Back on track."))
    await send(live.client, dana, "try again")
    finished = await _terminal(events)

    assert finished.type == "done"
    assert (await messages(live.client, dana))[-1]["content"] == "Back on track."


async def test_a_history_too_long_for_the_window_is_trimmed_instead_of_failing(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    dana = await create_specialist(live, team, "Dana")
    for index in range(6):
        claude.enqueue(Reply.text(f"answer {index} " + "words " * 1_500))
        await send(live.client, dana, f"question {index}")
        await wait_until_idle(live, dana)
    grown = claude.prompt_tokens(claude.requests[-1].body)
    claude.max_prompt_tokens = grown  # the next, longer request would be refused whole
    claude.enqueue(Reply.text("Still here."))
    events = await live.container.events.subscribe(UUID(dana))

    await send(live.client, dana, "one more " * 400)
    finished = await _terminal(events)

    assert finished.type == "done"
    last = claude.requests[-1]
    assert last.path == "/v1/messages"
    assert claude.prompt_tokens(last.body) <= grown
