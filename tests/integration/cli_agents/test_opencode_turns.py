"""The runtime scenarios of ``scenarios.py``, on OpenCode."""

from tests.integration.cli_agents.scenarios import *  # noqa: F403

CLI = "opencode"
