"""The Skill entity: a reusable instruction pack indexed from its ``SKILL.md`` folder."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from kumiai.domain.entities._rules import SoftDeletable, clean_labels, normalise_edits, require_text
from kumiai.domain.value_objects.identifiers import (
    validate_hex_color,
    validate_name,
    validate_slug,
)

DEFAULT_ICON = "zap"
DEFAULT_ICON_COLOR = "#4A90E2"
DEFAULT_LICENSE = "MIT"


def _description(value: str) -> str:
    return value.strip()


# The slug and file path name the skill's folder on disk, so they are not editable.
_EDITABLE: Mapping[str, Callable[[Any], Any]] = {
    "name": validate_name,
    "description": _description,
    "tags": clean_labels,
    "icon": partial(validate_name, field="icon"),
    "icon_color": validate_hex_color,
    "license": partial(validate_name, field="license"),
}


def _normalise(changes: Mapping[str, Any]) -> dict[str, Any]:
    return normalise_edits("skill", _EDITABLE, changes)


@dataclass(eq=False, kw_only=True)
class Skill(SoftDeletable):
    """A folder in Claude's skill format; ``file_path`` is the folder holding ``SKILL.md``."""

    id: UUID = field(default_factory=uuid4)
    slug: str
    name: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    file_path: str
    icon: str = DEFAULT_ICON
    icon_color: str = DEFAULT_ICON_COLOR
    license: str = DEFAULT_LICENSE
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
        description: str = "",
        tags: Iterable[str] = (),
        icon: str = DEFAULT_ICON,
        icon_color: str = DEFAULT_ICON_COLOR,
        license: str = DEFAULT_LICENSE,
    ) -> Skill:
        """A new, validated skill."""
        fields = _normalise(
            {
                "name": name,
                "description": description,
                "tags": tags,
                "icon": icon,
                "icon_color": icon_color,
                "license": license,
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
