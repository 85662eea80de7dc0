"""The sink a turn streams into: each step is persisted, then announced.

Text deltas are only published; a text block is persisted once when it completes;
tool calls and results are persisted (and logged as ``tool_executed``) before their
events go out, and the session moves thinking -> working -> thinking around them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from kumiai.application.ports.agent_runtime import ToolCall, ToolOutcome, Usage
from kumiai.application.ports.events import EventPublisher
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import record_session_activity
from kumiai.application.services.runtime.history.replay import SERVER_TOOL
from kumiai.application.services.runtime.payloads import message_payload
from kumiai.application.services.session_lifecycle import begin_tool, end_tool
from kumiai.domain.entities import Message, Session
from kumiai.domain.value_objects import EventType, MessageRole

AfterTool = Callable[[Session, ToolCall, ToolOutcome], Awaitable[None]]


@dataclass
class TurnState:
    """What the sink has seen so far; used to persist partial output on cancel or error."""

    partial_text: dict[int, list[str]] = field(default_factory=dict)
    """The pieces of each unfinished text block, joined only if the turn ends early."""
    last_assistant_id: UUID | None = None
    last_text: str | None = None
    """The turn's last complete text block: its answer."""
    usage: Usage = field(default_factory=Usage)
    open_tools: int = 0


class PersistingSink:
    """Receives the turn from the runtime, persists it and publishes events."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        events: EventPublisher,
        session: Session,
        run_id: UUID,
        sender_name: str | None,
        *,
        after_tool: AfterTool | None = None,
    ) -> None:
        self._uow = uow
        self._events = events
        self._session = session
        self._after_tool = after_tool
        self._session_id = session.id
        self._run_id = run_id
        self._run = str(run_id)
        self._sender_name = sender_name
        self.state = TurnState()

    async def text_delta(self, block_index: int, text: str) -> None:
        # The hot path of a turn: one list append and one publish, nothing persisted.
        pieces = self.state.partial_text.get(block_index)
        if pieces is None:
            self.state.partial_text[block_index] = [text]
        else:
            pieces.append(text)
        self._events.publish(
            self._session_id, "text_delta", run_id=self._run, block_index=block_index, text=text
        )

    async def text_done(self, block_index: int, text: str) -> None:
        self.state.partial_text.pop(block_index, None)
        self.state.last_text = text
        message = Message.assistant_text(
            self._session_id, text, self._run, sender_name=self._sender_name
        )
        await self._append(message, "text_done", block_index=block_index)

    async def tool_use(self, call: ToolCall) -> None:
        message = Message.tool_use(
            self._session_id,
            call.id,
            call.name,
            call.input,
            self._run,
            sender_name=self._sender_name,
        )
        if call.server_side:
            # Replayed as text in later turns: the API's own blocks are not kept.
            message.metadata = {**message.metadata, SERVER_TOOL: True}
        await self._append(
            message,
            "tool_use",
            status_move=begin_tool,
            tool_use_id=call.id,
            tool_name=call.name,
            tool_input=call.input,
        )
        self.state.open_tools += 1

    async def tool_result(self, call: ToolCall, outcome: ToolOutcome) -> None:
        self.state.open_tools = max(0, self.state.open_tools - 1)
        message = Message.tool_result(
            self._session_id, call.id, outcome.content, outcome.is_error, self._run
        )
        await self._append(
            message,
            "tool_result",
            status_move=end_tool if self.state.open_tools == 0 else None,
            executed=(call, outcome),
            tool_use_id=call.id,
            content=outcome.content,
            is_error=outcome.is_error,
        )
        if self._after_tool is not None:
            await self._after_tool(self._session, call, outcome)

    async def usage(self, usage: Usage, stop_reason: str | None) -> None:
        self.state.usage = self.state.usage + usage
        data = {"run_id": self._run, "usage": usage_dict(usage), "stop_reason": stop_reason}
        if self.state.last_assistant_id is None:
            self._events.publish(self._session_id, "usage", **data)
            return
        async with self._uow() as uow:
            await uow.messages.merge_metadata(
                self.state.last_assistant_id, {"usage": usage_dict(usage)}
            )
            uow.publish(self._session_id, "usage", **data)
            await uow.commit()

    async def _append(
        self,
        message: Message,
        event_type: str,
        *,
        status_move: StatusMove | None = None,
        executed: tuple[ToolCall, ToolOutcome] | None = None,
        **data: Any,
    ) -> None:
        """Persist one row; announce it (``message_created``, then ``event_type``), and
        any status it moves the session to, once it is committed."""
        async with self._uow() as uow:
            await uow.messages.append(message)
            if executed is not None:
                call, outcome = executed
                await record_session_activity(
                    uow,
                    EventType.TOOL_EXECUTED,
                    self._session,
                    tool_name=call.name,
                    tool_use_id=call.id,
                    is_error=outcome.is_error,
                )
            payload = message_payload(message)
            uow.publish(self._session_id, "message_created", run_id=self._run, message=payload)
            uow.publish(self._session_id, event_type, run_id=self._run, message=payload, **data)
            if status_move is not None:
                await status_move(uow, self._session_id, self._run_id)
            await uow.commit()
        if message.role is MessageRole.ASSISTANT:
            self.state.last_assistant_id = message.id


StatusMove = Callable[[UnitOfWork, UUID, UUID], Awaitable[None]]


def usage_dict(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
    }
