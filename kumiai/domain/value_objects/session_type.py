"""The kinds of session a user can run."""

from __future__ import annotations

from enum import StrEnum


class SessionType(StrEnum):
    """What a session is for; decides whether it needs a project and a character.

    ``agent_assistant`` and ``skill_assistant`` exist for the v1 client, which runs helper
    sessions that edit a character or a skill.
    """

    PM = "pm"
    SPECIALIST = "specialist"
    ASSISTANT = "assistant"
    AGENT_ASSISTANT = "agent_assistant"
    SKILL_ASSISTANT = "skill_assistant"

    @property
    def is_assistant(self) -> bool:
        """True for the general-help kinds, which may run without a project or character."""
        return self in _ASSISTANTS

    @property
    def needs_project(self) -> bool:
        """PM and specialist sessions work inside a project folder."""
        return not self.is_assistant

    @property
    def needs_character(self) -> bool:
        """PM and specialist sessions act as a character from the project's team."""
        return not self.is_assistant


_ASSISTANTS = frozenset(
    {SessionType.ASSISTANT, SessionType.AGENT_ASSISTANT, SessionType.SKILL_ASSISTANT}
)
