"""Start-up imports only what answering the first request needs.

The SDKs below take seconds of CPU and tens of MB between them; they are imported on
first use (a turn, an MCP server, a migration; the model list does without), so
``kumiai serve`` answers sooner and idles smaller. A top-level import of one of them
anywhere in the app's import graph fails here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

DEFERRED = ("anthropic", "mcp", "mcp_types", "claude_agent_sdk", "alembic")


def _imported_after(statement: str) -> set[str]:
    probe = (
        f"{statement}\n"
        "import sys\n"
        f"print(' '.join(name for name in {DEFERRED!r} if name in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    "statement",
    [
        "import kumiai.cli",
        "import kumiai.main",
        # The container as the server builds it, with a key configured.
        "from kumiai.core.config import Settings\n"
        "from kumiai.composition import build_container, open_database\n"
        "settings = Settings(anthropic_api_key='sk-test', database_url='postgresql://x@h/d')\n"
        "build_container(settings, open_database(settings, settings.database_url))",
        # The first health check with a key resolves the model through the API's list.
        "import asyncio\n"
        "from kumiai.infrastructure.claude.models import AnthropicModelList\n"
        "models = AnthropicModelList('sk-test', 'http://127.0.0.1:9', timeout=1)\n"
        "async def listing():\n"
        "    try:\n"
        "        await models.list_models()\n"
        "    except Exception:\n"
        "        pass\n"
        "    await models.aclose()\n"
        "asyncio.run(listing())",
    ],
    ids=["cli", "app", "container", "model-list"],
)
def test_start_up_leaves_the_sdks_unimported(statement: str) -> None:
    assert _imported_after(statement) == set()
