"""The runtime scenarios of ``scenarios.py``, on Gemini CLI."""

from tests.integration.cli_agents.scenarios import *  # noqa: F403

CLI = "gemini"
