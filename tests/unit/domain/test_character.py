"""The Character entity: validated creation, editable fields, soft delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import Character

NOW = datetime(2025, 1, 2, tzinfo=UTC)


def make(**overrides: Any) -> Character:
    fields: dict[str, Any] = {
        "slug": "code-reviewer",
        "name": "Code Reviewer",
        "file_path": "/home/me/.kumiai/characters/code-reviewer/agent.md",
    }
    return Character.create(**{**fields, **overrides})


def test_new_character_gets_defaults() -> None:
    character = make()

    assert character.role == "specialist"
    assert character.icon_color == "#4A90E2"
    assert character.description is None
    assert character.skills == []
    assert character.allowed_tools == []
    assert character.allowed_mcps == []
    assert character.tags == []
    assert character.default_model is None
    assert character.avatar_url is None
    assert character.created_at is None
    assert not character.is_deleted


def test_create_normalises_every_field() -> None:
    character = make(
        name="  Code Reviewer ",
        role=" reviewer ",
        description="  ",
        avatar_url=" /avatars/cr.png ",
        skills=["git", "python", "git"],
        default_model=" claude-sonnet ",
        allowed_tools=["Read", " Read ", "", "Grep"],
        allowed_mcps=["github"],
        tags=(" review ", "review", "qa"),
        icon_color="#abcdef",
    )

    assert character.name == "Code Reviewer"
    assert character.role == "reviewer"
    assert character.description is None
    assert character.avatar_url == "/avatars/cr.png"
    assert character.skills == ["git", "python"]
    assert character.default_model == "claude-sonnet"
    assert character.allowed_tools == ["Read", "Grep"]
    assert character.allowed_mcps == ["github"]
    assert character.tags == ["review", "qa"]
    assert character.icon_color == "#abcdef"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "Code Reviewer"),
        ("name", "  "),
        ("role", ""),
        ("icon_color", "blue"),
        ("skills", ["Not A Slug"]),
        ("file_path", "  "),
    ],
)
def test_create_rejects_invalid_values(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        make(**{field: value})


def test_update_changes_only_the_given_fields() -> None:
    character = make(tags=["old"])

    character.update(name=" Reviewer ", tags=["new", "new"], icon_color="#123456")

    assert character.name == "Reviewer"
    assert character.tags == ["new"]
    assert character.icon_color == "#123456"
    assert character.role == "specialist"


def test_update_can_clear_optional_text() -> None:
    character = make(description="Reviews code")

    character.update(description=None)

    assert character.description is None


@pytest.mark.parametrize("field", ["slug", "file_path", "id", "deleted_at", "nickname"])
def test_update_refuses_fields_that_are_not_editable(field: str) -> None:
    character = make()

    with pytest.raises(ValidationError) as caught:
        character.update(**{field: "x"})

    assert caught.value.details == {"fields": [field]}


def test_update_with_one_bad_value_changes_nothing() -> None:
    character = make()

    with pytest.raises(ValidationError):
        character.update(name="New name", icon_color="nope")

    assert character.name == "Code Reviewer"


def test_soft_delete_keeps_the_first_timestamp() -> None:
    character = make()

    character.soft_delete(NOW)
    character.soft_delete(datetime(2030, 1, 1, tzinfo=UTC))

    assert character.is_deleted
    assert character.deleted_at == NOW


@pytest.mark.parametrize("backend", ["claude", "codex", "gemini", "opencode"])
def test_every_known_cli_backend_is_accepted(backend: str) -> None:
    assert make(cli_backend=backend).cli_backend == backend
    assert make().cli_backend == "claude"


@pytest.mark.parametrize("backend", ["cursor", "Codex", " codex", ""])
def test_an_unknown_cli_backend_is_refused_by_create_and_update(backend: str) -> None:
    with pytest.raises(ValidationError) as refused:
        make(cli_backend=backend)
    assert refused.value.details["field"] == "cli_backend"
    assert refused.value.details["allowed"] == ["claude", "codex", "gemini", "opencode"]

    character = make(cli_backend="codex")
    with pytest.raises(ValidationError):
        character.update(cli_backend=backend)
    assert character.cli_backend == "codex"
