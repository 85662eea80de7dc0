from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from kumiai.domain.entities import Message
from kumiai.domain.value_objects import MessageRole


class MessageView(BaseModel):
    id: UUID
    session_id: UUID
    role: MessageRole
    content: str
    tool_use_id: str | None
    sequence: int
    metadata: dict[str, Any]
    sender_session_id: UUID | None
    sender_name: str | None
    response_id: str | None
    created_at: datetime | None

    @classmethod
    def of(cls, message: Message) -> MessageView:
        return cls(
            id=message.id,
            session_id=message.session_id,
            role=message.role,
            content=message.content,
            tool_use_id=message.tool_use_id,
            sequence=message.sequence,
            metadata=dict(message.metadata),
            sender_session_id=message.sender_session_id,
            sender_name=message.sender_name,
            response_id=message.response_id,
            created_at=message.created_at,
        )
