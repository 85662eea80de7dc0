"""The port that reads and writes the main document of a definition folder.

``agent.md`` and ``SKILL.md`` are Markdown with YAML front matter. The application
sees them as the entity's field values plus the body; the YAML handling lives in
``kumiai.infrastructure.filesystem``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class DefinitionDocument:
    """A main document split into entity fields, the Markdown body and unknown keys.

    ``fields`` is keyed by the entity's attribute names (``avatar_url``, not the
    file's ``avatar``). ``extra`` holds front-matter keys KumiAI does not know, so a
    rewrite keeps what a person or another tool put there.
    """

    fields: dict[str, Any]
    body: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class DocumentCodec(Protocol):
    """A main document's format; its fields are the entity's editable fields."""

    def parse(self, text: str, *, source: str) -> DefinitionDocument:
        """Split ``text``; ``ValidationError`` naming ``source`` for a malformed header."""
        ...

    def render(self, document: DefinitionDocument) -> str:
        """The text of ``document``, front matter first, then the body."""
        ...
