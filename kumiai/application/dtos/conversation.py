from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kumiai.domain.entities import PendingInput
from kumiai.domain.value_objects import PendingInputState


class SendMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=1_000_000)


class SentMessage(BaseModel):
    message_id: UUID = Field(
        description="The message's id; it enters the transcript with this id when its turn starts."
    )
    run_id: UUID = Field(description="The turn that will answer this message.")
    queued: bool = Field(description="True when the message waits behind another turn.")


class QueuedItemView(BaseModel):
    message_id: UUID
    run_id: UUID
    content: str
    content_preview: str
    sender_name: str | None
    sender_session_id: UUID | None
    state: PendingInputState
    drop_reason: str | None
    created_at: datetime | None
    dropped_at: datetime | None

    @classmethod
    def of(cls, item: PendingInput) -> QueuedItemView:
        return cls(
            message_id=item.id,
            run_id=item.run_id,
            content=item.content,
            content_preview=item.preview,
            sender_name=item.sender_name,
            sender_session_id=item.sender_session_id,
            state=item.state,
            drop_reason=item.drop_reason,
            created_at=item.created_at,
            dropped_at=item.dropped_at,
        )


class QueueView(BaseModel):
    session_id: UUID
    running: QueuedItemView | None = Field(description="The message whose turn runs now.")
    size: int = Field(description="How many messages wait.")
    paused: bool = Field(
        description="True while the session is cancelled: resume (or a new message) drains it."
    )
    messages: list[QueuedItemView] = Field(description="The waiting messages, next first.")
    dropped: list[QueuedItemView] = Field(
        description="The newest 50 messages taken off the queue, newest first; never answered."
    )
