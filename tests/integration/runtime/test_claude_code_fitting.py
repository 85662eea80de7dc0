"""A long session on Claude Code: what the CLI is sent fits the budget exactly, by the
API runtime's rules (the real bundled CLI against the scripted server, which refuses any
request over the budget with the API's "prompt is too long" error)."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from uuid import UUID

import pytest

from kumiai.application.ports.events import SessionEvent
from kumiai.application.services.runtime.events import Subscription
from kumiai.application.services.runtime.history.budget import (
    ELIDED_OUTPUT,
    TRIMMED_PLACEHOLDER,
)
from kumiai.core.config import Settings
from tests.factories.conversations import insert_rows, tool_exchanges
from tests.integration.runtime.helpers import (
    TERMINAL,
    create_specialist,
    create_team,
    messages,
    send,
    wait_until_idle,
)
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import RecordedRequest, Reply, ScriptedAnthropic

WINDOW = 64_000
MAX_TOKENS = 8_192  # the turn's default, which the CLI is told to keep to
BUDGET = WINDOW - MAX_TOKENS
EXCHANGES = 5_000  # of four rows: 20,000 messages
CLOSING = "</conversation_transcript>"
CLI_TIMEOUT = 60


pytestmark = pytest.mark.parametrize("runtime", ["claude-code"], indirect=True)


@pytest.fixture
def live_settings(live_settings: Settings) -> Settings:
    return live_settings.model_copy(update={"context_window_tokens": WINDOW})


async def _terminal(subscription: Subscription) -> SessionEvent:
    async def find() -> SessionEvent:
        while (event := await subscription.next()) is not None:
            if event.type in TERMINAL:
                return event
        raise AssertionError("the subscription ended before the turn did")

    return await asyncio.wait_for(find(), timeout=CLI_TIMEOUT)


def _model_requests(claude: ScriptedAnthropic) -> list[RecordedRequest]:
    return [request for request in claude.requests if request.path == "/v1/messages"]


def _transcript(request: RecordedRequest) -> str:
    """The prompt a fresh CLI session was sent (Claude Code adds reminders around it)."""
    blocks = request.messages[-1]["content"]
    return next(block["text"] for block in blocks if CLOSING in block.get("text", ""))


async def _long_session(live: LiveApp) -> str:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    rows = tool_exchanges(UUID(session_id), EXCHANGES, output_words=100)
    async with live.container.database.engine.begin() as connection:
        await insert_rows(connection, UUID(session_id), rows)
    return session_id


async def test_a_20k_message_session_is_sent_inside_the_budget_newest_first(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await _long_session(live)
    claude.max_prompt_tokens = BUDGET
    claude.enqueue(Reply.text("Caught up."))

    await send(live.client, session_id, "and now?")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)

    newest = await live.client.get(
        f"/api/v2/sessions/{session_id}/messages", params={"order": "desc", "limit": 1}
    )
    assert newest.json()["data"][0]["content"] == "Caught up."
    (request,) = _model_requests(claude)
    assert request.body["max_tokens"] == MAX_TOKENS
    assert claude.prompt_tokens(request.body) <= BUDGET
    sent = _transcript(request)
    assert sent.endswith(f"{CLOSING}\n\nand now?")
    # The newest exchanges, in order and without a gap; older ones were dropped whole.
    kept = [int(number) for number in re.findall(r"\[user\]\nquestion (\d+)", sent)]
    assert kept == list(range(kept[0], EXCHANGES)) and kept[0] > 0
    assert sent.count(TRIMMED_PLACEHOLDER) == 1
    # Old outputs were elided first: every elided one is older than every whole one,
    # and the latest output is whole.
    whole = [int(number) for number in re.findall(r"\noutput (\d+): lorem", sent)]
    elided = sent.count(ELIDED_OUTPUT.split(":")[0])
    assert elided > 0 and whole[-1] == EXCHANGES - 1
    assert whole == kept[elided:]


async def test_what_claude_code_adds_is_learned_and_the_next_fresh_session_uses_the_room(
    live: LiveApp, claude: ScriptedAnthropic, isolated_claude_code: Path
) -> None:
    session_id = await _long_session(live)
    claude.max_prompt_tokens = BUDGET
    claude.usage_reports_prompt = True
    claude.enqueue(Reply.text("Caught up."), Reply.text("Still here."))
    await send(live.client, session_id, "and now?")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)
    # Without its own session, Claude Code is sent the history again.
    shutil.rmtree(isolated_claude_code / ".claude" / "projects")

    await send(live.client, session_id, "and then?")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)

    first, second = (claude.prompt_tokens(request.body) for request in _model_requests(claude))
    # Shrunk to 75% of the budget by the same rule, now knowing Claude Code's own part.
    assert first < second <= BUDGET
    assert abs(second - BUDGET * 0.75) < BUDGET * 0.05
    assert _transcript(_model_requests(claude)[-1]).endswith(f"{CLOSING}\n\nand then?")


async def test_a_claude_code_session_grown_past_the_budget_is_not_resumed_but_fitted(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    # The CLI's session now holds (it reports) almost the whole budget.
    claude.enqueue(Reply.text("The answer is 42.").with_usage(BUDGET - 100, 50))
    await send(live.client, session_id, "what is the answer?")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)

    claude.enqueue(Reply.text("You asked about 42."))
    await send(live.client, session_id, "what did I ask? " * 100)
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)

    sent = _transcript(_model_requests(claude)[-1])
    assert sent.index("what is the answer?") < sent.index("The answer is 42.") < sent.index(CLOSING)
    assert (await messages(live.client, session_id))[-1]["content"] == "You asked about 42."


async def _refused_session(live: LiveApp) -> str:
    """About 30,000 tokens of history: what the configured window takes whole."""
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    rows = tool_exchanges(UUID(session_id), 100, output_words=150)
    async with live.container.database.engine.begin() as connection:
        await insert_rows(connection, UUID(session_id), rows)
    return session_id


async def test_a_request_claude_code_reports_too_long_is_shrunk_harder_and_sent_once_more(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await _refused_session(live)
    claude.max_prompt_tokens = limit = 40_000  # less than the whole history needs
    claude.enqueue(Reply.text("Caught up."), Reply.text("Still here."))
    events = await live.container.events.subscribe(UUID(session_id))

    await send(live.client, session_id, "and now?")
    finished = await _terminal(events)

    assert finished.type == "done"
    refused, fitted = _model_requests(claude)
    assert claude.prompt_tokens(refused.body) > limit
    assert claude.prompt_tokens(fitted.body) <= limit - MAX_TOKENS
    assert _transcript(fitted).endswith(f"{CLOSING}\n\nand now?")
    # The next turn keeps to the window the refusal stated, without being refused.
    shutil.rmtree(live.container.settings.home / "claude-code" / "sessions")
    await send(live.client, session_id, "and then?")
    assert (await _terminal(events)).type == "done"
    assert len(_model_requests(claude)) == 3
    assert claude.prompt_tokens(_model_requests(claude)[-1].body) <= limit - MAX_TOKENS


async def test_a_second_refusal_ends_the_turn_with_an_error_naming_the_cause(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await _refused_session(live)
    claude.max_prompt_tokens = 5_000  # less than Claude Code's own part
    events = await live.container.events.subscribe(UUID(session_id))

    await send(live.client, session_id, "and now?")
    failed = await _terminal(events)

    assert failed.type == "error" and failed.data["code"] == "context_too_long"
    assert "(limit 5000)" in failed.data["error"]
    assert len(_model_requests(claude)) == 2
