"""Who wrote a message in a session's conversation."""

from __future__ import annotations

from enum import StrEnum


class MessageRole(StrEnum):
    """The author of a message; an assistant tool call is an ``assistant`` message."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL_RESULT = "tool_result"
