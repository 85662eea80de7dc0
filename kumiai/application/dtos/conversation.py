from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kumiai.application.dtos.messages import MessageView
from kumiai.application.services.runtime.queue_item import QueuedMessage


class SendMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=1_000_000)


class SentMessage(BaseModel):
    message: MessageView
    run_id: UUID
    queued: bool = Field(description="True when another turn was running and this one waits.")


class QueuedItemView(BaseModel):
    message_id: UUID
    run_id: UUID
    content_preview: str
    sender_name: str | None
    sender_session_id: UUID | None

    @classmethod
    def of(cls, item: QueuedMessage) -> QueuedItemView:
        return cls(
            message_id=item.message_id,
            run_id=item.run_id,
            content_preview=item.preview,
            sender_name=item.sender_name,
            sender_session_id=item.sender_session_id,
        )


class QueueView(BaseModel):
    session_id: UUID
    running: QueuedItemView | None
    size: int
    messages: list[QueuedItemView]
