"""A message accepted while its session was busy: durable, but not yet in the transcript."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from kumiai.domain.entities.message import Message
from kumiai.domain.value_objects.pending_input_state import PendingInputState

PREVIEW_CHARS = 120


@dataclass(eq=False, kw_only=True)
class PendingInput:
    """One entry of a session's queue.

    It becomes a transcript message (same id, next sequence) only when its own turn
    starts, so the transcript is exactly what the model saw, in the order it saw it.
    ``position`` is assigned by the database and orders the queue.
    """

    id: UUID = field(default_factory=uuid4)
    session_id: UUID
    run_id: UUID = field(default_factory=uuid4)
    content: str
    sender_session_id: UUID | None = None
    sender_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    state: PendingInputState = PendingInputState.PENDING
    drop_reason: str | None = None
    position: int | None = None
    created_at: datetime | None = None
    dropped_at: datetime | None = None

    @classmethod
    def accept(
        cls,
        session_id: UUID,
        content: str,
        sender_session_id: UUID | None = None,
        sender_name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> PendingInput:
        # Message.user holds the rules for a user message; checking them here means a
        # message that was accepted can always enter the transcript later.
        Message.user(session_id, content, sender_session_id, sender_name)
        return cls(
            session_id=session_id,
            content=content,
            sender_session_id=sender_session_id,
            sender_name=sender_name,
            metadata=dict(metadata or {}),
        )

    @property
    def preview(self) -> str:
        return self.content[:PREVIEW_CHARS]

    @classmethod
    def running(cls, message: Message, run_id: UUID) -> PendingInput:
        """The input whose turn ``run_id`` runs, as its transcript row holds it."""
        return cls(
            id=message.id,
            session_id=message.session_id,
            run_id=run_id,
            content=message.content,
            sender_session_id=message.sender_session_id,
            sender_name=message.sender_name,
            metadata=dict(message.metadata),
            created_at=message.created_at,
        )

    def to_message(self) -> Message:
        """The transcript message this input becomes when its turn starts (same id)."""
        message = Message.user(
            self.session_id, self.content, self.sender_session_id, self.sender_name
        )
        message.id = self.id
        message.metadata = dict(self.metadata)
        return message

    def drop(self, reason: str, now: datetime) -> None:
        """Take the input off the queue; it stays listable, never shown to the model."""
        self.state = PendingInputState.DROPPED
        self.drop_reason = reason
        self.dropped_at = now
