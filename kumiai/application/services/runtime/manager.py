"""Runs belong to background workers, one per session, never to HTTP connections.

Sending a message persists it at once and puts it in the session's queue. The
session's worker drains the queue in order, one turn per message. Cancelling stops
the current turn (the model stream and any tool process) and pauses the queue; the
queued messages stay until the session is resumed or another message is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.application.services.common import record_activity, record_session_activity
from kumiai.application.services.runtime.events import EventHub
from kumiai.application.services.runtime.payloads import message_payload
from kumiai.application.services.runtime.queue_item import QueuedMessage
from kumiai.application.services.runtime.runner import TurnRunner
from kumiai.core.exceptions import ClaudeUnavailableError, NotFoundError, PayloadTooLargeError
from kumiai.core.logging import get_logger
from kumiai.domain.entities import Message, synthetic_results_for
from kumiai.domain.value_objects import EventType, SessionStatus

logger = get_logger(__name__)

RESTART_REASON = "interrupted by server restart"
PREVIEW_CHARS = 120
MAX_MESSAGE_CHARS = 1_000_000
SETTLE_TIMEOUT = 10.0


@dataclass(frozen=True)
class SendResult:
    message: Message
    run_id: UUID
    queued: bool


@dataclass
class SessionWorker:
    queue: deque[QueuedMessage] = field(default_factory=deque)
    drain: asyncio.Task[None] | None = None
    turn: asyncio.Task[None] | None = None
    current: QueuedMessage | None = None
    paused: bool = False

    @property
    def busy(self) -> bool:
        return self.current is not None or bool(self.queue)


class RunManager:
    def __init__(
        self, uow: UnitOfWorkFactory, hub: EventHub, claude_configured: Callable[[], bool]
    ) -> None:
        self._uow = uow
        self._hub = hub
        self._claude_configured = claude_configured
        self._workers: dict[UUID, SessionWorker] = {}
        self.turn_runner: TurnRunner | None = None

    # --- sending ----------------------------------------------------------------------

    async def send(
        self,
        session_id: UUID,
        content: str,
        *,
        sender_session_id: UUID | None = None,
        sender_name: str | None = None,
    ) -> SendResult:
        """Persist a user message now and queue its turn."""
        if len(content) > MAX_MESSAGE_CHARS:
            raise PayloadTooLargeError(f"a message may hold at most {MAX_MESSAGE_CHARS} characters")
        self._require_claude(session_id)
        queued = self._worker(session_id).busy
        message = await self._persist_user_message(
            session_id, content, sender_session_id, sender_name, queued=queued
        )
        # Looked up again: the worker may have finished and been retired meanwhile.
        worker = self._worker(session_id)
        self._hub.publish(session_id, "message_created", message=message_payload(message))
        item = QueuedMessage(
            message_id=message.id,
            run_id=uuid4(),
            preview=content[:PREVIEW_CHARS],
            sender_name=sender_name,
            sender_session_id=sender_session_id,
            created_at=message.created_at.isoformat() if message.created_at else "",
        )
        worker.queue.append(item)
        worker.paused = False
        self._publish_queue(session_id, worker)
        self._ensure_draining(session_id, worker)
        return SendResult(message=message, run_id=item.run_id, queued=queued)

    def _require_claude(self, session_id: UUID) -> None:
        if self.turn_runner is None or not self._claude_configured():
            error = ClaudeUnavailableError(
                "Claude is not configured: set ANTHROPIC_API_KEY and restart KumiAI"
            )
            self._hub.publish(session_id, "error", error=error.message, code=error.code)
            raise error

    async def _persist_user_message(
        self,
        session_id: UUID,
        content: str,
        sender_session_id: UUID | None,
        sender_name: str | None,
        *,
        queued: bool,
    ) -> Message:
        async with self._uow() as uow:
            session = await uow.sessions.get(session_id)
            if session is None:
                raise NotFoundError("session", session_id)
            message = Message.user(session_id, content, sender_session_id, sender_name)
            message.metadata = {"queued": True} if queued else {}
            await uow.messages.append(message)
            await record_activity(
                uow,
                EventType.MESSAGE_SENT,
                session_id=session_id,
                project_id=session.project_id,
                message_id=str(message.id),
                from_session_id=str(sender_session_id) if sender_session_id else None,
            )
            await uow.commit()
        return message

    # --- the worker -------------------------------------------------------------------

    def _worker(self, session_id: UUID) -> SessionWorker:
        return self._workers.setdefault(session_id, SessionWorker())

    def _ensure_draining(self, session_id: UUID, worker: SessionWorker) -> None:
        if worker.drain is None or worker.drain.done():
            worker.drain = asyncio.create_task(
                self._drain(session_id, worker), name=f"kumiai-session-{session_id}"
            )

    async def _drain(self, session_id: UUID, worker: SessionWorker) -> None:
        runner = self.turn_runner
        assert runner is not None, "checked by send()"
        while worker.queue and not worker.paused:
            worker.current = worker.queue.popleft()
            self._publish_queue(session_id, worker)
            worker.turn = asyncio.create_task(runner.run(session_id, worker.current))
            try:
                await worker.turn
            except asyncio.CancelledError:
                if not worker.turn.cancelled():
                    raise  # the worker itself is being shut down
            finally:
                worker.current = None
                worker.turn = None
        if not worker.queue and self._workers.get(session_id) is worker:
            # An idle worker holds nothing worth keeping; send() makes a new one.
            del self._workers[session_id]

    def _publish_queue(self, session_id: UUID, worker: SessionWorker) -> None:
        self._hub.publish(
            session_id,
            "queue_changed",
            size=len(worker.queue),
            paused=worker.paused,
            messages=[item.as_payload() for item in worker.queue],
        )

    def announce(self, session_id: UUID, event_type: str, **data: Any) -> None:
        """Publish an event about the session that is not part of a turn's record."""
        self._hub.publish(session_id, event_type, **data)

    # --- inspection -------------------------------------------------------------------

    def queue(self, session_id: UUID) -> list[QueuedMessage]:
        worker = self._workers.get(session_id)
        return list(worker.queue) if worker else []

    def current_run(self, session_id: UUID) -> QueuedMessage | None:
        worker = self._workers.get(session_id)
        return worker.current if worker else None

    def is_running(self, session_id: UUID) -> bool:
        worker = self._workers.get(session_id)
        return worker is not None and worker.current is not None

    # --- stopping ---------------------------------------------------------------------

    async def cancel(self, session_id: UUID, *, drop_queue: bool = False) -> bool:
        """Stop the running turn, if any; pause (or drop) the queue. True if a turn stopped."""
        worker = self._workers.get(session_id)
        if worker is None:
            return False
        worker.paused = True
        if drop_queue:
            worker.queue.clear()
        self._publish_queue(session_id, worker)
        turn = worker.turn
        if turn is None or turn.done():
            return False
        turn.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(turn), SETTLE_TIMEOUT)
        return True

    def resume_queue(self, session_id: UUID) -> None:
        """Start draining again after a resume."""
        worker = self._workers.get(session_id)
        if worker is not None and worker.queue:
            worker.paused = False
            self._publish_queue(session_id, worker)
            self._ensure_draining(session_id, worker)

    async def stop_session(self, session_id: UUID) -> None:
        """Before a session goes away: stop its turn, forget its queue and its events."""
        await self.cancel(session_id, drop_queue=True)
        self._workers.pop(session_id, None)
        self._hub.forget(session_id)

    async def shutdown(self) -> None:
        """Cancel every run; each settles as cancelled before the process exits."""
        for session_id in list(self._workers):
            await self.cancel(session_id)
        drains = [w.drain for w in self._workers.values() if w.drain and not w.drain.done()]
        for task in drains:
            task.cancel()
        await asyncio.gather(*drains, return_exceptions=True)

    # --- recovery ---------------------------------------------------------------------

    async def recover(self) -> list[UUID]:
        """After a crash: sessions caught mid-turn move to error, with synthetic results."""
        async with self._uow() as uow:
            stuck = await uow.sessions.list_in_status(
                [SessionStatus.THINKING, SessionStatus.WORKING, SessionStatus.WAITING]
            )
            for session in stuck:
                history = await uow.messages.history(session.id)
                for result in synthetic_results_for(history, RESTART_REASON):
                    await uow.messages.append(result)
                session.fail(RESTART_REASON)
                await record_session_activity(
                    uow,
                    EventType.SESSION_FAILED,
                    session,
                    error=RESTART_REASON,
                )
            await uow.commit()
        if stuck:
            logger.warning("recovered_interrupted_sessions", count=len(stuck))
        return [session.id for session in stuck]
