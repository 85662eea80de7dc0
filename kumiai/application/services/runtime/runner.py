"""One turn of one session: from the user's message to the end of the agent's answer.

A turn never holds a database session across the model stream: each step that
persists something (a text block, a tool call, a result, the final status) is its
own short unit of work, committed before the event announcing it is published.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from kumiai.application.ports.agent_runtime import (
    AgentRuntime,
    ToolCall,
    ToolOutcome,
    TurnOutcome,
    Usage,
)
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import record_activity, record_session_activity, utcnow
from kumiai.application.services.runtime.context import TurnContextBuilder
from kumiai.application.services.runtime.events import EventHub
from kumiai.application.services.runtime.history import DELIVERED_AFTER
from kumiai.application.services.runtime.payloads import message_payload
from kumiai.core.exceptions import KumiAIError
from kumiai.core.logging import get_logger
from kumiai.domain.entities import Message, Session, synthetic_results_for
from kumiai.domain.value_objects import EventType, SessionStatus

logger = get_logger(__name__)

CANCELLED_REASON = "cancelled by the user"

AfterTool = Callable[[Session, ToolCall, ToolOutcome], Awaitable[None]]


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


class SessionGone(Exception):
    """The session was deleted before its turn could start."""


@dataclass
class TurnState:
    """What the sink has seen so far; used to persist partial output on cancel or error."""

    partial_text: dict[int, str] = field(default_factory=dict)
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
        self._project_id = session.project_id
        self._run_id = run_id
        self._sender_name = sender_name
        self.state = TurnState()

    def _publish(self, event_type: str, **data: Any) -> None:
        self._hub.publish(self._session_id, event_type, run_id=str(self._run_id), **data)

    async def text_delta(self, block_index: int, text: str) -> None:
        self.state.partial_text[block_index] = self.state.partial_text.get(block_index, "") + text
        self._publish("text_delta", block_index=block_index, text=text)

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
                    self.state.last_assistant_id, {"usage": _usage_dict(usage)}
                )
                await uow.commit()
        self._publish("usage", usage=_usage_dict(usage), stop_reason=stop_reason)

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
                await record_activity(
                    uow,
                    EventType.TOOL_EXECUTED,
                    session_id=self._session_id,
                    project_id=self._project_id,
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


def _usage_dict(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
    }


class TurnRunner:
    """Runs one queued message's turn and leaves the session in a settled status."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hub: EventHub,
        runtime: AgentRuntime,
        contexts: TurnContextBuilder,
        after_tool: AfterTool | None = None,
    ) -> None:
        self._uow = uow
        self._hub = hub
        self._runtime = runtime
        self._contexts = contexts
        self._after_tool = after_tool

    async def run(self, session_id: UUID, item: QueuedMessage) -> None:
        try:
            session = await self._begin(session_id, item)
        except SessionGone:
            return
        sink = PersistingSink(self._uow, self._hub, session, item.run_id, None)
        try:
            prepared = await self._contexts.build(session_id)
            sink = PersistingSink(
                self._uow,
                self._hub,
                session,
                item.run_id,
                prepared.agent_name,
                after_tool=self._after_tool,
            )
            outcome = await self._runtime.run_turn(prepared.request, prepared.toolbox, sink)
        except asyncio.CancelledError:
            await asyncio.shield(self._settle_cancelled(session_id, item, sink))
            raise
        except Exception as error:  # every failure must settle the session
            await self._settle_failed(session_id, item, sink, error)
            return
        await self._settle_done(session_id, item, sink, outcome)

    async def _begin(self, session_id: UUID, item: QueuedMessage) -> Session:
        async with self._uow() as uow:
            session = await uow.sessions.get_for_update(session_id)
            if session is None:
                raise SessionGone
            _make_startable(session)
            session.start(utcnow())
            await uow.messages.merge_metadata(
                item.message_id, {DELIVERED_AFTER: session.next_sequence - 1}
            )
            await record_session_activity(
                uow,
                EventType.SESSION_STARTED,
                session,
                run_id=str(item.run_id),
            )
            await uow.commit()
        self._hub.publish(
            session_id, "status_changed", status=session.status.value, run_id=str(item.run_id)
        )
        self._hub.publish(
            session_id, "run_started", run_id=str(item.run_id), message_id=str(item.message_id)
        )
        return session

    async def _settle_done(
        self, session_id: UUID, item: QueuedMessage, sink: PersistingSink, outcome: TurnOutcome
    ) -> None:
        status = await self._settle(session_id, _finish_turn, [])
        self._publish_end(
            session_id,
            status,
            "done",
            item,
            stop_reason=outcome.stop_reason,
            usage=_usage_dict(sink.state.usage),
            iterations=outcome.iterations,
        )

    async def _settle_cancelled(
        self, session_id: UUID, item: QueuedMessage, sink: PersistingSink
    ) -> None:
        status = await self._settle(
            session_id,
            lambda session: session.cancel(),
            _partials(sink, session_id, item),
            synthetic_reason=CANCELLED_REASON,
        )
        self._publish_end(session_id, status, "cancelled", item, reason=CANCELLED_REASON)

    async def _settle_failed(
        self, session_id: UUID, item: QueuedMessage, sink: PersistingSink, error: Exception
    ) -> None:
        reason = error.message if isinstance(error, KumiAIError) else f"internal error: {error}"
        if not isinstance(error, KumiAIError):
            logger.error(
                "turn_crashed", session_id=str(session_id), error=repr(error), exc_info=error
            )
        code = error.code if isinstance(error, KumiAIError) else "internal_error"
        status = await self._settle(
            session_id,
            lambda session: session.fail(reason),
            _partials(sink, session_id, item),
            synthetic_reason=reason,
        )
        self._publish_end(session_id, status, "error", item, error=reason, code=code)

    async def _settle(
        self,
        session_id: UUID,
        move: Callable[[Session], None],
        partials: list[Message],
        *,
        synthetic_reason: str | None = None,
    ) -> SessionStatus | None:
        """Write leftovers and the final status in one unit of work."""
        async with self._uow() as uow:
            session = await uow.sessions.get_for_update(session_id)
            if session is None:
                return None
            for message in partials:
                await uow.messages.append(message)
            if synthetic_reason is not None:
                history = await uow.messages.history(session_id)
                for result in synthetic_results_for(history, synthetic_reason):
                    await uow.messages.append(result)
            if session.status.is_running:
                move(session)
            await _record_end(uow, session)
            await uow.commit()
            return session.status

    def _publish_end(
        self,
        session_id: UUID,
        status: SessionStatus | None,
        terminal: str,
        item: QueuedMessage,
        **data: Any,
    ) -> None:
        if status is not None:
            self._hub.publish(
                session_id, "status_changed", status=status.value, run_id=str(item.run_id)
            )
        self._hub.publish(session_id, terminal, run_id=str(item.run_id), **data)


def _make_startable(session: Session) -> None:
    """A message to an ended or fresh session brings it back before the turn starts."""
    if session.status == SessionStatus.INITIALIZING:
        session.mark_ready()
    elif session.status.is_terminal:
        session.resume()


def _finish_turn(session: Session) -> None:
    session.finish_turn()


def _partials(sink: PersistingSink, session_id: UUID, item: QueuedMessage) -> list[Message]:
    """Text that streamed but never finished its block, kept so nothing shown is lost."""
    partials = []
    for _, text in sorted(sink.state.partial_text.items()):
        if text.strip():
            message = Message.assistant_text(session_id, text, str(item.run_id))
            message.metadata = {"partial": True}
            partials.append(message)
    return partials


async def _record_end(uow: UnitOfWork, session: Session) -> None:
    event = {
        SessionStatus.CANCELLED: EventType.SESSION_CANCELLED,
        SessionStatus.ERROR: EventType.SESSION_FAILED,
    }.get(session.status)
    if event is not None:
        await record_session_activity(
            uow,
            event,
            session,
            error=session.error_message,
        )
