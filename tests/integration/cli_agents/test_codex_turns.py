"""The runtime scenarios of ``scenarios.py``, on Codex."""

from tests.integration.cli_agents.scenarios import *  # noqa: F403

CLI = "codex"
