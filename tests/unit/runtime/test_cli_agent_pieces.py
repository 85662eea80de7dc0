"""The pure pieces of the agent CLI runtimes: model choice, TOML values, config merging."""

from __future__ import annotations

import tomllib

import pytest

from kumiai.infrastructure.cli_agents.codex import toml_string
from kumiai.infrastructure.cli_agents.opencode import merged
from kumiai.infrastructure.cli_agents.runtime import BackendModels

CODEX_MODELS = BackendModels(("gpt-5.3-codex", "o3"))


@pytest.mark.parametrize(
    ("models", "requested", "chosen"),
    [
        (CODEX_MODELS, "o3", "o3"),
        (CODEX_MODELS, "claude-sonnet-4-6", "gpt-5.3-codex"),
        (CODEX_MODELS, "gpt-4-unknown", "gpt-5.3-codex"),
        (BackendModels(), "provider/some-model", "provider/some-model"),
        (BackendModels(), "claude-sonnet-4-6", None),
    ],
)
def test_a_backend_runs_its_own_models_and_its_default_for_any_other(
    models: BackendModels, requested: str, chosen: str | None
) -> None:
    assert models.choose(requested) == chosen


@pytest.mark.parametrize(
    "text",
    ['say "hi"\nthen \\ go', "tab\there, bell\x07, del\x7f", "ünïcode ✓ 😀", ""],
)
def test_any_text_survives_as_a_toml_string(text: str) -> None:
    assert tomllib.loads(f"value = {toml_string(text)}")["value"] == text


def test_extra_opencode_settings_merge_into_kumiai_s_key_by_key() -> None:
    ours = {"permission": {"edit": "allow", "bash": "deny"}, "share": "disabled"}

    result = merged(ours, {"permission": {"bash": "ask"}, "provider": {"x": {}}})

    assert result == {
        "permission": {"edit": "allow", "bash": "ask"},
        "share": "disabled",
        "provider": {"x": {}},
    }
