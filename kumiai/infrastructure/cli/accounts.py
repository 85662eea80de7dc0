"""``CliAccounts``: what each CLI's own files say about its user, read locally only.

- Claude Code: ``~/.claude.json`` (``KUMIAI_CLAUDE_CONFIG_FILE``: the signed-in
  account) and ``<CLAUDE_CONFIG_DIR or ~/.claude>/.credentials.json`` (the plan, as
  ``claudeAiOauth.subscriptionType``).
- Codex: ``$CODEX_HOME`` (else ``~/.codex``) ``/config.toml`` (model, reasoning effort)
  and ``auth.json`` (a ChatGPT sign-in or an API key).
- Gemini CLI: ``~/.gemini/settings.json`` (model) and ``~/.gemini/oauth_creds.json``.
- OpenCode: ``~/.config/opencode/opencode.json`` (model) and
  ``~/.local/share/opencode/auth.json`` (providers it has credentials for).

A missing or malformed file only means there is less to tell. Secrets are never
returned: an e-mail address comes back masked.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kumiai.application.ports.cli_backends import CliAccount
from kumiai.core.exceptions import ValidationError
from kumiai.infrastructure.filesystem.text_file import OptionalTextFile, read_json_object
from kumiai.infrastructure.runtime_selection import claude_config_dir

CLAUDE_PLANS = {"max": "MAX", "pro": "Pro", "team": "Team", "enterprise": "Enterprise"}
# Claude's subscriptions meter use in windows that reset five hours after they start.
CLAUDE_RESET_WINDOW = "5-hour rolling window"
AUTHENTICATED = "authenticated"
API_KEY = "api key"
NOT_CONFIGURED = "not configured"


class LocalCliAccounts:
    def __init__(self, claude_config_file: Path, *, api_key_set: bool) -> None:
        """``api_key_set``: whether KumiAI runs Claude with an ``ANTHROPIC_API_KEY``."""
        self._claude_config_file = claude_config_file
        self._api_key_set = api_key_set
        self._readers: dict[str, Callable[[], CliAccount]] = {
            "claude": self._claude,
            "codex": _codex,
            "gemini": _gemini,
            "opencode": _opencode,
        }

    def read(self, name: str) -> CliAccount:
        return self._readers[name]()

    def _claude(self) -> CliAccount:
        config = read_json_object(self._claude_config_file)
        credentials = _object(read_json_object(claude_config_dir() / ".credentials.json"))
        oauth = _object(credentials.get("claudeAiOauth"))
        account = _object(config.get("oauthAccount"))
        extra = {
            key: value
            for key, value in (
                ("organization", _text(account.get("organizationName"))),
                ("account", _masked(_text(account.get("emailAddress")))),
            )
            if value
        }
        tier = (_text(oauth.get("subscriptionType")) or "").lower()
        if tier:
            return CliAccount(
                plan=CLAUDE_PLANS.get(tier, tier.title()),
                plan_tier=tier,
                auth_status=AUTHENTICATED,
                dashboard_url="https://claude.ai/settings/usage",
                reset_window=CLAUDE_RESET_WINDOW,
                extra=extra,
            )
        if oauth.get("accessToken") or account:
            return CliAccount(auth_status=AUTHENTICATED, extra=extra)
        if self._api_key_set:
            return CliAccount(
                plan="API",
                plan_tier="api",
                auth_status=API_KEY,
                dashboard_url="https://console.anthropic.com/settings/usage",
            )
        return CliAccount()


def _codex() -> CliAccount:
    folder = Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex")
    config = _read_toml(folder / "config.toml")
    auth = read_json_object(folder / "auth.json")
    effort = _text(config.get("model_reasoning_effort"))
    extra = {"reasoning_effort": effort} if effort else {}
    model = _text(config.get("model"))
    if _object(auth.get("tokens")).get("access_token"):
        plan, tier, status = "ChatGPT", "subscription", AUTHENTICATED
    elif auth.get("OPENAI_API_KEY"):
        plan, tier, status = "API", "api", API_KEY
    else:
        return CliAccount(configured_model=model, extra=extra)
    return CliAccount(
        plan=plan,
        plan_tier=tier,
        auth_status=status,
        dashboard_url="https://platform.openai.com/usage",
        configured_model=model,
        extra=extra,
    )


def _gemini() -> CliAccount:
    folder = Path.home() / ".gemini"
    chosen = read_json_object(folder / "settings.json").get("model")
    # Older releases store the model's name, newer ones an object holding it.
    model = _text(_object(chosen).get("name")) if isinstance(chosen, dict) else _text(chosen)
    signed_in = bool(read_json_object(folder / "oauth_creds.json").get("access_token"))
    return CliAccount(
        plan="Google AI",
        auth_status=AUTHENTICATED if signed_in else NOT_CONFIGURED,
        dashboard_url="https://aistudio.google.com/apikey",
        configured_model=model,
    )


def _opencode() -> CliAccount:
    home = Path.home()
    model = _text(read_json_object(home / ".config/opencode/opencode.json").get("model"))
    providers = sorted(read_json_object(home / ".local/share/opencode/auth.json"))
    return CliAccount(
        plan="Open Source",
        plan_tier="oss",
        auth_status="configured" if providers else NOT_CONFIGURED,
        configured_model=model,
        extra={"providers": ", ".join(providers)} if providers else {},
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = OptionalTextFile(path).read()
        return tomllib.loads(text) if text is not None else {}
    except (ValidationError, ValueError):  # unreadable, or not TOML
        return {}


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _masked(email: str | None) -> str | None:
    """``d***@example.com``: enough to recognise one's account, not to read it off."""
    if email is None:
        return None
    name, at, domain = email.partition("@")
    return f"{name[0]}***@{domain}" if at and name else "***"
