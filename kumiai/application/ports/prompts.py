"""Reading prompt text that lives in files (agent.md bodies, SKILL.md)."""

from __future__ import annotations

from typing import Protocol


class PromptSource(Protocol):
    def character_body(self, slug: str) -> str:
        """The prompt body of ``characters/<slug>/agent.md`` (no front matter); '' if absent."""
        ...

    def skill_text(self, slug: str) -> str:
        """The full ``skills/<slug>/SKILL.md``; raises NotFoundError if absent."""
        ...
