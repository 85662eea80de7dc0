"""A persisted user message waiting in a session's queue (or owning its run)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class QueuedMessage:
    """A persisted user message waiting for (or owning) a run."""

    message_id: UUID
    run_id: UUID
    preview: str
    sender_name: str | None
    sender_session_id: UUID | None
    created_at: str

    def as_payload(self) -> dict[str, Any]:
        return {
            "message_id": str(self.message_id),
            "run_id": str(self.run_id),
            "content_preview": self.preview,
            "sender_name": self.sender_name,
            "sender_session_id": str(self.sender_session_id) if self.sender_session_id else None,
            "timestamp": self.created_at,
        }
