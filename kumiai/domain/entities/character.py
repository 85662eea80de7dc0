"""The Character entity: an agent definition indexed from its ``agent.md``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

from kumiai.domain.entities._rules import clean_labels, optional_text, unique
from kumiai.domain.entities.definition import Definition, editable
from kumiai.domain.value_objects.cli_backend import CliBackend
from kumiai.domain.value_objects.identifiers import (
    validate_hex_color,
    validate_name,
    validate_slug,
)

DEFAULT_ROLE = "specialist"
DEFAULT_ICON_COLOR = "#4A90E2"


def _skill_slugs(values: Iterable[str]) -> list[str]:
    return unique(validate_slug(value, field="skills") for value in values)


@dataclass(eq=False, kw_only=True)
class Character(Definition):
    """An agent definition: its prompt lives in ``agent.md``; this row indexes it.

    The fields are declared in the order ``agent.md`` writes them.
    """

    label: ClassVar[str] = "character"

    role: str = field(default=DEFAULT_ROLE, metadata=editable(partial(validate_name, field="role")))
    description: str | None = field(default=None, metadata=editable(optional_text))
    cli_backend: CliBackend = field(default=CliBackend.CLAUDE, metadata=editable(CliBackend.parse))
    default_model: str | None = field(default=None, metadata=editable(optional_text))
    skills: list[str] = field(default_factory=list, metadata=editable(_skill_slugs))
    allowed_tools: list[str] = field(default_factory=list, metadata=editable(clean_labels))
    allowed_mcps: list[str] = field(default_factory=list, metadata=editable(clean_labels))
    tags: list[str] = field(default_factory=list, metadata=editable(clean_labels))
    icon_color: str = field(default=DEFAULT_ICON_COLOR, metadata=editable(validate_hex_color))
    avatar_url: str | None = field(default=None, metadata=editable(optional_text))
