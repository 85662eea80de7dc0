"""The Skill entity: a reusable instruction pack indexed from its ``SKILL.md`` folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

from kumiai.domain.entities._rules import clean_labels
from kumiai.domain.entities.definition import Definition, editable
from kumiai.domain.value_objects.identifiers import validate_hex_color, validate_name

DEFAULT_ICON = "zap"
DEFAULT_ICON_COLOR = "#4A90E2"
DEFAULT_LICENSE = "MIT"


def _description(value: str) -> str:
    return value.strip()


@dataclass(eq=False, kw_only=True)
class Skill(Definition):
    """A folder in Claude's skill format; ``file_path`` is the folder holding ``SKILL.md``.

    The fields are declared in the order ``SKILL.md`` writes them.
    """

    label: ClassVar[str] = "skill"

    description: str = field(default="", metadata=editable(_description))
    tags: list[str] = field(default_factory=list, metadata=editable(clean_labels))
    icon: str = field(default=DEFAULT_ICON, metadata=editable(partial(validate_name, field="icon")))
    icon_color: str = field(default=DEFAULT_ICON_COLOR, metadata=editable(validate_hex_color))
    license: str = field(
        default=DEFAULT_LICENSE, metadata=editable(partial(validate_name, field="license"))
    )
