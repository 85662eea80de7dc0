"""Which agent CLI runs a character's sessions."""

from __future__ import annotations

from enum import StrEnum

from kumiai.domain.value_objects.choices import parse_member


class CliBackend(StrEnum):
    """The CLI an agent runs on, as the KumiAI client names it. A session takes its
    character's backend when it is created and keeps it."""

    CLAUDE = "claude"
    CODEX = "codex"
    GEMINI = "gemini"
    OPENCODE = "opencode"

    @property
    def label(self) -> str:
        """Its name for people: ``Gemini CLI``."""
        return _LABELS[self]

    @property
    def runs_kumiai_tools(self) -> bool:
        """Whether its agents call KumiAI's tools (orchestration, KumiAI's file tools, the
        MCP servers KumiAI runs); another CLI's agents use that CLI's own tools."""
        return self is CliBackend.CLAUDE

    @classmethod
    def parse(cls, value: str, field: str = "cli_backend") -> CliBackend:
        """The backend named exactly by ``value``; 422 naming ``field`` otherwise."""
        return parse_member(cls, value, field=field, noun="cli_backend")


_LABELS = {
    CliBackend.CLAUDE: "Claude",
    CliBackend.CODEX: "Codex",
    CliBackend.GEMINI: "Gemini CLI",
    CliBackend.OPENCODE: "OpenCode",
}
