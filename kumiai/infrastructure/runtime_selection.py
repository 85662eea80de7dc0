"""Choosing the agent runtime: the Anthropic API or Claude Code (``KUMIAI_RUNTIME``).

``auto`` prefers the API when a key is configured, because that is what the operator
set up for KumiAI explicitly; otherwise it uses Claude Code when the user is logged in
there (a Claude subscription) or has a ``CLAUDE_CODE_OAUTH_TOKEN``. The decision and
its reason are shown by ``kumiai doctor`` and ``/api/health``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from kumiai.application.dtos.health import RuntimeSelection
from kumiai.core.config import Settings
from kumiai.infrastructure.filesystem.text_file import read_json_object

ANTHROPIC = "anthropic"
CLAUDE_CODE = "claude-code"
SDK_MODULE = "claude_agent_sdk"
INSTALL_HINT = "install it with: pip install 'kumiai[claude-code]'"
NO_CREDENTIALS = (
    "no Claude credentials: set ANTHROPIC_API_KEY, log in to Claude Code (`claude login`) "
    "or set CLAUDE_CODE_OAUTH_TOKEN"
)


def select_runtime(settings: Settings) -> RuntimeSelection:
    """The runtime ``settings`` ask for and whether it can run, with the reason."""
    requested = settings.runtime
    if requested == ANTHROPIC:
        return _anthropic(settings) or _none(
            requested, "KUMIAI_RUNTIME=anthropic but ANTHROPIC_API_KEY is not set"
        )
    if requested == CLAUDE_CODE:
        return _claude_code(settings, requested)
    api = _anthropic(settings)
    if api is not None:
        return api
    login = claude_code_login(settings)
    if login is None:
        return _none(requested, NO_CREDENTIALS)
    return _claude_code(settings, requested)


def _anthropic(settings: Settings) -> RuntimeSelection | None:
    if not settings.claude_configured:
        return None
    return RuntimeSelection(
        requested=settings.runtime, active=ANTHROPIC, reason="ANTHROPIC_API_KEY is set"
    )


def _claude_code(settings: Settings, requested: str) -> RuntimeSelection:
    problem = claude_code_problem(settings)
    if problem is not None:
        return _none(requested, problem)
    # In Claude Code's own order: an API key wins over a token or a login.
    credential = (
        "ANTHROPIC_API_KEY is set" if settings.claude_configured else None
    ) or claude_code_login(settings)
    if credential is None:
        return _none(requested, f"Claude Code is installed but {NO_CREDENTIALS}")
    return RuntimeSelection(requested=requested, active=CLAUDE_CODE, reason=credential)


def _none(requested: str, reason: str) -> RuntimeSelection:
    return RuntimeSelection(requested=requested, active=None, reason=reason)


def claude_code_problem(settings: Settings) -> str | None:
    """Why Claude Code cannot be started at all, or None when it can."""
    if importlib.util.find_spec(SDK_MODULE) is None:
        return f"Claude Code runtime is not installed; {INSTALL_HINT}"
    cli = settings.claude_code_cli
    if cli is not None and not os.access(cli, os.X_OK):
        return f"KUMIAI_CLAUDE_CODE_CLI is not an executable file: {cli}"
    return None


def claude_code_login(settings: Settings) -> str | None:
    """How the user is signed in to Claude Code, or None when they are not."""
    token = settings.claude_code_oauth_token
    if token is not None and token.get_secret_value():
        return "CLAUDE_CODE_OAUTH_TOKEN is set"
    config_dir = claude_config_dir()
    credentials = config_dir / ".credentials.json"
    if credentials.is_file():
        return f"logged in to Claude Code ({credentials})"
    # Where the OS keychain holds the token (macOS), the account is still recorded here.
    account_file = _account_file(config_dir)
    if "oauthAccount" in read_json_object(account_file):
        return f"logged in to Claude Code ({account_file})"
    return None


def claude_config_dir() -> Path:
    """Claude Code's own folder: ``CLAUDE_CONFIG_DIR``, else ``~/.claude``."""
    configured = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".claude"


def _account_file(config_dir: Path) -> Path:
    if os.environ.get("CLAUDE_CONFIG_DIR"):
        return config_dir / ".claude.json"
    return Path.home() / ".claude.json"
