"""Repository interfaces (ports); the database adapters implement them."""

from kumiai.domain.repositories.interfaces import (
    ActivityFilter,
    ActivityLogRepository,
    Clock,
    DefinitionFilter,
    DefinitionRepository,
    LockedQueue,
    MessageRepository,
    PendingInputRepository,
    ProjectRepository,
    SessionFilter,
    SessionRepository,
    SortOrder,
    TaskRepository,
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
    "Clock",
    "DefinitionFilter",
    "DefinitionRepository",
    "LockedQueue",
    "MessageRepository",
    "Page",
    "PageRequest",
    "PendingInputRepository",
    "ProjectRepository",
    "SessionFilter",
    "SessionRepository",
    "SortOrder",
    "TaskRepository",
    "UserProfileRepository",
    "decode_cursor",
    "encode_cursor",
]
