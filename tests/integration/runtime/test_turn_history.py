"""A turn on a long session reads only the newest rows, and asks the model the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from kumiai.application.services.runtime.context import PreparedTurn
from kumiai.application.services.runtime.history.budget import trim_to_budget
from kumiai.application.services.runtime.history.replay import to_api_messages
from kumiai.core.config import Settings, load_settings
from tests.factories.conversations import all_rows, insert_rows, messy_session, rows_loaded
from tests.integration.runtime.helpers import send, wait_until_idle
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic

WINDOW = 16_384


@pytest.fixture
def live_settings(tmp_path: Path, live_database_url: str, claude: ScriptedAnthropic) -> Settings:
    return load_settings(
        home=tmp_path / "home",
        database_url=live_database_url,
        claude_config_file=tmp_path / ".claude.json",
        context_window_tokens=WINDOW,
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=claude.base_url,
        _env_file=None,
    )


async def test_a_turn_on_a_long_session_reads_only_its_newest_rows(
    live: LiveApp, claude: ScriptedAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = await live.client.post("/api/v2/sessions", json={"session_type": "assistant"})
    session_id = UUID(response.json()["data"]["id"])
    rows = messy_session(session_id, seed=3, turns=2_000)
    async with live.container.database.engine.begin() as connection:
        await insert_rows(connection, session_id, rows)
    contexts = live.container.workers._runner._contexts
    real_build = contexts.build
    prepared: list[PreparedTurn] = []

    async def build(*arguments: Any) -> PreparedTurn:
        prepared.append(await real_build(*arguments))
        return prepared[-1]

    monkeypatch.setattr(contexts, "build", build)
    claude.enqueue(Reply.text("still with you"))

    with rows_loaded() as loaded:
        await send(live.client, str(session_id), "and now?")
        await wait_until_idle(live, str(session_id))

    every_row = await all_rows(live.container.database, session_id)
    asked = every_row[:-1]  # the claimed message included, the answer not
    assert len(asked) == len(rows) + 1
    assert prepared[-1].request.messages == trim_to_budget(to_api_messages(asked), WINDOW)
    assert 0 < loaded[0] < len(every_row) / 5, (loaded[0], len(every_row))
    assert claude.requests[-1].body["messages"][-1]["content"][-1]["text"] == "and now?"

    # The next turn reads what was added since, while its message is written: the last
    # row seen and the answer. Its own message it adds as written, not read back.
    claude.enqueue(Reply.text("yes"))
    with rows_loaded() as loaded:
        await send(live.client, str(session_id), "and then?")
        await wait_until_idle(live, str(session_id))

    every_row = await all_rows(live.container.database, session_id)
    asked = every_row[:-1]
    assert len(asked) == len(rows) + 3
    assert prepared[-1].request.messages == trim_to_budget(to_api_messages(asked), WINDOW)
    assert loaded[0] == 2
