from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kumiai.core.config import Settings, load_settings
from tests.integration.runtime.helpers import create_specialist, create_team
from tests.support.database import create_scratch_database, drop_database
from tests.support.live import LiveApp, live_app
from tests.support.scripted_anthropic import ScriptedAnthropic


@pytest.fixture(scope="session")
def live_database_url(postgres_server_url: str, migrated_template: str) -> Iterator[str]:
    url = create_scratch_database(
        postgres_server_url, prefix="kumiai_live", template=migrated_template
    )
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def claude_server() -> Iterator[ScriptedAnthropic]:
    with ScriptedAnthropic() as server:
        yield server


@pytest.fixture
def claude(claude_server: ScriptedAnthropic) -> ScriptedAnthropic:
    claude_server.reset()
    return claude_server


BOTH_RUNTIMES = pytest.mark.parametrize("runtime", ["anthropic", "claude-code"], indirect=True)
"""Runs a scenario on the API runtime and on Claude Code (the real bundled CLI), both
against the scripted server. Each Claude Code turn starts a CLI process (seconds on a
loaded machine), so only representative scenarios run on both: a turn with tool calls,
a retry, a cancel, a question, delegation and the task tools; a variant whose difference
is not the runtime's (a v1 way in, a refusal the tool makes) runs on the API alone."""


@pytest.fixture
def runtime(request: pytest.FixtureRequest) -> str:
    """The agent runtime of the live app: the API unless a test asks for both."""
    return getattr(request, "param", "anthropic")


@pytest.fixture
def live_settings(
    tmp_path: Path, live_database_url: str, claude: ScriptedAnthropic, runtime: str
) -> Settings:
    return load_settings(
        home=tmp_path / "home",
        database_url=live_database_url,
        runtime=runtime,
        claude_config_file=tmp_path / ".claude.json",
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=claude.base_url,
        retry_backoff_seconds=0.01,  # retries are tested for what they do, not their pace
        # A connection may take seconds on a loaded machine (the suite runs in parallel);
        # failing after the default 5 s made a live app's start-up fail there at times.
        db_connect_timeout=30,
        # No agent CLI of the machine's PATH ever runs a test's turn: a test that wants
        # one names it.
        codex_cli=tmp_path / "no-cli" / "codex",
        gemini_cli=tmp_path / "no-cli" / "gemini",
        opencode_cli=tmp_path / "no-cli" / "opencode",
        _env_file=None,
    )


@pytest.fixture
async def live(live_settings: Settings) -> AsyncIterator[LiveApp]:
    async with live_app(live_settings) as app:
        yield app


@pytest.fixture
async def session_id(live: LiveApp) -> str:
    """Dana's specialist session in a fresh project whose PM is Pat: where most turns run."""
    team = await create_team(live, "Dana")
    return await create_specialist(live, team, "Dana")
