"""The Skill entity: validated creation, editable fields, soft delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import Skill

NOW = datetime(2025, 1, 2, tzinfo=UTC)


def make(**overrides: Any) -> Skill:
    fields: dict[str, Any] = {
        "slug": "git-workflow",
        "name": "Git workflow",
        "file_path": "/home/me/.kumiai/skills/git-workflow",
    }
    return Skill.create(**{**fields, **overrides})


def test_new_skill_gets_defaults() -> None:
    skill = make()

    assert skill.description == ""
    assert skill.tags == []
    assert skill.icon == "zap"
    assert skill.icon_color == "#4A90E2"
    assert skill.license == "MIT"
    assert not skill.is_deleted


def test_create_normalises_every_field() -> None:
    skill = make(
        name=" Git workflow ",
        description="  Branch, commit, PR.  ",
        tags=["git", " git", "vcs", " "],
        icon=" git-branch ",
        icon_color="#00FF00",
        license=" Apache-2.0 ",
    )

    assert skill.name == "Git workflow"
    assert skill.description == "Branch, commit, PR."
    assert skill.tags == ["git", "vcs"]
    assert skill.icon == "git-branch"
    assert skill.icon_color == "#00FF00"
    assert skill.license == "Apache-2.0"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "git_workflow"),
        ("name", ""),
        ("icon", " "),
        ("icon_color", "#12345"),
        ("license", ""),
        ("file_path", ""),
    ],
)
def test_create_rejects_invalid_values(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        make(**{field: value})


def test_update_changes_only_the_given_fields() -> None:
    skill = make()

    skill.update(description="New text", tags=["a"])

    assert skill.description == "New text"
    assert skill.tags == ["a"]
    assert skill.name == "Git workflow"


@pytest.mark.parametrize("field", ["slug", "file_path", "created_at"])
def test_update_refuses_fields_that_are_not_editable(field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make().update(**{field: "x"})

    assert caught.value.details == {"fields": [field]}


def test_update_with_one_bad_value_changes_nothing() -> None:
    skill = make()

    with pytest.raises(ValidationError):
        skill.update(description="changed", name=" ")

    assert skill.description == ""


def test_soft_delete_keeps_the_first_timestamp() -> None:
    skill = make()

    skill.soft_delete(NOW)
    skill.soft_delete(datetime(2030, 1, 1, tzinfo=UTC))

    assert skill.is_deleted
    assert skill.deleted_at == NOW
