"""Domain entities: plain dataclasses holding the business rules, mapped by the ORM later."""

from kumiai.domain.entities.activity import ActivityEntry
from kumiai.domain.entities.character import Character
from kumiai.domain.entities.definition import Definition
from kumiai.domain.entities.message import (
    MAX_SEQUENCE,
    Message,
    synthetic_results_for,
    unanswered_tool_uses,
)
from kumiai.domain.entities.pending_input import PendingInput
from kumiai.domain.entities.project import Project
from kumiai.domain.entities.session import Session
from kumiai.domain.entities.skill import Skill
from kumiai.domain.entities.task import TASK_NAME_MAX_LENGTH, Task
from kumiai.domain.entities.user_profile import UserProfile, default_settings

__all__ = [
    "MAX_SEQUENCE",
    "TASK_NAME_MAX_LENGTH",
    "ActivityEntry",
    "Character",
    "Definition",
    "Message",
    "PendingInput",
    "Project",
    "Session",
    "Skill",
    "Task",
    "UserProfile",
    "default_settings",
    "synthetic_results_for",
    "unanswered_tool_uses",
]
