"""Settings come from KUMIAI_* variables, and a bad value is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kumiai.core.config import DEFAULT_CLI_MODELS, load_settings
from kumiai.core.exceptions import ConfigurationError


def test_defaults_bind_to_localhost_on_7892_with_the_home_under_the_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("KUMIAI_HOME", "KUMIAI_HOST", "KUMIAI_PORT", "KUMIAI_CORS_ORIGINS"):
        monkeypatch.delenv(variable, raising=False)
    settings = load_settings(_env_file=None)
    assert settings.host == "127.0.0.1"
    assert settings.port == 7892
    assert settings.home == Path.home() / ".kumiai"
    assert "http://localhost:1420" in settings.cors_origins


def test_environment_variables_use_the_kumiai_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUMIAI_PORT", "8000")
    monkeypatch.setenv("KUMIAI_CORS_ORIGINS", "http://a.test, http://b.test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    settings = load_settings(_env_file=None)
    assert settings.port == 8000
    assert settings.cors_origins == ["http://a.test", "http://b.test"]
    assert settings.claude_configured


def test_lists_may_also_be_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUMIAI_ALLOWED_HOSTS", '["kumi.local"]')
    assert "kumi.local" in load_settings(_env_file=None).trusted_hosts


def test_a_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("KUMIAI_LOG_LEVEL=debug\n")
    assert load_settings(_env_file=str(env_file)).log_level == "debug"


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"port": 0}, "KUMIAI_PORT"),
        ({"log_format": "xml"}, "KUMIAI_LOG_FORMAT"),
        ({"database_url": "sqlite:///x.db"}, "KUMIAI_DATABASE_URL"),
        ({"db_pool_size": 0}, "KUMIAI_DB_POOL_SIZE"),
    ],
)
def test_a_bad_value_names_its_variable_in_one_line(overrides: dict, variable: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigurationError) as caught:
        load_settings(_env_file=None, **overrides)
    assert variable in caught.value.message
    assert "\n" not in caught.value.message


def test_a_blank_database_url_means_the_embedded_server() -> None:
    settings = load_settings(database_url="  ", _env_file=None)
    assert settings.uses_embedded_database
    assert settings.pgdata_dir == settings.home / "pgdata"


def test_a_wildcard_bind_address_is_not_a_trusted_host_header() -> None:
    assert "0.0.0.0" not in load_settings(host="0.0.0.0", _env_file=None).trusted_hosts


@pytest.mark.parametrize(
    "origins",
    ["*", "http://localhost:1420,*", "http://localhost:1420/", "localhost:1420", "null"],
)
def test_cors_origins_must_be_explicit_origins(
    origins: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The web client sends credentials: a wildcard would hand every page the answers.
    monkeypatch.setenv("KUMIAI_CORS_ORIGINS", origins)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(_env_file=None)
    assert caught.value.message.startswith("invalid configuration: KUMIAI_CORS_ORIGINS: ")
    assert "\n" not in caught.value.message


def test_the_cli_settings_name_each_backends_executable_and_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUMIAI_CODEX_CLI", str(tmp_path / "codex"))
    monkeypatch.setenv("KUMIAI_CODEX_MODELS", "o3, o4-mini")
    monkeypatch.setenv("KUMIAI_OPENCODE_MODELS", "")
    settings = load_settings(_env_file=None, claude_code_cli=tmp_path / "claude")

    assert settings.cli_paths() == {
        "claude": tmp_path / "claude",
        "codex": tmp_path / "codex",
        "gemini": None,
        "opencode": None,
    }
    assert settings.cli_models() == {
        "codex": ["o3", "o4-mini"],
        "gemini": list(DEFAULT_CLI_MODELS["gemini"]),
        "opencode": [],
    }
