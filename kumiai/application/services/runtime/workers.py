"""The session workers: they run turns, one session at a time each, and stop them.

Runs belong to these background tasks, never to HTTP connections: a disconnect does
not stop a run. The workers answer the inbox's doorbell: a woken session gets a worker
(a drain task) that runs its turns in order, one per pending message, each through
the :class:`TurnRunner`, within the cap of turns running at once on the session's
runtime (:mod:`.slots`). A worker
retires when its queue is empty; the next message makes a new one.

A user's message to an idle session needs no wake: the send asks :meth:`reserve` for a
slot, claims its message in its own transaction, and hands the started turn over
(``_begin``), whose worker runs it first and then looks at the queue. A cancel that
arrives meanwhile waits for that transaction and settles the turn unrun.

Stopping is theirs too: cancel (the user's; the queue is held or dropped), a session
going away, and shutdown (every turn settles as interrupted, so its queue drains after
the restart). At start-up they repair sessions a crash left mid-turn and wake every
queue that still holds messages, so a 202 survives ``kill -9``.

With several server processes on one database, a session's worker runs in the process
that owns the session (:mod:`.ownership`): a worker woken elsewhere passes the wake on
to the owner, and stopping a session (cancel, interrupt, delete, archive) is asked of
the owner wherever the request lands. When a process dies, the one that takes its
sessions over repairs and drains them as it would after its own crash.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.runtime.events import EventHub
from kumiai.application.services.runtime.inbox import Inbox, TurnStart
from kumiai.application.services.runtime.ownership import WAKE, SessionOwnership
from kumiai.application.services.runtime.runner import (
    RETRY_FIRST_DELAY,
    RETRY_MAX_DELAY,
    Claim,
    StopReason,
    TurnHandle,
    TurnRunner,
)
from kumiai.application.services.runtime.slot_waits import SlotWaitRecorder
from kumiai.application.services.runtime.slots import Slot, TurnSlots
from kumiai.application.services.session_lifecycle import interrupt_session
from kumiai.core.exceptions import DatabaseUnavailableError
from kumiai.core.logging import get_logger
from kumiai.domain.entities import PendingInput, Project, Session, UserProfile
from kumiai.domain.value_objects import SessionStatus
from kumiai.domain.value_objects.cli_backend import CliBackend

logger = get_logger(__name__)

RESTART_REASON = "interrupted by server restart"
SETTLE_TIMEOUT = 10.0
STOPPED_REASON = "dropped when the session was stopped"
DELETED_REASON = "the session was deleted"

SessionCloser = Callable[[UUID], Awaitable[None]]

# How many sessions owned by other processes a send remembers, not to ask again.
OWNED_ELSEWHERE_KEPT = 10_000

# What another process may ask of the owner of a session.
CANCEL = "cancel"
STOP = "stop"
RELEASE = "release"


class _Worker:
    """The drain of one session's queue and the turn it runs now."""

    def __init__(self) -> None:
        self.drain: asyncio.Task[None] | None = None
        self.turn: asyncio.Task[bool] | None = None
        self.handle: TurnHandle | None = None
        # Set when the session is woken while this drain runs, so a drain about to
        # retire looks at its queue once more.
        self.kicked = False
        # How many messages waited behind the last turn's when it was claimed.
        self.waiting_behind = 0
        # The turn its send started, in the slot reserved for it, until the drain runs it
        # (or a cancel that came while the send was starting it settles it unrun).
        self.started: tuple[Claim, Slot] | None = None


@dataclass
class _Meanwhile:
    """What reached a session while its send was starting its turn."""

    woken: bool = False
    cancelled: bool = False
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the send committed (or failed): a cancel waiting for it goes on."""


class _SendStart:
    """Implements :class:`TurnStart`: a send starting its session's turn."""

    def __init__(
        self,
        runner: TurnRunner,
        session: Session,
        slot: Slot,
        begin: Callable[[Claim, Slot], None],
        abandon: Callable[[UUID, Slot], None],
    ) -> None:
        self._runner = runner
        self._session = session
        self._slot = slot
        self._begin = begin
        self._abandon = abandon
        self._claim: Claim | None = None

    async def claim(
        self,
        uow: UnitOfWork,
        item: PendingInput,
        project: Project | None,
        profile: UserProfile | None,
    ) -> bool:
        self._claim = await self._runner.start_in(
            uow, self._session, item, [], pending=False, project=project, profile=profile
        )
        return self._claim is not None

    def begin(self) -> None:
        if self._claim is None:
            raise RuntimeError("a send's turn began without being claimed")
        self._begin(self._claim, self._slot)

    def abandon(self) -> None:
        self._abandon(self._session.id, self._slot)


class SessionWorkers:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        inbox: Inbox,
        runner: TurnRunner,
        slots: TurnSlots,
        hub: EventHub,
        *,
        session_closers: Sequence[SessionCloser] = (),
        ownership: SessionOwnership | None = None,
    ) -> None:
        self._uow = uow
        self._inbox = inbox
        self._runner = runner
        self._slots = slots
        # Every process reads a turn's wait for a slot from the session row.
        self._waits = SlotWaitRecorder(uow)
        slots.watch(self._waits.note)
        self._hub = hub
        # Called when a session ends, to free what its turns held (its MCP servers).
        self._closers = tuple(session_closers)
        self._ownership = ownership or SessionOwnership()
        self._workers: dict[UUID, _Worker] = {}
        # Sessions whose send is starting their turn (their worker is made once the send
        # commits), and what happened meanwhile.
        self._reserved: dict[UUID, _Meanwhile] = {}
        # Sessions another process owned when a send here asked (a hint only: a stale
        # entry sends a message through the queue, whose worker asks again).
        self._owned_elsewhere: set[UUID] = set()
        self._doorbell: asyncio.Task[None] | None = None

    # --- starting ---------------------------------------------------------------------

    async def start(self) -> list[UUID]:
        """Repair what a crash left, answer the doorbell from now on, and wake every
        queue with messages waiting. Returns the sessions repaired."""
        await self._ownership.join(self._on_request, self._on_takeover)
        repaired = await self._recover()
        if self._doorbell is None or self._doorbell.done():
            self._doorbell = asyncio.create_task(self._answer_doorbell(), name="kumiai-doorbell")
        await self._inbox.wake_every_waiting_queue()
        return repaired

    async def _recover(self) -> list[UUID]:
        """Sessions caught mid-turn by a crash move to error, with synthetic results:
        those whose turn runs nowhere (not here, and no other live process owns them)."""
        async with self._uow() as uow:
            stuck = await uow.sessions.list_in_status(
                [SessionStatus.THINKING, SessionStatus.WORKING, SessionStatus.WAITING]
            )
            running = {
                session_id
                for session_id, worker in self._workers.items()
                if worker.turn or worker.started
            }
            mine = set(await self._ownership.settleable([session.id for session in stuck]))
            stuck = [session for session in stuck if session.id in mine - running]
            for session in stuck:
                await interrupt_session(uow, session, RESTART_REASON)
            await uow.commit()
        for session in stuck:  # taken over from a dead process: this one may have read it
            self._runner.forget_history(session.id)
        if stuck:
            logger.warning("recovered_interrupted_sessions", count=len(stuck))
        return [session.id for session in stuck]

    async def _on_takeover(self, sessions: list[UUID] | None) -> None:
        """Sessions of a dead process are this one's now: settle, then drain them (None:
        this process lost track, and looks at every waiting queue)."""
        await self._recover()
        if sessions is None:
            await self._inbox.wake_every_waiting_queue()
        for session_id in sessions or ():
            self._inbox.wake(session_id)

    async def _on_request(self, op: str, session_id: UUID, arguments: dict[str, Any]) -> object:
        """What another process asks of this one, as the owner of the session."""
        if op == WAKE:
            self._inbox.wake(session_id)
        elif op == CANCEL:
            return await self._cancel_here(
                session_id,
                drop_queue=bool(arguments.get("drop_queue")),
                drop_reason=str(arguments.get("drop_reason") or STOPPED_REASON),
            )
        elif op == STOP:
            await self._stop_here(session_id)
        elif op == RELEASE:
            await self._release_here(session_id)
        return None

    async def _answer_doorbell(self) -> None:
        while True:
            session_id = await self._inbox.next_woken()
            if session_id in self._reserved:
                self._reserved[session_id].woken = True  # answered once its send settles
                continue
            self._wake_worker(session_id)

    def _wake_worker(self, session_id: UUID) -> None:
        worker = self._workers.setdefault(session_id, _Worker())
        worker.kicked = True
        if worker.drain is None or worker.drain.done():
            worker.drain = asyncio.create_task(
                self._drain(session_id, worker), name=f"kumiai-session-{session_id}"
            )

    # --- turns their send starts ------------------------------------------------------

    async def prepare(self, session_id: UUID) -> None:
        """Implements :class:`TurnStarter`: a session no process owns is claimed by this
        one before the send's transaction, so its first turn here starts in the send
        too instead of going through the queue (a pending row, the doorbell, a claim's
        transaction of its own)."""
        if self._ownership.owns(session_id) or session_id in self._owned_elsewhere:
            return
        owner = await self._ownership.claim(session_id)
        if owner is not None and owner != self._ownership.process_id:
            if len(self._owned_elsewhere) >= OWNED_ELSEWHERE_KEPT:
                self._owned_elsewhere.clear()
            self._owned_elsewhere.add(session_id)

    def reserve(self, session: Session, runtime: str) -> TurnStart | None:
        """Implements :class:`TurnStarter`: a start when this process owns the session,
        no worker of the session is about (so no drain can claim meanwhile) and a slot
        of ``runtime`` is free."""
        session_id = session.id
        if session_id in self._workers or session_id in self._reserved:
            return None
        if not self._ownership.owns(session_id):
            return None  # its first turn here claims it through the queue
        slot = self._slots.try_take(runtime)
        if slot is None:
            return None
        self._reserved[session_id] = _Meanwhile()
        return _SendStart(self._runner, session, slot, self._begin, self._abandon)

    def _begin(self, claim: Claim, slot: Slot) -> None:
        session_id = claim.session.id
        meanwhile = self._reserved.pop(session_id)
        self._runner.announce_start(claim)
        worker = _Worker()
        worker.started = (claim, slot)
        # A wake during the send's transaction: the queue wants a look after the turn.
        worker.kicked = meanwhile.woken
        self._workers[session_id] = worker
        if not meanwhile.cancelled:
            # Its drain runs the turn, then looks at the queue (for wakes meanwhile too).
            worker.drain = asyncio.create_task(
                self._drain(session_id, worker), name=f"kumiai-session-{session_id}"
            )
        # Else the cancel waiting for this send settles the turn unrun.
        meanwhile.settled.set()

    def _abandon(self, session_id: UUID, slot: Slot) -> None:
        slot.release()
        meanwhile = self._reserved.pop(session_id)
        meanwhile.settled.set()
        if meanwhile.woken:
            self._wake_worker(session_id)

    # --- running ----------------------------------------------------------------------

    async def _drain(self, session_id: UUID, worker: _Worker) -> None:
        try:
            if worker.started is not None:
                claim, started_slot = worker.started
                worker.started = None
                try:
                    await self._run_one(session_id, worker, claim)
                finally:
                    started_slot.release()
                if not worker.kicked:
                    # Its queue was empty when the send started it, and every message
                    # queued since woke this worker: nothing waits, no claim to try.
                    return
            owner = await self._ownership.claim(session_id)
            if owner != self._ownership.process_id:
                if owner is not None:
                    await self._ownership.wake_owner(owner, session_id)
                return  # another process drains it (or takes it over if it died)
            runtime = await self._runtime_of(session_id)
            while not self._inbox.is_held(session_id):
                worker.kicked = False
                slot = await self._slots.take(runtime, session_id)
                try:
                    ran = not self._inbox.is_held(session_id) and await self._run_one(
                        session_id, worker
                    )
                finally:
                    slot.release()
                if not worker.kicked and (not ran or worker.waiting_behind == 0):
                    # Nothing to claim (or nothing waited behind the turn that ran), and
                    # no message woke the session since: the queue is empty.
                    break
        except asyncio.CancelledError:
            raise  # the server is shutting down
        except Exception as error:  # a drain must never die unseen
            logger.error("session_drain_crashed", session_id=str(session_id), exc_info=error)
        finally:
            if self._workers.get(session_id) is worker and worker.turn is None:
                # An idle worker holds nothing worth keeping; the next wake makes a new one.
                del self._workers[session_id]

    async def _runtime_of(self, session_id: UUID) -> str:
        """The session's runtime, whose slot its turns take: known since its last send,
        else read (retried through an outage, as a claim is)."""
        delay = RETRY_FIRST_DELAY
        while (runtime := self._slots.known_runtime(session_id)) is None:
            try:
                async with self._uow(read_only=True) as uow:
                    session = await uow.sessions.get(session_id)
            except DatabaseUnavailableError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_DELAY)
                continue
            # A session that is gone has no turn to run: any runtime's slot will do.
            backend = session.cli_backend if session is not None else CliBackend.CLAUDE
            return self._slots.runtime_of(session_id, backend)
        return runtime

    async def _run_one(self, session_id: UUID, worker: _Worker, claim: Claim | None = None) -> bool:
        """Run the next turn, if any (``claim``: the one its send started); False when
        nothing could start."""
        handle = TurnHandle()
        worker.handle = handle
        worker.turn = asyncio.create_task(
            self._runner.run(session_id, handle)
            if claim is None
            else self._run_started(claim, handle)
        )
        try:
            return await worker.turn
        except asyncio.CancelledError:
            if claim is not None and handle.input is None:
                # Cancelled before its first step: it settles all the same.
                await asyncio.shield(self._runner.settle_unrun(claim, handle.stop_reason))
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the drain itself is being cancelled: the server is shutting down
            return True  # only the turn was cancelled (a user's cancel): carry on
        finally:
            worker.waiting_behind = handle.waiting_behind
            worker.turn = None
            worker.handle = None

    async def _run_started(self, claim: Claim, handle: TurnHandle) -> bool:
        await self._runner.run_started(claim, handle)
        return True

    def draining(self, session_id: UUID) -> bool:
        """True while a worker drains the session's queue, between its turns too."""
        worker = self._workers.get(session_id)
        return worker is not None and worker.drain is not None and not worker.drain.done()

    def running(self, session_id: UUID) -> PendingInput | None:
        """The input whose turn runs now in this process, if any."""
        worker = self._workers.get(session_id)
        if worker is not None and worker.started is not None:
            return worker.started[0].item
        return worker.handle.input if worker is not None and worker.handle else None

    # --- stopping ---------------------------------------------------------------------

    async def cancel(
        self, session_id: UUID, *, drop_queue: bool = False, drop_reason: str = STOPPED_REASON
    ) -> bool:
        """Stop the running turn, if any, and hold (or drop) the queue.

        True if a turn stopped: it settles as ``cancelled`` by itself, which keeps the
        queue paused until ``resume`` or a new message.
        """
        owner = await self._ownership.owner_elsewhere(session_id)
        if owner is not None:
            stopped = await self._ownership.ask(
                owner, CANCEL, session_id, drop_queue=drop_queue, drop_reason=drop_reason
            )
            return stopped is True
        return await self._cancel_here(session_id, drop_queue=drop_queue, drop_reason=drop_reason)

    async def _cancel_here(self, session_id: UUID, *, drop_queue: bool, drop_reason: str) -> bool:
        self._inbox.hold(session_id)
        if drop_queue:
            await self._inbox.drop_waiting(session_id, drop_reason)
        # Announced before the turn's terminal event, so clients know nothing runs next.
        await self._inbox.announce(session_id)
        meanwhile = self._reserved.get(session_id)
        if meanwhile is not None:
            # A send is starting a turn in its transaction: once it commits, the turn
            # stops before it runs.
            meanwhile.cancelled = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(meanwhile.settled.wait(), SETTLE_TIMEOUT)
        worker = self._workers.get(session_id)
        if worker is not None and worker.started is not None:
            # Its send started it, no drain has run it yet: it stops unrun.
            claim, slot = worker.started
            worker.started = None
            try:
                await self._runner.settle_unrun(claim, StopReason.CANCEL)
            finally:
                slot.release()
                if worker.drain is None and self._workers.get(session_id) is worker:
                    del self._workers[session_id]
            return True
        turn = worker.turn if worker is not None else None
        if turn is None or turn.done():
            return False
        turn.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(turn), SETTLE_TIMEOUT)
        return True

    async def stop_session(self, session_id: UUID) -> None:
        """Before a session goes away: stop its turn, drop its queue, forget its events."""
        owner = await self._ownership.owner_elsewhere(session_id)
        if owner is None:
            await self._stop_here(session_id)
            return
        await self._ownership.ask(owner, STOP, session_id)
        # What this process heard of the session goes too.
        self._inbox.forget(session_id)
        self._hub.forget(session_id)

    async def _stop_here(self, session_id: UUID) -> None:
        await self._cancel_here(session_id, drop_queue=True, drop_reason=DELETED_REASON)
        worker = self._workers.pop(session_id, None)
        if worker is not None and worker.drain is not None:
            worker.drain.cancel()
        self._inbox.forget(session_id)
        self._hub.forget(session_id)
        self._slots.forget(session_id)
        await self._release_here(session_id)

    async def release(self, session_id: UUID) -> None:
        """The session is ending (deleted or archived): free what its turns held, in the
        process that runs them."""
        owner = await self._ownership.owner_elsewhere(session_id)
        if owner is not None:
            await self._ownership.ask(owner, RELEASE, session_id)
        else:
            await self._release_here(session_id)

    async def _release_here(self, session_id: UUID) -> None:
        for close in self._closers:
            await close(session_id)
        await self._ownership.release(session_id)

    async def shutdown(self) -> None:
        """Stop every run; each settles as interrupted, and its queue drains on restart."""
        if self._doorbell is not None:
            self._doorbell.cancel()
        drains, unrun = [], []
        for worker in self._workers.values():
            if worker.started is not None:
                unrun.append(worker.started)
                worker.started = None
            if worker.handle is not None:
                worker.handle.stopping_for(StopReason.SHUTDOWN)
            if worker.drain is not None and not worker.drain.done():
                drains.append(worker.drain)
        for task in drains:
            task.cancel()
        await asyncio.gather(*drains, return_exceptions=True)
        for claim, slot in unrun:
            await self._runner.settle_unrun(claim, StopReason.SHUTDOWN)
            slot.release()
        await self._waits.settle()  # the waits that ended with their drains are cleared
        if self._doorbell is not None:
            await asyncio.gather(self._doorbell, return_exceptions=True)
        # Last, once every turn here has settled: the sessions are free for the others.
        await self._ownership.leave()
