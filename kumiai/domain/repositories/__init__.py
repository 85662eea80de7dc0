"""Repository interfaces (ports); the database adapters implement them."""

from kumiai.domain.repositories.interfaces import (
    ActivityFilter,
    ActivityLogRepository,
    CharacterRepository,
    Clock,
    DefinitionFilter,
    MessageRepository,
    PendingInputRepository,
    ProjectRepository,
    SessionFilter,
    SessionRepository,
    SkillRepository,
    SortOrder,
    UserProfileRepository,
)
from kumiai.domain.repositories.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Page,
    PageRequest,
    decode_cursor,
    encode_cursor,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "ActivityFilter",
    "ActivityLogRepository",
    "CharacterRepository",
    "Clock",
    "DefinitionFilter",
    "MessageRepository",
    "Page",
    "PageRequest",
    "PendingInputRepository",
    "ProjectRepository",
    "SessionFilter",
    "SessionRepository",
    "SkillRepository",
    "SortOrder",
    "UserProfileRepository",
    "decode_cursor",
    "encode_cursor",
]
