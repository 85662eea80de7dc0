"""The Message entity and the rules that keep a conversation replayable to Claude."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities._rules import require_text
from kumiai.domain.value_objects.message_role import MessageRole
from kumiai.domain.value_objects.questions import ASK_USER_QUESTION, not_answered

UNASSIGNED_SEQUENCE = -1
# Sequences live in a PostgreSQL ``integer`` column; larger bounds are refused as input.
MAX_SEQUENCE = 2**31 - 1


@dataclass(eq=False, kw_only=True)
class Message:
    """One entry of a session's conversation, ordered by ``sequence`` alone.

    A tool call is an ``assistant`` message whose ``metadata["tool_use"]`` holds the call;
    its answer is a ``tool_result`` message with the same ``tool_use_id``.
    """

    id: UUID = field(default_factory=uuid4)
    session_id: UUID
    role: MessageRole
    content: str = ""
    tool_use_id: str | None = None
    # The repository assigns the real, gapless sequence when it inserts the row.
    sequence: int = UNASSIGNED_SEQUENCE
    metadata: dict[str, Any] = field(default_factory=dict)
    sender_session_id: UUID | None = None
    sender_name: str | None = None
    response_id: str | None = None
    created_at: datetime | None = None

    @classmethod
    def user(
        cls,
        session_id: UUID,
        content: str,
        sender_session_id: UUID | None = None,
        sender_name: str | None = None,
    ) -> Message:
        """A message to the agent, from the user or (with a sender) from another session."""
        if not content.strip():
            raise ValidationError("a message must not be empty", details={"field": "content"})
        return cls(
            session_id=session_id,
            role=MessageRole.USER,
            content=content,
            sender_session_id=sender_session_id,
            sender_name=sender_name,
        )

    @classmethod
    def assistant_text(
        cls,
        session_id: UUID,
        content: str,
        response_id: str | None,
        sender_name: str | None = None,
    ) -> Message:
        """Text the agent wrote in response ``response_id``."""
        return cls(
            session_id=session_id,
            role=MessageRole.ASSISTANT,
            content=content,
            response_id=response_id,
            sender_name=sender_name,
        )

    @classmethod
    def tool_use(
        cls,
        session_id: UUID,
        tool_use_id: str,
        name: str,
        input: Mapping[str, Any],
        response_id: str | None,
        *,
        sender_name: str | None = None,
    ) -> Message:
        """A tool call the agent made; kept as an assistant message for replay."""
        call_id = require_text(tool_use_id, "tool_use_id")
        return cls(
            session_id=session_id,
            role=MessageRole.ASSISTANT,
            tool_use_id=call_id,
            metadata={
                "tool_use": {
                    "id": call_id,
                    "name": require_text(name, "name"),
                    "input": dict(input),
                }
            },
            response_id=response_id,
            sender_name=sender_name,
        )

    @classmethod
    def tool_result(
        cls,
        session_id: UUID,
        tool_use_id: str,
        content: str,
        is_error: bool,
        response_id: str | None = None,
    ) -> Message:
        """The answer to the tool call ``tool_use_id``."""
        return cls(
            session_id=session_id,
            role=MessageRole.TOOL_RESULT,
            tool_use_id=require_text(tool_use_id, "tool_use_id"),
            content=content,
            metadata={"is_error": is_error},
            response_id=response_id,
        )

    @classmethod
    def system(cls, session_id: UUID, content: str) -> Message:
        """A notice from KumiAI itself (not sent by the user or the agent)."""
        return cls(session_id=session_id, role=MessageRole.SYSTEM, content=content)

    @property
    def is_tool_use(self) -> bool:
        return self.role == MessageRole.ASSISTANT and isinstance(
            self.metadata.get("tool_use"), dict
        )

    @property
    def is_tool_result(self) -> bool:
        return self.role == MessageRole.TOOL_RESULT

    @property
    def tool_name(self) -> str | None:
        name = self._tool_use_block().get("name")
        return name if isinstance(name, str) else None

    @property
    def tool_input(self) -> dict[str, Any] | None:
        tool_input = self._tool_use_block().get("input")
        return tool_input if isinstance(tool_input, dict) else None

    @property
    def is_error(self) -> bool:
        """True for a tool result that reports a failure."""
        return self.is_tool_result and self.metadata.get("is_error") is True

    def _tool_use_block(self) -> dict[str, Any]:
        block = self.metadata.get("tool_use") if self.is_tool_use else None
        return block if isinstance(block, dict) else {}


# --- conversation rules ----------------------------------------------------------------------


def unanswered_tool_uses(history: Sequence[Message]) -> list[Message]:
    """Tool calls in ``history`` (in order) that no later tool result answers."""
    return list(_pending_calls(history).values())


def synthetic_results_for(history: Sequence[Message], reason: str) -> list[Message]:
    """Error results closing every unanswered tool call, so the history replays cleanly.

    Written when a turn is cancelled or crashes between a tool call and its result.
    """
    return [
        _synthetic_result(session_id, tool_use_id, call.tool_name, reason)
        for (session_id, tool_use_id), call in _pending_calls(history).items()
    ]


def _pending_calls(history: Sequence[Message]) -> dict[tuple[UUID, str], Message]:
    pending: dict[tuple[UUID, str], Message] = {}
    for message in history:
        if message.tool_use_id is None:
            continue
        key = (message.session_id, message.tool_use_id)
        if message.is_tool_use:
            pending[key] = message
        elif message.is_tool_result:
            pending.pop(key, None)
    return pending


def _synthetic_result(
    session_id: UUID, tool_use_id: str, tool_name: str | None, reason: str
) -> Message:
    # A question the user never answered says so: the model must not take it as answered.
    content = (
        not_answered(reason)
        if tool_name == ASK_USER_QUESTION
        else f"Tool call was not completed: {reason}"
    )
    result = Message.tool_result(session_id, tool_use_id, content=content, is_error=True)
    # Lets clients tell KumiAI's stand-in results from real tool output.
    result.metadata = {**result.metadata, "synthetic": True}
    return result
