"""Immutable values of the domain: enums, the state machine table and identifier rules."""

from kumiai.domain.value_objects.cli_backend import CliBackend
from kumiai.domain.value_objects.event_type import EventType
from kumiai.domain.value_objects.identifiers import (
    HEX_COLOR_PATTERN,
    NAME_MAX_LENGTH,
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    slugify,
    validate_hex_color,
    validate_name,
    validate_slug,
)
from kumiai.domain.value_objects.kanban_stage import KanbanStage
from kumiai.domain.value_objects.message_role import MessageRole
from kumiai.domain.value_objects.pending_input_state import PendingInputState
from kumiai.domain.value_objects.session_status import ALLOWED_TRANSITIONS, SessionStatus
from kumiai.domain.value_objects.session_type import SessionType
from kumiai.domain.value_objects.task_status import TaskStatus

__all__ = [
    "ALLOWED_TRANSITIONS",
    "HEX_COLOR_PATTERN",
    "NAME_MAX_LENGTH",
    "SLUG_MAX_LENGTH",
    "SLUG_PATTERN",
    "CliBackend",
    "EventType",
    "KanbanStage",
    "MessageRole",
    "PendingInputState",
    "SessionStatus",
    "SessionType",
    "TaskStatus",
    "slugify",
    "validate_hex_color",
    "validate_name",
    "validate_slug",
]
