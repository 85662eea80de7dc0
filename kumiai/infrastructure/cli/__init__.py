"""The coding-agent CLIs on this machine: discovery, their users' accounts, plan usage."""

from __future__ import annotations

from kumiai.infrastructure.cli.accounts import LocalCliAccounts
from kumiai.infrastructure.cli.discovery import CliDiscoverer, bundled_claude_cli
from kumiai.infrastructure.cli.usage import ClaudeUsageApi

__all__ = ["ClaudeUsageApi", "CliDiscoverer", "LocalCliAccounts", "bundled_claude_cli"]
