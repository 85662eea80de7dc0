"""JSON payloads of domain objects inside live events: the same shape the API returns."""

from __future__ import annotations

from typing import Any

from kumiai.application.dtos.messages import MessageView
from kumiai.domain.entities import Message


def message_payload(message: Message) -> dict[str, Any]:
    return MessageView.of(message).model_dump(mode="json")
