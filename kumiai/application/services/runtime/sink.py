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
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import record_session_activity
from kumiai.application.services.runtime.events import EventHub
from kumiai.application.services.runtime.history import SERVER_TOOL
from kumiai.application.services.runtime.payloads import message_payload
from kumiai.domain.entities import Message, Session
from kumiai.domain.value_objects import EventType, SessionStatus

AfterTool = Callable[[Session, ToolCall, ToolOutcome], Awaitable[None]]


@dataclass
class TurnState:
    """What the sink has seen so far; used to persist partial output on cancel or error."""

    partial_text: dict[int, list[str]] = field(default_factory=dict)
    """The pieces of each unfinished text block, joined only if the turn ends early."""
    last_assistant_id: UUID | None = None
    usage: Usage = field(default_factory=Usage)
    open_tools: int = 0


class PersistingSink:
    """Receives the turn from the runtime, persists it and publishes events."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hub: EventHub,
        session: Session,
        run_id: UUID,
        sender_name: str | None,
        *,
        after_tool: AfterTool | None = None,
    ) -> None:
        self._uow = uow
        self._hub = hub
        self._session = session
        self._after_tool = after_tool
        self._session_id = session.id
        self._run_id = run_id
        self._run = str(run_id)
        self._sender_name = sender_name
        self.state = TurnState()

    def _publish(self, event_type: str, **data: Any) -> None:
        self._hub.publish(self._session_id, event_type, run_id=self._run, **data)

    async def text_delta(self, block_index: int, text: str) -> None:
        # The hot path of a turn: one list append and one publish, nothing persisted.
        pieces = self.state.partial_text.get(block_index)
        if pieces is None:
            self.state.partial_text[block_index] = [text]
        else:
            pieces.append(text)
        self._hub.publish(
            self._session_id, "text_delta", run_id=self._run, block_index=block_index, text=text
        )

    async def text_done(self, block_index: int, text: str) -> None:
        self.state.partial_text.pop(block_index, None)
        message = Message.assistant_text(
            self._session_id, text, str(self._run_id), sender_name=self._sender_name
        )
        await self._append(message)
        self._publish("text_done", block_index=block_index, message=message_payload(message))

    async def tool_use(self, call: ToolCall) -> None:
        message = Message.tool_use(
            self._session_id,
            call.id,
            call.name,
            call.input,
            str(self._run_id),
            sender_name=self._sender_name,
        )
        if call.server_side:
            # Replayed as text in later turns: the API's own blocks are not kept.
            message.metadata = {**message.metadata, SERVER_TOOL: True}
        status = await self._append(message, status_move=_begin_tool)
        self.state.open_tools += 1
        self._publish(
            "tool_use",
            message=message_payload(message),
            tool_use_id=call.id,
            tool_name=call.name,
            tool_input=call.input,
        )
        self._publish_status(status)

    async def tool_result(self, call: ToolCall, outcome: ToolOutcome) -> None:
        self.state.open_tools = max(0, self.state.open_tools - 1)
        message = Message.tool_result(
            self._session_id, call.id, outcome.content, outcome.is_error, str(self._run_id)
        )
        move = _end_tool if self.state.open_tools == 0 else None
        status = await self._append(message, status_move=move, tool=call, outcome=outcome)
        self._publish(
            "tool_result",
            message=message_payload(message),
            tool_use_id=call.id,
            content=outcome.content,
            is_error=outcome.is_error,
        )
        self._publish_status(status)
        if self._after_tool is not None:
            await self._after_tool(self._session, call, outcome)

    async def usage(self, usage: Usage, stop_reason: str | None) -> None:
        total = self.state.usage
        self.state.usage = Usage(
            input_tokens=total.input_tokens + usage.input_tokens,
            output_tokens=total.output_tokens + usage.output_tokens,
            cache_creation_input_tokens=total.cache_creation_input_tokens
            + usage.cache_creation_input_tokens,
            cache_read_input_tokens=total.cache_read_input_tokens + usage.cache_read_input_tokens,
        )
        if self.state.last_assistant_id is not None:
            async with self._uow() as uow:
                await uow.messages.merge_metadata(
                    self.state.last_assistant_id, {"usage": usage_dict(usage)}
                )
                await uow.commit()
        self._publish("usage", usage=usage_dict(usage), stop_reason=stop_reason)

    async def _append(
        self,
        message: Message,
        *,
        status_move: Callable[[Session], None] | None = None,
        tool: ToolCall | None = None,
        outcome: ToolOutcome | None = None,
    ) -> SessionStatus | None:
        async with self._uow() as uow:
            await uow.messages.append(message)
            status = await _move_status(uow, self._session_id, status_move)
            if tool is not None and outcome is not None:
                await record_session_activity(
                    uow,
                    EventType.TOOL_EXECUTED,
                    self._session,
                    tool_name=tool.name,
                    tool_use_id=tool.id,
                    is_error=outcome.is_error,
                )
            await uow.commit()
        if message.role.value == "assistant":
            self.state.last_assistant_id = message.id
        self._publish("message_created", message=message_payload(message))
        return status

    def _publish_status(self, status: SessionStatus | None) -> None:
        if status is not None:
            self._publish("status_changed", status=status.value)


def _begin_tool(session: Session) -> None:
    if session.status == SessionStatus.THINKING:
        session.begin_tool()


def _end_tool(session: Session) -> None:
    if session.status == SessionStatus.WORKING:
        session.end_tool()


async def _move_status(
    uow: UnitOfWork, session_id: UUID, move: Callable[[Session], None] | None
) -> SessionStatus | None:
    if move is None:
        return None
    session = await uow.sessions.get_for_update(session_id)
    if session is None:
        return None
    before = session.status
    move(session)
    return session.status if session.status != before else None


def usage_dict(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
    }
