"""Every change of a session's status, in one place.

Each function takes the caller's unit of work, moves the session through its state
machine (the entity's own methods), writes the activity row, and hands the unit of
work a ``status_changed`` event, which it announces once it commits. So a session is
created, resumed, reopened, cancelled or settled the same way whoever asks (a user, a
PM change, a deletion, a turn), and clients hear of every move exactly when it is
stored. This is the only module that announces ``status_changed``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from kumiai.application.ports.unit_of_work import UnitOfWork
from kumiai.application.services.common import record_session_activity, session_activity, utcnow
from kumiai.application.services.runtime.history.replay import (
    INTERRUPTED,
    INTERRUPTED_BY_SERVER,
)
from kumiai.domain.entities import ActivityEntry, Message, Session, synthetic_results_for
from kumiai.domain.value_objects import EventType, SessionStatus

STATUS_CHANGED = "status_changed"


async def open_session(uow: UnitOfWork, session: Session) -> None:
    """Persist a new session once it is set up (``initializing`` -> ``idle``)."""
    session.mark_ready()
    await uow.sessions.add(session)
    await record_session_activity(
        uow,
        EventType.SESSION_CREATED,
        session,
        session_type=session.session_type,
        character_id=session.character_id,
        task_id=session.task_id,
    )


async def resume_session(uow: UnitOfWork, session: Session) -> None:
    """Reopen an ended session (``completed``/``error``/``cancelled`` -> ``idle``)."""
    session.resume()
    await _record(uow, EventType.SESSION_RESUMED, session)


async def cancel_session(uow: UnitOfWork, session: Session, *, announce: bool = True) -> None:
    """Stop a live session, whoever asks (a user, a PM change, a deletion)."""
    session.cancel()
    await _record(uow, EventType.SESSION_CANCELLED, session, announce=announce)


async def stop_if_live(uow: UnitOfWork, session: Session, *, announce: bool = True) -> None:
    """Cancel the session unless it has already ended (an ended one is left as it is)."""
    if session.status.can_move_to(SessionStatus.CANCELLED):
        await cancel_session(uow, session, announce=announce)


async def retire_session(uow: UnitOfWork, session: Session, now: datetime) -> None:
    """Stop and soft-delete a session. Nothing is announced: its events are forgotten."""
    await stop_if_live(uow, session, announce=False)
    session.soft_delete(now)
    await _record(uow, EventType.SESSION_DELETED, session, announce=False)


async def complete_session(uow: UnitOfWork, session: Session) -> None:
    """The session's work is done (``idle`` -> ``completed``)."""
    session.complete()
    await _record(uow, EventType.SESSION_COMPLETED, session)


async def reset_session(uow: UnitOfWork, session: Session, messages_deleted: int) -> None:
    """The session starts over in place: back to ``idle`` through the state machine's
    own moves, whatever its status."""
    if session.status.is_running:  # a turn that did not settle in time
        session.cancel()
    session.reopen()
    await _record(uow, EventType.SESSION_RESET, session, messages_deleted=messages_deleted)


# --- turns ------------------------------------------------------------------------------


async def start_turn(
    uow: UnitOfWork, session: Session, input_id: UUID, run_id: UUID, now: datetime
) -> None:
    """A claimed message (``input_id``) starts a turn: the session is reopened if it had
    ended (a new message is a request to carry on), then moves to ``thinking``. The row
    keeps which turn runs, for any server process to read."""
    if session.status.is_terminal:
        session.resume()
        await _record(uow, EventType.SESSION_RESUMED, session, announce=False)
    session.reopen()
    session.start(now)
    session.turn_input_id, session.turn_run_id = input_id, run_id
    # No slot is waited for any more (its owner clears the mark too; one a dead owner
    # left goes here, in an UPDATE the claim makes anyway).
    if session.waiting_slot is not None:
        session.waiting_slot = None
    # The row and its activity row in one statement: a turn starts on every send.
    await uow.sessions.save_start(session, _entry(EventType.SESSION_STARTED, session, run_id))
    _announce(uow, session, run_id)


async def begin_tool(uow: UnitOfWork, session_id: UUID, run_id: UUID) -> None:
    """The agent calls a tool: ``thinking`` -> ``working``."""
    session = await uow.sessions.get_for_update(session_id)
    if session is not None and session.status is SessionStatus.THINKING:
        session.begin_tool()
        _announce(uow, session, run_id)


async def end_tool(uow: UnitOfWork, session_id: UUID, run_id: UUID) -> None:
    """The last open tool returned: ``working`` -> ``thinking``."""
    session = await uow.sessions.get_for_update(session_id)
    if session is not None and session.status is SessionStatus.WORKING:
        session.end_tool()
        _announce(uow, session, run_id)


async def wait_for_answer(uow: UnitOfWork, session_id: UUID) -> None:
    """The agent asked the user a question: ``thinking``/``working`` -> ``waiting``.

    Announced without the run, so clients show the session at rest at once (a status
    with a run is otherwise held back until the run ends)."""
    session = await uow.sessions.get_for_update(session_id)
    if session is not None and session.status in (SessionStatus.THINKING, SessionStatus.WORKING):
        session.wait()
        _announce(uow, session, None)


async def take_answer(uow: UnitOfWork, session_id: UUID, run_id: UUID | None) -> None:
    """The user answered: ``waiting`` -> ``thinking``, and the turn goes on."""
    session = await uow.sessions.get_for_update(session_id)
    if session is not None and session.status is SessionStatus.WAITING:
        session.start(utcnow())
        _announce(uow, session, run_id)


def finish_turn(session: Session) -> None:
    session.finish_turn()


def cancel_turn(session: Session) -> None:
    session.cancel()


def fail_turn(reason: str) -> Callable[[Session], None]:
    def fail(session: Session) -> None:
        session.fail(reason)

    return fail


async def settle_turn(
    uow: UnitOfWork, session: Session, end: Callable[[Session], None], run_id: UUID
) -> None:
    """The turn ended: ``end`` moves the session out of its running status (``idle``,
    ``cancelled`` or ``error``), unless something else already did."""
    if session.status.is_running:
        end(session)
    event = _ENDS.get(session.status)
    if event is None:
        _announce(uow, session, run_id)
    else:
        await _record(uow, event, session, run_id=run_id)


async def interrupt_session(
    uow: UnitOfWork, session: Session, reason: str, *, by: str = INTERRUPTED_BY_SERVER
) -> None:
    """A session whose turn died with no one to settle it: answer its open tool calls,
    mark the turn interrupted and move it to ``error``, so it can be resumed."""
    await answer_open_calls(uow, session.id, reason)
    await mark_interrupted(uow, session.id, by, reason)
    session.fail(reason)
    await _record(uow, EventType.SESSION_FAILED, session)


async def mark_interrupted(uow: UnitOfWork, session_id: UUID, by: str, reason: str) -> None:
    """The turn that just ended early says so on its last row (the claimed message when
    nothing followed it), so the model's next request tells it (see ``replay``).

    Called once the turn's leftovers (partial text, synthetic results) are written.
    """
    newest = await uow.messages.newest(session_id, limit=1)
    if newest:
        await uow.messages.merge_metadata(newest[0].id, {INTERRUPTED: {"by": by, "reason": reason}})


async def answer_open_calls(uow: UnitOfWork, session_id: UUID, reason: str) -> list[Message]:
    """Synthetic error results for the session's unanswered tool calls."""
    open_calls = await uow.messages.unanswered_tool_uses(session_id)
    results = synthetic_results_for(open_calls, reason)
    for result in results:
        await uow.messages.append(result)
    return results


# --- private ----------------------------------------------------------------------------

_ENDS = {
    SessionStatus.CANCELLED: EventType.SESSION_CANCELLED,
    SessionStatus.ERROR: EventType.SESSION_FAILED,
}


async def _record(
    uow: UnitOfWork,
    event: EventType,
    session: Session,
    *,
    run_id: UUID | None = None,
    announce: bool = True,
    **data: object,
) -> None:
    """The activity row of a status change, and its announcement after commit."""
    await uow.activity.add(_entry(event, session, run_id, **data))
    if announce:
        _announce(uow, session, run_id)


def _entry(
    event: EventType, session: Session, run_id: UUID | None, **data: object
) -> ActivityEntry:
    """The activity entry of a status change: the new status, the error of a failed
    session, the turn's run."""
    if session.status is SessionStatus.ERROR:
        data["error"] = session.error_message
    if run_id is not None:
        data["run_id"] = str(run_id)
    return session_activity(event, session, status=session.status, **data)


def _announce(uow: UnitOfWork, session: Session, run_id: UUID | None) -> None:
    extra = {} if run_id is None else {"run_id": str(run_id)}
    uow.publish(session.id, STATUS_CHANGED, status=session.status.value, **extra)
