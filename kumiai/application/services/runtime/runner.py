"""One turn of one session: from claiming its message to the end of the agent's answer.

A turn starts with a *claim*: one transaction, under the session row's lock, moves the
oldest pending input into the transcript (its sequence, its ``message_created``) and
the session to ``thinking``. The claim is atomic and runs to its end even when the turn
is cancelled meanwhile, so a started turn always settles and an unstarted one leaves
its input pending. A claim that fails (the database is down) is retried until it
succeeds: nothing was started, nothing is lost.

A turn never holds a database session across the model stream: each step that
persists something (a text block, a tool call, a result, the final status) is its
own short unit of work, and its events go out when that unit of work commits.

Every started turn ends with exactly one terminal event (``done``, ``error`` or
``cancelled``). When the final status cannot be saved, the terminal event goes out
anyway and the save is retried until the database is back.

The worker that runs a turn hands it a :class:`TurnHandle`: the runner records there
which input it claimed, and the worker records why it stopped the turn, if it did.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from kumiai.application.ports.agent_runtime import AgentRuntime, ToolCall, TurnOutcome
from kumiai.application.ports.cli_backends import ORCHESTRATING_BACKENDS
from kumiai.application.ports.events import StreamPublisher
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import session_activity, utcnow
from kumiai.application.services.runtime.chains import chain_ref
from kumiai.application.services.runtime.context import (
    EarlyRead,
    PreparedTurn,
    TurnContextBuilder,
)
from kumiai.application.services.runtime.history.replay import (
    INTERRUPTED_BY_ERROR,
    INTERRUPTED_BY_SERVER,
    INTERRUPTED_BY_USER,
)
from kumiai.application.services.runtime.inbox import announce_queue
from kumiai.application.services.runtime.orchestration import CONTACT_PM
from kumiai.application.services.runtime.payloads import message_payload
from kumiai.application.services.runtime.sink import (
    AfterTool,
    PersistingSink,
    StreamFlush,
    usage_dict,
)
from kumiai.application.services.session_lifecycle import (
    answer_open_calls,
    cancel_turn,
    fail_turn,
    finish_turn,
    interrupt_session,
    mark_interrupted,
    settle_turn,
    start_turn,
)
from kumiai.application.services.tasks import TaskChange, TaskEvents, start_if_open
from kumiai.core.exceptions import DatabaseUnavailableError, KumiAIError
from kumiai.core.logging import get_logger
from kumiai.domain.entities import Message, PendingInput, Project, Session, UserProfile
from kumiai.domain.value_objects import EventType, SessionStatus

logger = get_logger(__name__)

CANCELLED_REASON = "cancelled by the user"
SHUTDOWN_REASON = "interrupted by server shutdown"
STALE_REASON = "the previous turn ended without settling"
RETRY_FIRST_DELAY = 0.2
RETRY_MAX_DELAY = 5.0


class StopReason(enum.Enum):
    """Why a worker cancelled a turn; it decides how the turn settles."""

    CANCEL = "cancel"
    """The user stopped it: ``cancelled``, and the queue waits for a resume."""
    SHUTDOWN = "shutdown"
    """The server is stopping: ``error`` (interrupted), and the queue drains after the
    restart."""


class TurnHandle:
    """One turn as its worker and its runner share it."""

    def __init__(self) -> None:
        self._input: PendingInput | None = None
        self._stop = StopReason.CANCEL
        self._behind = 0

    @property
    def input(self) -> PendingInput | None:
        """The pending input the turn claimed; None until (unless) it claims one."""
        return self._input

    @property
    def stop_reason(self) -> StopReason:
        return self._stop

    @property
    def waiting_behind(self) -> int:
        """How many messages waited behind the claimed one when it was claimed."""
        return self._behind

    def claimed(self, item: PendingInput, waiting_behind: int = 0) -> None:
        self._input = item
        self._behind = waiting_behind

    def stopping_for(self, reason: StopReason) -> None:
        """Record why the turn is about to be cancelled."""
        self._stop = reason


@dataclass(frozen=True)
class Claim:
    """A started turn: its input, its session, and its context's early read."""

    item: PendingInput
    session: Session
    message: Message
    early: asyncio.Future[EarlyRead] | None = None
    task_change: TaskChange | None = None


class TurnRunner:
    """Claims a session's next pending input, runs its turn and settles the session."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        events: StreamPublisher,
        runtime: AgentRuntime,
        contexts: TurnContextBuilder,
        after_tool: AfterTool | None = None,
        *,
        flush: StreamFlush | None = None,
    ) -> None:
        self._uow = uow
        self._events = events
        self._runtime = runtime
        self._contexts = contexts
        self._after_tool = after_tool
        self._flush = flush or StreamFlush()
        self._tasks = TaskEvents(events)

    def forget_history(self, session_id: UUID) -> None:
        """A row of the session changed in place (marked interrupted): its next turn
        reads its history afresh."""
        self._contexts.forget_history(session_id)

    async def run(self, session_id: UUID, turn: TurnHandle) -> bool:
        """Run the session's next turn; False when there was nothing to start."""
        claim = await self._claim_with_retry(session_id, turn)
        if claim is None:
            return False
        await self._turn(claim, turn)
        return True

    async def _turn(self, claim: Claim, turn: TurnHandle) -> None:
        sink = self._sink(claim, None)
        try:
            early = await _early_read(claim)
            item = claim.item
            chain = chain_ref(claim.session.id, item.id, item.metadata)
            prepared = await self._contexts.build(claim.session.id, early, chain, claim.message)
            sink = self._sink(claim, prepared.agent_name)
            outcome = await self._runtime.run_turn(prepared.request, prepared.toolbox, sink)
            await _answer_for_agent_without_orchestration(claim, prepared, sink)
        except asyncio.CancelledError:
            await asyncio.shield(self._settle_stopped(claim, sink, turn.stop_reason))
            raise
        except Exception as error:  # every failure must settle the session
            await self._settle_failed(claim, sink, error)
            return
        await self._settle_done(claim, sink, outcome)

    def _sink(self, claim: Claim, agent_name: str | None) -> PersistingSink:
        return PersistingSink(
            self._uow,
            self._events,
            claim.session,
            claim.item.run_id,
            agent_name,
            after_tool=self._after_tool,
            flush=self._flush,
        )

    # --- the claim ----------------------------------------------------------------------

    async def _claim_with_retry(self, session_id: UUID, turn: TurnHandle) -> Claim | None:
        delay = RETRY_FIRST_DELAY
        while True:
            attempt = asyncio.ensure_future(self._claim(session_id, turn))
            try:
                return await asyncio.shield(attempt)
            except asyncio.CancelledError:
                # A claim, once begun, completes: a turn it started must settle.
                try:
                    claim = await attempt
                except Exception:
                    raise asyncio.CancelledError from None  # it changed nothing
                if claim is not None:
                    await self._settle_stopped(claim, self._sink(claim, None), turn.stop_reason)
                raise
            except Exception as error:
                # The claim is one transaction: a failed one changed nothing.
                logger.warning(
                    "turn_claim_failed",
                    session_id=str(session_id),
                    error=str(error),
                    retry_in=delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_DELAY)

    async def _claim(self, session_id: UUID, turn: TurnHandle) -> Claim | None:
        async with self._uow() as uow:
            # The whole queue with the lock: under it no send adds to the queue, so
            # what follows the claimed item is what waits after this claim.
            session, project, queue, profile, _ = await uow.pending.locked_queue(session_id)
            if session is None or session.status is SessionStatus.CANCELLED:
                return None  # gone, or its queue is paused until resume
            if project is not None and project.is_archived:
                return None  # an archived project's queues wait for it to be unarchived
            if not queue:
                return None
            claim = await self.start_in(
                uow, session, queue[0], queue[1:], pending=True, project=project, profile=profile
            )
            if claim is None:
                return None  # dropped while this claim waited for the lock
            await uow.commit()
            # Before any other await: the item is never out of the queue and not running.
            turn.claimed(claim.item, waiting_behind=len(queue) - 1)
        self.announce_start(claim)
        return claim

    async def start_in(
        self,
        uow: UnitOfWork,
        session: Session,
        item: PendingInput,
        waiting: list[PendingInput],
        *,
        pending: bool,
        project: Project | None,
        profile: UserProfile | None,
    ) -> Claim | None:
        """Start the turn of ``item`` in the caller's transaction, which holds the session
        row's lock: ``item`` enters the transcript and the session moves to ``thinking``.
        ``pending`` when ``item`` waited in the queue (a send that starts its own turn
        never stored it there); ``project`` is the session's and ``profile`` the user's,
        as the caller read them.
        Announced when the caller commits, and then through :meth:`announce_start`.

        None, with nothing written, when the queue changed while the caller waited for
        the lock: ``item`` no longer waits (dropped by a cancel), or, for a send's, an
        input queued meanwhile waits, and goes first."""
        session_id = session.id
        # There is a turn to start: read what its context needs from outside the claim
        # meanwhile, on another connection.
        stale = session.status.is_running
        early = asyncio.ensure_future(
            self._contexts.read_early(session, project, profile, with_history=not stale)
        )
        early.add_done_callback(_ignore_failure)
        if stale:
            # No turn of this session is live (its worker is here, claiming), so the
            # status is what a failed settle left behind: repair it, don't refuse.
            await interrupt_session(uow, session, STALE_REASON, by=INTERRUPTED_BY_ERROR)
            self.forget_history(session_id)
        message = item.to_message()
        # The caller's read of the queue may predate inputs queued or dropped while it
        # waited for the lock: these writes check again, and start nothing if it changed.
        sent = session_activity(
            EventType.MESSAGE_SENT,
            session,
            message_id=str(message.id),
            from_session_id=str(item.sender_session_id) if item.sender_session_id else None,
        )
        if pending:
            started = await uow.pending.remove(item)
            if started:
                await uow.messages.append(message, recorded=sent)
        else:
            started = await uow.messages.append_unless_inputs_wait(message, sent)
        if not started:
            early.cancel()
            return None
        uow.publish(session_id, "message_created", message=message_payload(message))
        announce_queue(uow, session_id, waiting, paused=False)
        await start_turn(uow, session, item.id, item.run_id, utcnow())
        # Work begins on the session's task: an open one is now in progress.
        task_change: TaskChange | None = None
        if session.task_id is not None:
            task_change = await start_if_open(uow, session.task_id)
        uow.publish(session_id, "run_started", run_id=str(item.run_id), message_id=str(message.id))
        return Claim(
            item=item, session=session, message=message, early=early, task_change=task_change
        )

    def announce_start(self, claim: Claim) -> None:
        """What a committed start changed beyond the session (its task)."""
        self._tasks.publish(claim.task_change)

    async def run_started(self, claim: Claim, turn: TurnHandle) -> None:
        """Run a turn started elsewhere (by its send): :meth:`start_in`, committed."""
        turn.claimed(claim.item)
        await self._turn(claim, turn)

    async def settle_unrun(self, claim: Claim, reason: StopReason) -> None:
        """A started turn stopped before it ran: it settles as any stopped turn."""
        await self._settle_stopped(claim, self._sink(claim, None), reason)

    # --- settling -----------------------------------------------------------------------

    async def _settle_done(self, claim: Claim, sink: PersistingSink, outcome: TurnOutcome) -> None:
        await self._settle(
            claim,
            finish_turn,
            None,
            terminal="done",
            stop_reason=outcome.stop_reason,
            usage=usage_dict(sink.state.usage),
            iterations=outcome.iterations,
        )

    async def _settle_stopped(self, claim: Claim, sink: PersistingSink, reason: StopReason) -> None:
        if reason is StopReason.SHUTDOWN:
            await self._settle_error(
                claim, sink, SHUTDOWN_REASON, "interrupted", by=INTERRUPTED_BY_SERVER
            )
            return
        await self._settle(
            claim,
            cancel_turn,
            sink,
            interrupted=(INTERRUPTED_BY_USER, CANCELLED_REASON),
            terminal="cancelled",
            reason=CANCELLED_REASON,
        )

    async def _settle_failed(self, claim: Claim, sink: PersistingSink, error: Exception) -> None:
        if isinstance(error, KumiAIError):
            await self._settle_error(claim, sink, error.message, error.code)
            return
        logger.error(
            "turn_crashed", session_id=str(claim.session.id), error=repr(error), exc_info=error
        )
        await self._settle_error(claim, sink, f"internal error: {error}", "internal_error")

    async def _settle_error(
        self,
        claim: Claim,
        sink: PersistingSink,
        reason: str,
        code: str,
        *,
        by: str = INTERRUPTED_BY_ERROR,
    ) -> None:
        await self._settle(
            claim,
            fail_turn(reason),
            sink,
            interrupted=(by, reason),
            terminal="error",
            error=reason,
            code=code,
        )

    async def _settle(
        self,
        claim: Claim,
        end: Callable[[Session], None],
        leftovers: PersistingSink | None,
        *,
        terminal: str,
        interrupted: tuple[str, str] | None = None,
        **data: Any,
    ) -> None:
        """Save the end of the turn, then announce it; exactly one terminal event.

        ``interrupted`` (who ended the turn early, and why) marks the turn for the model.
        While the database is unavailable the terminal event goes out first, so no
        stream waits on an outage, and the save is retried until it succeeds.
        """
        session_id = claim.session.id
        run_id = str(claim.item.run_id)
        delay = RETRY_FIRST_DELAY
        announced = False
        while True:
            try:
                await self._save_end(claim, end, leftovers, interrupted)
                break
            except DatabaseUnavailableError as error:
                logger.warning(
                    "turn_settle_failed", session_id=str(session_id), error=str(error), retry=delay
                )
            except Exception as error:
                # Not an outage: retrying would fail the same way. The next claim (or the
                # next start-up) repairs the status this turn leaves behind.
                logger.error("turn_settle_crashed", session_id=str(session_id), exc_info=error)
                break
            if not announced:
                self._events.publish(session_id, terminal, run_id=run_id, **data)
                announced = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_DELAY)
        if not announced:
            self._events.publish(session_id, terminal, run_id=run_id, **data)
        if interrupted is not None:
            # The window kept between turns holds the claimed message as it was read.
            self.forget_history(session_id)

    async def _save_end(
        self,
        claim: Claim,
        end: Callable[[Session], None],
        leftovers: PersistingSink | None,
        interrupted: tuple[str, str] | None,
    ) -> None:
        """Write leftovers (the unfinished text of ``leftovers``) and the final status in
        one unit of work."""
        async with self._uow() as uow:
            session = await uow.sessions.get_for_update(claim.session.id)
            if session is None:
                return
            if leftovers is not None:
                await leftovers.save_unfinished(uow)
            if interrupted is not None:
                by, reason = interrupted
                await answer_open_calls(uow, session.id, reason)
                await mark_interrupted(uow, session.id, by, reason)
            await settle_turn(uow, session, end, claim.item.run_id)
            await uow.commit()


async def _answer_for_agent_without_orchestration(
    claim: Claim, prepared: PreparedTurn, sink: PersistingSink
) -> None:
    """A specialist on a CLI that cannot call KumiAI's orchestration tools cannot report to
    its PM (``contact_pm``) itself: when another agent asked for the turn, its answer (the
    turn's last text) goes to the PM through ``contact_pm``, as from the specialist."""
    request = prepared.request
    if request.backend in ORCHESTRATING_BACKENDS or claim.item.sender_session_id is None:
        return
    if not sink.state.last_text or CONTACT_PM not in {spec.name for spec in request.tools}:
        return
    call = ToolCall(f"answer_{claim.item.run_id}", CONTACT_PM, {"message": sink.state.last_text})
    outcome = await prepared.toolbox.execute(call)
    if outcome.is_error:
        logger.warning(
            "answer_to_pm_failed", session_id=str(claim.session.id), error=outcome.content
        )


async def _early_read(claim: Claim) -> EarlyRead | None:
    """The claim's early read of the context, or None when it failed (then the context
    is read in full)."""
    if claim.early is None:
        return None
    try:
        return await claim.early
    except Exception:
        return None


def _ignore_failure(task: asyncio.Future[EarlyRead]) -> None:
    # A failed early read costs a full read later; a claim that failed never uses it.
    if not task.cancelled():
        task.exception()
