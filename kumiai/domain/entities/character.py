"""The Character entity: an agent definition indexed from its ``agent.md``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from kumiai.domain.entities._rules import (
    SoftDeletable,
    clean_labels,
    normalise_edits,
    optional_text,
    require_text,
    unique,
)
from kumiai.domain.value_objects.identifiers import (
    validate_hex_color,
    validate_name,
    validate_slug,
)

DEFAULT_ROLE = "specialist"
DEFAULT_ICON_COLOR = "#4A90E2"


def _skill_slugs(values: Iterable[str]) -> list[str]:
    return unique(validate_slug(value, field="skills") for value in values)


# How each user-editable field is validated; the slug and file path are not editable
# because they name the character's folder on disk.
_EDITABLE: Mapping[str, Callable[[Any], Any]] = {
    "name": validate_name,
    "role": partial(validate_name, field="role"),
    "description": optional_text,
    "avatar_url": optional_text,
    "skills": _skill_slugs,
    "default_model": optional_text,
    "allowed_tools": clean_labels,
    "allowed_mcps": clean_labels,
    "tags": clean_labels,
    "icon_color": validate_hex_color,
}


def _normalise(changes: Mapping[str, Any]) -> dict[str, Any]:
    return normalise_edits("character", _EDITABLE, changes)


@dataclass(eq=False, kw_only=True)
class Character(SoftDeletable):
    """An agent definition: its prompt lives in ``agent.md``; this row indexes it."""

    id: UUID = field(default_factory=uuid4)
    slug: str
    name: str
    role: str = DEFAULT_ROLE
    description: str | None = None
    file_path: str
    avatar_url: str | None = None
    skills: list[str] = field(default_factory=list)
    default_model: str | None = None
    allowed_tools: list[str] = field(default_factory=list)
    allowed_mcps: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    icon_color: str = DEFAULT_ICON_COLOR
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None

    @classmethod
    def create(
        cls,
        *,
        slug: str,
        name: str,
        file_path: str,
        role: str = DEFAULT_ROLE,
        description: str | None = None,
        avatar_url: str | None = None,
        skills: Iterable[str] = (),
        default_model: str | None = None,
        allowed_tools: Iterable[str] = (),
        allowed_mcps: Iterable[str] = (),
        tags: Iterable[str] = (),
        icon_color: str = DEFAULT_ICON_COLOR,
    ) -> Character:
        """A new, validated character."""
        fields = _normalise(
            {
                "name": name,
                "role": role,
                "description": description,
                "avatar_url": avatar_url,
                "skills": skills,
                "default_model": default_model,
                "allowed_tools": allowed_tools,
                "allowed_mcps": allowed_mcps,
                "tags": tags,
                "icon_color": icon_color,
            }
        )
        return cls(
            slug=validate_slug(slug),
            file_path=require_text(file_path, "file_path"),
            **fields,
        )

    def update(self, **changes: Any) -> None:
        """Apply edits to editable fields; nothing changes unless every value is valid."""
        for name, value in _normalise(changes).items():
            setattr(self, name, value)
