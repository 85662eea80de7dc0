"""KUMIAI_RUNTIME picks the API or Claude Code, and always says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kumiai.core.config import load_settings
from kumiai.infrastructure import runtime_selection
from kumiai.infrastructure.runtime_selection import select_runtime


@pytest.fixture
def claude_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "claude-config"
    folder.mkdir()
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(folder))
    return folder


def test_auto_uses_the_api_when_a_key_is_configured(claude_dir: Path) -> None:
    (claude_dir / ".credentials.json").write_text("{}")
    selection = select_runtime(load_settings(ANTHROPIC_API_KEY="sk-ant-x", _env_file=None))
    assert (selection.active, selection.reason) == ("anthropic", "ANTHROPIC_API_KEY is set")


def test_auto_uses_claude_code_when_the_user_is_logged_in_there(claude_dir: Path) -> None:
    (claude_dir / ".credentials.json").write_text("{}")
    selection = select_runtime(load_settings(_env_file=None))
    assert selection.active == "claude-code"
    assert str(claude_dir / ".credentials.json") in selection.reason


def test_a_login_kept_in_the_keychain_is_recognised_by_the_account_record(
    claude_dir: Path,
) -> None:
    (claude_dir / ".claude.json").write_text(json.dumps({"oauthAccount": {"emailAddress": "a"}}))
    assert select_runtime(load_settings(_env_file=None)).active == "claude-code"


def test_auto_uses_claude_code_with_an_oauth_token(claude_dir: Path) -> None:
    settings = load_settings(CLAUDE_CODE_OAUTH_TOKEN="sk-ant-oat-x", _env_file=None)
    selection = select_runtime(settings)
    assert (selection.active, selection.reason) == ("claude-code", "CLAUDE_CODE_OAUTH_TOKEN is set")


def test_without_any_credentials_nothing_is_active_and_the_reason_says_what_to_do(
    claude_dir: Path,
) -> None:
    selection = select_runtime(load_settings(_env_file=None))
    assert selection.active is None and not selection.available
    assert "ANTHROPIC_API_KEY" in selection.reason and "claude login" in selection.reason


def test_forcing_the_api_without_a_key_is_unavailable(claude_dir: Path) -> None:
    (claude_dir / ".credentials.json").write_text("{}")
    selection = select_runtime(load_settings(runtime="anthropic", _env_file=None))
    assert selection.active is None
    assert "ANTHROPIC_API_KEY is not set" in selection.reason


def test_forcing_claude_code_accepts_an_api_key_as_its_credential(claude_dir: Path) -> None:
    settings = load_settings(runtime="claude-code", ANTHROPIC_API_KEY="sk-ant-x", _env_file=None)
    selection = select_runtime(settings)
    assert (selection.requested, selection.active) == ("claude-code", "claude-code")
    assert selection.reason == "ANTHROPIC_API_KEY is set"


def test_a_configured_cli_that_does_not_exist_makes_claude_code_unavailable(
    claude_dir: Path, tmp_path: Path
) -> None:
    settings = load_settings(
        runtime="claude-code",
        CLAUDE_CODE_OAUTH_TOKEN="sk-ant-oat-x",
        claude_code_cli=tmp_path / "no-such-claude",
        _env_file=None,
    )
    selection = select_runtime(settings)
    assert selection.active is None
    assert "KUMIAI_CLAUDE_CODE_CLI" in selection.reason


def test_without_the_sdk_installed_the_reason_names_the_extra(
    claude_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime_selection, "SDK_MODULE", "kumiai_no_such_sdk")
    settings = load_settings(CLAUDE_CODE_OAUTH_TOKEN="sk-ant-oat-x", _env_file=None)
    selection = select_runtime(settings)
    assert selection.active is None
    assert "kumiai[claude-code]" in selection.reason


def test_an_unknown_runtime_name_is_a_configuration_error() -> None:
    with pytest.raises(Exception, match="KUMIAI_RUNTIME"):
        load_settings(runtime="gpt", _env_file=None)
