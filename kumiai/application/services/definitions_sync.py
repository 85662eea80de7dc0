"""Re-index characters and skills from their folders (at start-up and on request)."""

from __future__ import annotations

from kumiai.application.dtos.files import ReindexReport
from kumiai.application.services.characters import CharacterService
from kumiai.application.services.skills import SkillService


class DefinitionSyncService:
    def __init__(self, characters: CharacterService, skills: SkillService) -> None:
        self._characters = characters
        self._skills = skills

    async def reindex(self) -> ReindexReport:
        """Bring the rows in line with the folders on disk.

        Skills go first, so a character added by hand may list a skill added with it.
        """
        skills = await self._skills.reindex()
        characters = await self._characters.reindex()
        return ReindexReport(skills=skills, characters=characters)
