from __future__ import annotations

from kumiai.core.exceptions import KumiAIError, NotFoundError
from kumiai.infrastructure.filesystem.documents import AGENT_FORMAT
from kumiai.infrastructure.filesystem.stores import DefinitionFolderStore


class FolderPromptSource:
    """Prompt text straight from the character and skill folders."""

    def __init__(self, characters: DefinitionFolderStore, skills: DefinitionFolderStore) -> None:
        self._characters = characters
        self._skills = skills

    def character_body(self, slug: str) -> str:
        try:
            return AGENT_FORMAT.parse(self._characters.read_main(slug)).body
        except KumiAIError:
            # A missing or broken agent.md must not stop the agent from answering.
            return ""

    def skill_text(self, slug: str) -> str:
        if not self._skills.exists(slug):
            raise NotFoundError("skill", slug)
        return self._skills.read_main(slug)
