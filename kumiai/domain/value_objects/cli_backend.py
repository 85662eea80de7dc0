"""Which agent CLI runs a character's sessions."""

from __future__ import annotations

from enum import StrEnum

from kumiai.core.exceptions import ValidationError


class CliBackend(StrEnum):
    """The CLI an agent runs on, as the KumiAI client names it. A session takes its
    character's backend when it is created and keeps it."""

    CLAUDE = "claude"
    CODEX = "codex"
    GEMINI = "gemini"
    OPENCODE = "opencode"

    @classmethod
    def parse(cls, value: str, field: str = "cli_backend") -> CliBackend:
        """The backend named exactly by ``value``; 422 naming ``field`` otherwise."""
        try:
            return cls(value)
        except ValueError:
            allowed = [str(backend) for backend in cls]
            raise ValidationError(
                f"unknown cli_backend {value!r}: use one of {', '.join(allowed)}",
                details={"field": field, "value": str(value), "allowed": allowed},
            ) from None
