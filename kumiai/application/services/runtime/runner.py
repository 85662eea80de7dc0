"""One turn of one session: from the user's message to the end of the agent's answer.

A turn never holds a database session across the model stream: each step that
persists something (a text block, a tool call, a result, the final status) is its
own short unit of work, committed before the event announcing it is published.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import UUID

from kumiai.application.ports.agent_runtime import (
    AgentRuntime,
    TurnOutcome,
)
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import record_session_activity, utcnow
from kumiai.application.services.runtime.context import TurnContextBuilder
from kumiai.application.services.runtime.events import EventHub
from kumiai.application.services.runtime.history import DELIVERED_AFTER
from kumiai.application.services.runtime.queue_item import QueuedMessage
from kumiai.application.services.runtime.sink import AfterTool, PersistingSink, usage_dict
from kumiai.core.exceptions import KumiAIError
from kumiai.core.logging import get_logger
from kumiai.domain.entities import Message, Session, synthetic_results_for
from kumiai.domain.value_objects import EventType, SessionStatus

logger = get_logger(__name__)

CANCELLED_REASON = "cancelled by the user"


class SessionGone(Exception):
    """The session was deleted before its turn could start."""


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
            # A message to an ended or fresh session brings it back first.
            session.reopen()
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
            usage=usage_dict(sink.state.usage),
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
