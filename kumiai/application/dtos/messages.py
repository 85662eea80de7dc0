from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from kumiai.application.dtos.base import View
from kumiai.application.dtos.sessions import AgentRef
from kumiai.domain.value_objects import MessageRole


class MessageView(View):
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


class ChatPage(BaseModel):
    """One page of a conversation as a chat shows it, walking from the newest message back.

    ``items`` are the user, assistant (tool calls included) and system rows, oldest
    first; tool results are left out of them. ``results`` answers the page's tool
    calls even when the answer was written after the page's newest row.
    """

    items: list[MessageView]
    results: dict[str, MessageView] = Field(description="Tool results by ``tool_use_id``.")
    agent: AgentRef | None = Field(description="The agent of the session itself.")
    senders: dict[UUID, AgentRef] = Field(
        description="The agent of each session that sent one of the page's user messages."
    )
    next_cursor: str | None = Field(description="Continues with the page just older.")
