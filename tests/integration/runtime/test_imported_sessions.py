"""A session imported from the SQLite-era KumiAI opens and continues with scripted Claude."""

from __future__ import annotations

import io
import itertools
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console

from kumiai.core.config import Settings
from kumiai.infrastructure.importer.pipeline import ImportOptions, run_import
from tests.conftest import FIXTURES_HOME
from tests.integration.runtime.helpers import messages, send, session, wait_until_idle
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic

PM_SESSION = "8b04a73b-1345-4082-a9c2-b43197c59b7a"
PROJECT = "32b27cad-c29f-42fb-82b9-546e0f0220f3"


async def _import_fixture(live: LiveApp, settings: Settings, tmp_path: Path) -> None:
    source = tmp_path / "v1-home"
    shutil.copytree(FIXTURES_HOME / "kumiai-v1-home", source)
    options = ImportOptions(
        database_url=settings.database_url or "", home=settings.home, source=source
    )
    result = await run_import(options, Console(file=io.StringIO()))
    assert result.ok
    # The v1 path belongs to another machine; give the project a folder of this one.
    async with live.container.database.engine.begin() as connection:
        await connection.execute(
            sa.text("UPDATE projects SET path = :path WHERE id = :id"),
            {"path": str(tmp_path / "checkout"), "id": PROJECT},
        )


def _assert_replayable(history: list[dict[str, Any]]) -> None:
    assert history[0]["role"] == "user"
    for before, after in itertools.pairwise(history):
        assert before["role"] != after["role"]
    for index, message in enumerate(history):
        calls = [block["id"] for block in message["content"] if block["type"] == "tool_use"]
        if calls:
            answers = history[index + 1]["content"]
            assert [b["tool_use_id"] for b in answers if b["type"] == "tool_result"] == calls


async def test_an_imported_session_opens_and_continues_with_a_valid_history(
    live: LiveApp, claude: ScriptedAnthropic, live_settings: Settings, tmp_path: Path
) -> None:
    await _import_fixture(live, live_settings, tmp_path)
    opened = await session(live.client, PM_SESSION)
    assert opened["session_type"] == "pm"
    before = await messages(live.client, PM_SESSION)
    assert len(before) == 78
    v1_page = (await live.client.get(f"/api/v1/sessions/{PM_SESSION}/messages")).json()
    assert v1_page["items"] and all(item["role"] != "tool_result" for item in v1_page["items"])
    v1_session = (await live.client.get(f"/api/v1/sessions/{PM_SESSION}")).json()
    assert v1_session["agent_id"] == "product-manager"

    claude.enqueue(Reply.text("Picking the checkout work back up."))
    await send(live.client, PM_SESSION, "Where were we?")
    await wait_until_idle(live, PM_SESSION)

    replayed = claude.requests[-1].messages
    _assert_replayable(replayed)
    assert replayed[-1]["content"][-1]["text"] == "Where were we?"
    after = await messages(live.client, PM_SESSION)
    assert after[-1]["content"] == "Picking the checkout work back up."
    assert [row["sequence"] for row in after] == list(range(len(after)))
