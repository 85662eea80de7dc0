"""The inbox: accepts messages for sessions, keeps their queues, and wakes the workers.

Sending a message accepts it durably as *pending input* (``pending_inputs``), in one
transaction that holds the session row's lock, so whether it waits (``queued``) is
decided against every other send and turn start, in this process or another. Then the
inbox rings its doorbell: the session's worker (:mod:`.workers`) answers by draining
the queue, one turn per message. A user's message to an idle session skips the queue:
given a :class:`TurnStarter`, the send starts its turn in its own transaction and hands
it to the workers, which saves the claim's round trips before the model request. The
inbox never runs a turn and knows no worker (only that protocol); the workers know the
inbox. So a turn that messages another session (delegation) only
rings a bell, and never calls back into what runs it.

A queue can be *held*: the workers hold it when they stop a session (cancel), and it
claims nothing more until a new message or a resume wakes it again. That hold lives in
the owner's memory and guards the moment until the cancel is stored; what every
process reads (and says, as the waiting reason ``held``) is the session's status,
``cancelled``, which no claim goes past either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from kumiai.application.dtos.conversation import WaitingReason, WaitingView
from kumiai.application.ports.events import EventPublisher
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import found, utcnow
from kumiai.application.services.runtime.payloads import pending_payload
from kumiai.application.services.runtime.slots import SERVER, TurnSlots
from kumiai.application.services.session_lifecycle import resume_session
from kumiai.core.exceptions import ClaudeUnavailableError, NotFoundError, PayloadTooLargeError
from kumiai.domain.entities import PendingInput, Project, Session, UserProfile
from kumiai.domain.value_objects import SessionStatus
from kumiai.domain.value_objects.cli_backend import CliBackend

MAX_MESSAGE_CHARS = 1_000_000
DROPPED_LISTED = 50


# The reasons a queue waits for the user to act (resume, a message, an unarchive) rather
# than for something that ends by itself: queue_changed calls such a queue paused too.
_PAUSED = frozenset({WaitingReason.HELD, WaitingReason.PROJECT_ARCHIVED})


@dataclass(frozen=True)
class SendResult:
    item: PendingInput
    queued: bool
    event_head: int
    """The session's events before this send have ids up to this one, those after
    it (its turn's) higher: where a stream of its turn starts."""


@dataclass(frozen=True)
class WaitingQueue:
    """A session's queue as the database holds it, whichever process runs its turns."""

    running: PendingInput | None
    """The input whose turn runs now."""
    waiting: list[PendingInput]
    dropped: list[PendingInput]
    paused: bool
    why: WaitingView | None
    """Why the waiting messages wait; None when none does."""


class TurnStart(Protocol):
    """A turn a send starts in its own transaction, within a slot reserved for it."""

    async def claim(
        self,
        uow: UnitOfWork,
        item: PendingInput,
        project: Project | None,
        profile: UserProfile | None,
    ) -> bool:
        """Start the turn of ``item`` in the send's transaction (it holds the row lock);
        ``project`` is the session's and ``profile`` the user's, as the send read them.
        False, with nothing written, when an input was queued while the send waited
        for the lock: it goes first."""
        ...

    def begin(self) -> None:
        """The transaction committed: run the turn."""
        ...

    def abandon(self) -> None:
        """The transaction failed: nothing started; free the slot."""
        ...


class TurnStarter(Protocol):
    """Who runs turns (the workers), as a send sees them."""

    async def prepare(self, session_id: UUID) -> None:
        """Before the send's transaction: make its turn startable there if it can be
        (own the session when no process does)."""
        ...

    def reserve(self, session: Session, runtime: str) -> TurnStart | None:
        """A start for the session's next turn, or None when it must go through the
        queue (a worker of the session is about, or no slot of ``runtime`` is free)."""
        ...


def announce_queue(
    events: EventPublisher, session_id: UUID, waiting: list[PendingInput], *, paused: bool
) -> None:
    """``queue_changed``: what waits now, and whether it is paused (the one place its
    payload is built; ``events`` is a unit of work when it announces a change it makes)."""
    events.publish(
        session_id,
        "queue_changed",
        size=len(waiting),
        paused=paused,
        messages=[pending_payload(item) for item in waiting],
    )


class Inbox:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        events: EventPublisher,
        slots: TurnSlots,
        claude_configured: Callable[[], bool],
    ) -> None:
        self._uow = uow
        self._events = events
        self._slots = slots
        self._claude_configured = claude_configured
        self._held: set[UUID] = set()
        self._doorbell: asyncio.Queue[UUID] = asyncio.Queue()

    async def accept(
        self,
        session_id: UUID,
        content: str,
        *,
        sender_session_id: UUID | None = None,
        sender_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        starter: TurnStarter | None = None,
    ) -> SendResult:
        """Accept a message durably and wake the session's worker; with a ``starter``,
        a message to an idle session starts its turn in the same transaction."""
        if len(content) > MAX_MESSAGE_CHARS:
            raise PayloadTooLargeError(f"a message may hold at most {MAX_MESSAGE_CHARS} characters")
        if starter is not None:
            await starter.prepare(session_id)
        async with self._uow() as uow:
            # The row lock orders this send against other sends and turn starts.
            found, project, ahead, profile, event_head = await uow.pending.locked_queue(session_id)
            session = self._open_session(session_id, found, project)
            item = PendingInput.accept(
                session_id, content, sender_session_id, sender_name, metadata
            )
            runtime = self._slots.runtime_of(session_id, session.cli_backend)
            idle = not ahead and not session.status.is_running
            start = starter.reserve(session, runtime) if idle and starter is not None else None
            try:
                if session.status is SessionStatus.CANCELLED:
                    # A new message to a stopped session is a request to carry on.
                    await resume_session(uow, session)
                # Nothing waits and a slot is free: the turn starts in this very
                # transaction, no round trip through the queue.
                if start is not None and not await start.claim(uow, item, project, profile):
                    # An input was queued while this send waited for the lock (its read
                    # of the queue began before): the message waits behind it.
                    start.abandon()
                    start, idle = None, False
                    ahead = await uow.pending.waiting(session_id)
                queued = not idle or (start is None and self._slots.full(runtime))
                if queued:
                    item.metadata = {**item.metadata, "queued": True}
                if start is None:
                    await uow.pending.add(item)
                if queued:
                    announce_queue(uow, session_id, [*ahead, item], paused=False)
                await uow.commit()
            except BaseException:
                if start is not None:
                    start.abandon()
                raise
        if start is not None:
            self._held.discard(session_id)
            start.begin()
        else:
            self.wake(session_id)
        return SendResult(item=item, queued=queued, event_head=event_head)

    def _open_session(
        self, session_id: UUID, session: Session | None, project: Project | None
    ) -> Session:
        """The session a message may be sent to (``project`` is its own): 404 for none,
        409 in an archived project, 503 without Claude."""
        if session is None:
            raise NotFoundError("session", session_id)
        if project is not None:
            project.refuse_if_archived()
        # An agent on another CLI needs that CLI, not Claude; a missing CLI fails its turn.
        if session.cli_backend is CliBackend.CLAUDE:
            self._require_claude(session_id)
        return session

    def _require_claude(self, session_id: UUID) -> None:
        if not self._claude_configured():
            error = ClaudeUnavailableError(
                "Claude is not configured: set ANTHROPIC_API_KEY, or log in to Claude Code"
                " (or set CLAUDE_CODE_OAUTH_TOKEN), and restart KumiAI"
            )
            self._events.publish(session_id, "error", error=error.message, code=error.code)
            raise error

    # --- waking and holding -----------------------------------------------------------

    def wake(self, session_id: UUID) -> None:
        """Let the session's queue drain (again): after a send, a resume, an unarchive."""
        self._held.discard(session_id)
        self._doorbell.put_nowait(session_id)

    def hold(self, session_id: UUID) -> None:
        """Claim nothing more from the session's queue until it is woken again."""
        self._held.add(session_id)

    def is_held(self, session_id: UUID) -> bool:
        return session_id in self._held

    def forget(self, session_id: UUID) -> None:
        """The session is gone: nothing to hold any more."""
        self._held.discard(session_id)

    async def next_woken(self) -> UUID:
        """The next session whose queue was woken (the workers wait on this)."""
        return await self._doorbell.get()

    async def wake_every_waiting_queue(self) -> None:
        """At start-up: every session with pending input drains, so what was accepted
        before a crash is answered without anyone asking."""
        async with self._uow(read_only=True) as uow:
            waiting = await uow.pending.sessions_waiting()
        for session_id in waiting:
            self.wake(session_id)

    # --- the queue --------------------------------------------------------------------

    async def queue(self, session_id: UUID) -> WaitingQueue:
        async with self._uow(read_only=True) as uow:
            row, in_archive = await uow.sessions.get_with_waiting(session_id)
            session = found(row, "session", session_id)
            waiting = await uow.pending.waiting(session_id)
            dropped = await uow.pending.dropped(session_id, DROPPED_LISTED)
            why = None
            if waiting:
                # From what the session's row came with: a query of its own only when an
                # input arrived between the two reads.
                known = None if in_archive is None else {session_id: in_archive}
                why = (await self.why_waiting(uow, [session], known)).get(session_id)
            running = await _running(uow, session)
        return WaitingQueue(
            running=running,
            waiting=waiting,
            dropped=dropped,
            paused=why is not None and why.reason in _PAUSED,
            why=why,
        )

    async def why_waiting(
        self,
        uow: UnitOfWork,
        sessions: Sequence[Session],
        waiting: Mapping[UUID, bool] | None = None,
    ) -> dict[UUID, WaitingView]:
        """Why each session's waiting messages wait, for the sessions with messages
        waiting, in the caller's unit of work: one query, however many sessions, or none
        when the caller read ``waiting`` with the rows (``waiting_among``'s answer)."""
        if waiting is None:
            waiting = await uow.pending.waiting_among([session.id for session in sessions])
        return {
            session.id: self._why(session, project_archived=waiting[session.id])
            for session in sessions
            if session.id in waiting
        }

    def _why(self, session: Session, *, project_archived: bool) -> WaitingView:
        # Read from the rows alone, so every server process gives the same answer: a
        # queue is held while its session is cancelled (the hold the workers keep in
        # memory only guards the moment until the cancel is stored, in its owner).
        if session.status is SessionStatus.CANCELLED:
            return WaitingView(
                reason=WaitingReason.HELD,
                description="held after a cancel: resume the session, or send a message",
            )
        if project_archived:
            return WaitingView(
                reason=WaitingReason.PROJECT_ARCHIVED,
                description="the project is archived: its queues wait for it to be unarchived",
            )
        if session.status.is_running:
            return WaitingView(
                reason=WaitingReason.RUNNING_TURN,
                description="queued behind the turn the session is running",
            )
        # Recorded on the row by the process that owns the session, for all to read.
        runtime = session.waiting_slot
        if runtime is not None:
            cap = "the server-wide cap" if runtime == SERVER else f"runtime {runtime}'s cap"
            return WaitingView(
                reason=WaitingReason.SLOT,
                runtime=runtime,
                description=f"waiting for a slot: {cap} of turns running at once is reached",
            )
        return WaitingView(reason=WaitingReason.STARTING, description="its turn is starting")

    async def drop_waiting(self, session_id: UUID, reason: str) -> None:
        """Take every waiting message off the queue; they stay listable as dropped."""
        async with self._uow() as uow:
            now = utcnow()
            for item in await uow.pending.waiting(session_id):
                item.drop(reason, now)
            await uow.commit()

    async def announce(self, session_id: UUID) -> None:
        """Tell clients what waits now (after a cancel: nothing runs next while paused)."""
        async with self._uow(read_only=True) as uow:
            waiting = await uow.pending.waiting(session_id)
        announce_queue(self._events, session_id, waiting, paused=bool(waiting))


async def _running(uow: UnitOfWork, session: Session) -> PendingInput | None:
    """The input of the turn in progress, as its start stored it on the session row."""
    input_id, run_id = session.turn_input_id, session.turn_run_id
    if not session.status.is_running or input_id is None or run_id is None:
        return None
    message = await uow.messages.get(input_id)
    return PendingInput.running(message, run_id) if message is not None else None
