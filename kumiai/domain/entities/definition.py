"""What characters and skills share: a folder on disk named by its slug, indexed by a row.

A definition's fields are declared once, on its dataclass. Each field a person may
edit carries :func:`editable` metadata, which attaches the rule that validates it;
everything that handles a definition's fields (creating and editing it, its main
document, the views, the v1 importer) reads that declaration through
:meth:`Definition.editable_fields` instead of listing the fields again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any, ClassVar, Self

from kumiai.domain.entities._rules import SoftDeletable, normalise_edits, require_text
from kumiai.domain.value_objects.identifiers import validate_name, validate_slug

_RULE = "kumiai.rule"


def editable(rule: Callable[[Any], Any]) -> Mapping[str, Any]:
    """The metadata of a field a person may edit: ``field(..., metadata=editable(rule))``.

    ``rule`` validates and normalises each new value."""
    return {_RULE: rule}


@dataclass(eq=False, kw_only=True)
class Definition(SoftDeletable):
    """A character or a skill. The slug and file path name the folder, so they are not
    editable; every other field carries :func:`editable` metadata."""

    # Names the kind in errors and activity rows: "character", "skill".
    label: ClassVar[str]

    slug: str
    name: str = field(metadata=editable(validate_name))
    file_path: str

    @classmethod
    def editable_fields(cls) -> tuple[Field[Any], ...]:
        """The editable fields, in the order they are declared (and written to files)."""
        return tuple(item for item in fields(cls) if _RULE in item.metadata)

    @classmethod
    def create(cls, *, slug: str, file_path: str, **values: Any) -> Self:
        """A new, validated definition; fields left out take their declared defaults."""
        return cls(
            slug=validate_slug(slug),
            file_path=require_text(file_path, "file_path"),
            **cls._normalise(values),
        )

    def update(self, **changes: Any) -> None:
        """Apply edits to editable fields; nothing changes unless every value is valid."""
        for name, value in self._normalise(changes).items():
            setattr(self, name, value)

    def values(self) -> dict[str, Any]:
        """The editable fields' current values, by name."""
        return {item.name: getattr(self, item.name) for item in self.editable_fields()}

    @classmethod
    def _normalise(cls, changes: Mapping[str, Any]) -> dict[str, Any]:
        rules = {item.name: item.metadata[_RULE] for item in cls.editable_fields()}
        return normalise_edits(cls.label, rules, changes)
