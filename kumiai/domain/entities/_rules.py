"""Small field rules shared by the entities (private to the entities package)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, auto
from typing import Any, TypeVar
from uuid import UUID, uuid4

from kumiai.core.exceptions import ValidationError

_H = TypeVar("_H", bound=Hashable)


class Unset(Enum):
    """Marks an argument the caller left out, so ``None`` can still mean "clear it"."""

    UNSET = auto()


UNSET = Unset.UNSET


def unique(values: Iterable[_H]) -> list[_H]:
    """The values without repeats, in first-seen order."""
    return list(dict.fromkeys(values))


def clean_labels(values: Iterable[str]) -> list[str]:
    """Strip each label and drop blanks and repeats (tags, tool names, ...)."""
    return unique(stripped for stripped in (value.strip() for value in values) if stripped)


def optional_text(value: str | None) -> str | None:
    """Strip free text; a blank value means "none"."""
    if value is None:
        return None
    return value.strip() or None


def require_text(value: str, field: str) -> str:
    """Strip a mandatory text value that has no length limit (e.g. a path)."""
    stripped = value.strip()
    if not stripped:
        raise ValidationError(f"{field} must not be empty", details={"field": field})
    return stripped


def normalise_edits(
    entity: str, rules: Mapping[str, Callable[[Any], Any]], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate ``changes`` with the per-field ``rules``; unknown fields are an error."""
    unknown = sorted(set(changes) - set(rules))
    if unknown:
        raise ValidationError(
            f"{entity} fields cannot be edited: {', '.join(unknown)}",
            details={"fields": unknown},
        )
    return {name: rules[name](value) for name, value in changes.items()}


@dataclass(eq=False, kw_only=True)
class SoftDeletable:
    """An entity with an id, the timestamps the database keeps, and soft deletion."""

    id: UUID = field(default_factory=uuid4)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None

    def soft_delete(self, now: datetime) -> None:
        """Hide the entity; a second delete keeps the first timestamp."""
        if self.deleted_at is None:
            self.deleted_at = now

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
