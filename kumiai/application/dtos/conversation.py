from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kumiai.application.dtos.base import View
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


class QueuedItemView(View):
    message_id: UUID = Field(validation_alias="id")
    run_id: UUID
    content: str
    content_preview: str = Field(validation_alias="preview")
    sender_name: str | None
    sender_session_id: UUID | None
    state: PendingInputState
    drop_reason: str | None
    created_at: datetime | None
    dropped_at: datetime | None


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
