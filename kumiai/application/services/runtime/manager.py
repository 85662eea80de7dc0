"""Runs belong to background workers, one per session, never to HTTP connections.

Sending a message accepts it durably as *pending input* (``pending_inputs``), in one
transaction that holds the session row's lock, so whether it waits (``queued``) is
decided against every other send and turn start, in this process or another. The
session's worker then drains the queue in order: each turn starts by *claiming* the
oldest pending input, and only then does the message enter the transcript (see
:class:`TurnRunner`). So no model request ever holds a message whose turn has not
started, and each message is answered exactly once.

The queue is paused while the session is ``cancelled`` (a v2 cancel): ``resume`` or a
new message reopens the session and the queue drains again. Dropped entries stay in
the table, listable, and are never shown to the model. At start-up every session with
pending input drains by itself, so a 202 survives ``kill -9``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import record_session_activity, utcnow
from kumiai.application.services.runtime.events import EventHub
from kumiai.application.services.runtime.payloads import pending_payload
from kumiai.application.services.runtime.runner import TurnRunner, interrupt_session
from kumiai.application.services.sessions import refuse_if_archived
from kumiai.core.exceptions import ClaudeUnavailableError, NotFoundError, PayloadTooLargeError
from kumiai.core.logging import get_logger
from kumiai.domain.entities import PendingInput, Session
from kumiai.domain.value_objects import EventType, SessionStatus

logger = get_logger(__name__)

RESTART_REASON = "interrupted by server restart"
MAX_MESSAGE_CHARS = 1_000_000
SETTLE_TIMEOUT = 10.0
DROPPED_LISTED = 50
STOPPED_REASON = "dropped when the session was stopped"


@dataclass(frozen=True)
class SendResult:
    item: PendingInput
    queued: bool


@dataclass(frozen=True)
class QueueState:
    """A session's queue as the API shows it."""

    running: PendingInput | None
    waiting: list[PendingInput]
    dropped: list[PendingInput]
    paused: bool


class SessionWorker:
    """The in-process drainer of one session's queue; retired when the queue is empty."""

    def __init__(self) -> None:
        self.drain: asyncio.Task[None] | None = None
        self.turn: asyncio.Task[bool] | None = None
        self.current: PendingInput | None = None
        # Set by cancel so the drain claims nothing more; cleared by send and resume.
        self.hold = False
        # Set when new input arrives, so a drain about to retire looks once more.
        self.kicked = False


class RunManager:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hub: EventHub,
        claude_configured: Callable[[], bool],
        *,
        max_concurrent_turns: int = 8,
    ) -> None:
        self._uow = uow
        self._hub = hub
        self._claude_configured = claude_configured
        self._workers: dict[UUID, SessionWorker] = {}
        # Turns beyond the cap wait for a slot with their input still pending.
        self._slots = asyncio.Semaphore(max_concurrent_turns)
        self.turn_runner: TurnRunner | None = None
        # Called when a session ends, to free what its turns held (its MCP servers).
        self.session_closers: list[Callable[[UUID], Awaitable[None]]] = []

    # --- sending ----------------------------------------------------------------------

    async def send(
        self,
        session_id: UUID,
        content: str,
        *,
        sender_session_id: UUID | None = None,
        sender_name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> SendResult:
        """Accept a message durably and make sure the session's queue drains."""
        if len(content) > MAX_MESSAGE_CHARS:
            raise PayloadTooLargeError(f"a message may hold at most {MAX_MESSAGE_CHARS} characters")
        async with self._uow() as uow:
            # The row lock orders this send against other sends and turn starts.
            session, ahead = await uow.pending.locked_queue(session_id)
            if session is None:
                raise NotFoundError("session", session_id)
            if session.project_id is not None:
                refuse_if_archived(await uow.projects.get(session.project_id))
            self._require_claude(session_id)
            item = PendingInput.accept(
                session_id, content, sender_session_id, sender_name, metadata
            )
            queued = bool(ahead) or session.status.is_running or self._slots.locked()
            if queued:
                item.metadata = {**item.metadata, "queued": True}
            await uow.pending.add(item)
            resumed = session.status is SessionStatus.CANCELLED
            if resumed:
                # A new message to a stopped session is a request to carry on.
                session.resume()
                await record_session_activity(uow, EventType.SESSION_RESUMED, session)
            await uow.commit()
        if resumed:
            self._hub.publish(session_id, "status_changed", status=session.status.value)
        if queued:
            self._publish_queue(session_id, [*ahead, item], paused=False)
        self._start_draining(session_id)
        return SendResult(item=item, queued=queued)

    def _require_claude(self, session_id: UUID) -> None:
        if self.turn_runner is None or not self._claude_configured():
            error = ClaudeUnavailableError(
                "Claude is not configured: set ANTHROPIC_API_KEY, or log in to Claude Code"
                " (or set CLAUDE_CODE_OAUTH_TOKEN), and restart KumiAI"
            )
            self._hub.publish(session_id, "error", error=error.message, code=error.code)
            raise error

    # --- the worker -------------------------------------------------------------------

    def _start_draining(self, session_id: UUID) -> None:
        worker = self._workers.setdefault(session_id, SessionWorker())
        worker.hold = False
        worker.kicked = True
        if worker.drain is None or worker.drain.done():
            worker.drain = asyncio.create_task(
                self._drain(session_id, worker), name=f"kumiai-session-{session_id}"
            )

    async def _drain(self, session_id: UUID, worker: SessionWorker) -> None:
        try:
            while not worker.hold:
                worker.kicked = False
                async with self._slots:
                    ran = not worker.hold and await self._run_one(session_id, worker)
                if not ran and not worker.kicked:
                    break
        except asyncio.CancelledError:
            raise  # the server is shutting down
        except Exception as error:  # a drain must never die unseen
            logger.error("session_drain_crashed", session_id=str(session_id), exc_info=error)
        finally:
            if self._workers.get(session_id) is worker and worker.turn is None:
                # An idle worker holds nothing worth keeping; the next send makes a new one.
                del self._workers[session_id]

    async def _run_one(self, session_id: UUID, worker: SessionWorker) -> bool:
        """Run the next turn, if any; False when nothing could start."""
        runner = self.turn_runner
        assert runner is not None, "checked by send()"

        def claimed(item: PendingInput) -> None:
            worker.current = item

        worker.turn = asyncio.create_task(runner.run(session_id, claimed))
        try:
            return await worker.turn
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the drain itself is being cancelled: the server is shutting down
            return True  # only the turn was cancelled (a user's cancel): carry on
        finally:
            worker.turn = None
            worker.current = None

    def _publish_queue(
        self, session_id: UUID, waiting: list[PendingInput], *, paused: bool
    ) -> None:
        self._hub.publish(
            session_id,
            "queue_changed",
            size=len(waiting),
            paused=paused,
            messages=[pending_payload(item) for item in waiting],
        )

    def announce(self, session_id: UUID, event_type: str, **data: Any) -> None:
        """Publish an event about the session that is not part of a turn's record."""
        self._hub.publish(session_id, event_type, **data)

    # --- inspection -------------------------------------------------------------------

    async def queue(self, session_id: UUID) -> QueueState:
        async with self._uow() as uow:
            session = await _require(uow, session_id)
            waiting = await uow.pending.waiting(session_id)
            dropped = await uow.pending.dropped(session_id, DROPPED_LISTED)
        return QueueState(
            running=self.current_run(session_id),
            waiting=waiting,
            dropped=dropped,
            paused=bool(waiting) and self._paused(session_id, session),
        )

    def _paused(self, session_id: UUID, session: Session) -> bool:
        worker = self._workers.get(session_id)
        return session.status is SessionStatus.CANCELLED or (worker is not None and worker.hold)

    def current_run(self, session_id: UUID) -> PendingInput | None:
        worker = self._workers.get(session_id)
        return worker.current if worker else None

    # --- stopping ---------------------------------------------------------------------

    async def cancel(
        self, session_id: UUID, *, drop_queue: bool = False, drop_reason: str = STOPPED_REASON
    ) -> bool:
        """Stop the running turn, if any, and hold (or drop) the queue.

        True if a turn stopped: it settles as ``cancelled`` by itself, which keeps the
        queue paused until ``resume`` or a new message.
        """
        worker = self._workers.get(session_id)
        if worker is not None:
            worker.hold = True
        if drop_queue:
            await self._drop_queue(session_id, drop_reason)
        async with self._uow() as uow:
            waiting = await uow.pending.waiting(session_id)
        # Announced before the turn's terminal event, so clients know nothing runs next.
        self._publish_queue(session_id, waiting, paused=bool(waiting))
        turn = worker.turn if worker is not None else None
        if turn is None or turn.done():
            return False
        turn.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(turn), SETTLE_TIMEOUT)
        return True

    async def _drop_queue(self, session_id: UUID, reason: str) -> None:
        async with self._uow() as uow:
            now = utcnow()
            for item in await uow.pending.waiting(session_id):
                item.drop(reason, now)
            await uow.commit()

    def resume_queue(self, session_id: UUID) -> None:
        """Start draining again after a resume."""
        self._start_draining(session_id)

    async def stop_session(self, session_id: UUID) -> None:
        """Before a session goes away: stop its turn, drop its queue, forget its events."""
        await self.cancel(session_id, drop_queue=True, drop_reason="the session was deleted")
        worker = self._workers.pop(session_id, None)
        if worker is not None and worker.drain is not None:
            worker.drain.cancel()
        self._hub.forget(session_id)
        await self.release(session_id)

    async def release(self, session_id: UUID) -> None:
        """The session is ending (deleted or archived): free what its turns held."""
        for close in self.session_closers:
            await close(session_id)

    async def shutdown(self) -> None:
        """Stop every run; each settles as interrupted, and its queue drains on restart."""
        if self.turn_runner is not None:
            self.turn_runner.shutting_down = True
        drains = [w.drain for w in self._workers.values() if w.drain and not w.drain.done()]
        for task in drains:
            task.cancel()
        await asyncio.gather(*drains, return_exceptions=True)

    # --- recovery ---------------------------------------------------------------------

    async def recover(self) -> list[UUID]:
        """After a crash: sessions caught mid-turn move to error, with synthetic results.

        Then every session with pending input starts draining, so what was accepted
        before the crash is answered without anyone asking.
        """
        async with self._uow() as uow:
            stuck = await uow.sessions.list_in_status(
                [SessionStatus.THINKING, SessionStatus.WORKING, SessionStatus.WAITING]
            )
            for session in stuck:
                await interrupt_session(uow, session, RESTART_REASON)
            waiting = await uow.pending.sessions_waiting()
            await uow.commit()
        if stuck:
            logger.warning("recovered_interrupted_sessions", count=len(stuck))
        for session_id in waiting:
            self._start_draining(session_id)
        return [session.id for session in stuck]


async def _require(uow: UnitOfWork, session_id: UUID) -> Session:
    session = await uow.sessions.get(session_id)
    if session is None:
        raise NotFoundError("session", session_id)
    return session
