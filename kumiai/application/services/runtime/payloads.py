"""JSON payloads of domain objects inside live events: the same shape the API returns."""

from __future__ import annotations

from typing import Any

from kumiai.application.dtos.messages import MessageView
from kumiai.domain.entities import Message, PendingInput


def message_payload(message: Message) -> dict[str, Any]:
    return MessageView.of(message).model_dump(mode="json")


def pending_payload(item: PendingInput) -> dict[str, Any]:
    """A queue entry inside ``queue_changed``."""
    return {
        "message_id": str(item.id),
        "run_id": str(item.run_id),
        "content_preview": item.preview,
        "sender_name": item.sender_name,
        "sender_session_id": str(item.sender_session_id) if item.sender_session_id else None,
        "timestamp": item.created_at.isoformat() if item.created_at else None,
    }
