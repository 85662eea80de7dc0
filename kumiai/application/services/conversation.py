"""The use cases behind talking to a session; the inbox and the workers do the work."""

from __future__ import annotations

from uuid import UUID

from kumiai.application.dtos.conversation import (
    AnswerQuestions,
    AnswersTaken,
    QueuedItemView,
    QueueView,
    SendMessage,
    SentMessage,
)
from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.application.services.common import require_session
from kumiai.application.services.runtime.events import EventHub, Subscription
from kumiai.application.services.runtime.inbox import Inbox
from kumiai.application.services.runtime.questions import AnsweredQuestion, QuestionDesk
from kumiai.application.services.runtime.workers import SessionWorkers
from kumiai.application.services.session_lifecycle import resume_session
from kumiai.core.exceptions import NotFoundError
from kumiai.domain.value_objects import SessionStatus

INTERRUPT_REASON = "cleared by interrupt"


class ConversationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        inbox: Inbox,
        workers: SessionWorkers,
        hub: EventHub,
        questions: QuestionDesk,
    ) -> None:
        self._uow = uow
        self._inbox = inbox
        self._questions = questions
        self._workers = workers
        self._hub = hub

    async def send(self, session_id: UUID, body: SendMessage) -> SentMessage:
        """Queue the user's message, or, while the agent waits on a question, answer it."""
        sent, _ = await self._send(session_id, body)
        return sent

    async def _send(self, session_id: UUID, body: SendMessage) -> tuple[SentMessage, int | None]:
        """:meth:`send`, with the head of the session's events before the message when
        it went through the queue (None for an answer)."""
        answered = await self._questions.answer_with_message(session_id, body.content)
        if answered is not None:
            return _sent_answer(answered), None
        # A user's message to an idle session starts its turn in the send's transaction.
        result = await self._inbox.accept(session_id, body.content, starter=self._workers)
        sent = SentMessage(
            message_id=result.item.id, run_id=result.item.run_id, queued=result.queued
        )
        return sent, result.event_head

    async def answer(self, session_id: UUID, body: AnswerQuestions) -> AnswersTaken:
        """Structured answers to the question the session waits on (409 when none)."""
        await self._require_session(session_id)
        answered = await self._questions.answer(session_id, body.answers)
        return AnswersTaken(
            session_id=session_id,
            tool_use_id=answered.tool_use_id,
            message_id=answered.message_id,
            run_id=answered.run_id,
            answers=answered.answers,
        )

    async def interrupt(self, session_id: UUID) -> bool:
        """Stop the running response and clear the queue, but keep the session live.

        As in the original app: the queued messages are dropped (still listable through
        v2, never answered) and an empty queue is announced. The stopped turn settles as
        ``cancelled``; the session is then reopened (``idle``), because stopping a
        response is not ending the session (the v1 client passes over cancelled
        assistant sessions). True if a turn was stopped.
        """
        await self._require_session(session_id)
        stopped = await self._workers.cancel(
            session_id, drop_queue=True, drop_reason=INTERRUPT_REASON
        )
        await self._reopen(session_id)
        return stopped

    async def _reopen(self, session_id: UUID) -> None:
        async with self._uow() as uow:
            session = await require_session(uow, session_id, for_update=True)
            if session.status is not SessionStatus.CANCELLED:
                return
            await resume_session(uow, session)
            await uow.commit()

    async def send_and_follow(
        self, session_id: UUID, body: SendMessage
    ) -> tuple[Subscription, SentMessage]:
        """Subscribe, then send, so the subscription sees every event of the turn.

        The send itself finds the session (404 otherwise), so the subscription skips
        the separate look-up ``subscribe`` makes: one transaction less before the turn.
        And the send reads where the session's events stood under its lock, so the
        subscription starts there without a read of its own.
        """
        subscription = await self._hub.follow_send(session_id)
        try:
            sent, event_head = await self._send(session_id, body)
        except NotFoundError:
            subscription.close()
            self._hub.forget(session_id)  # no session, so no log to keep either
            raise
        except BaseException:
            subscription.close()
            raise
        subscription.start_after(event_head)
        return subscription, sent

    async def subscribe(self, session_id: UUID, after: int | None) -> Subscription:
        await self._require_session(session_id)
        return await self._hub.subscribe(session_id, after=after)

    async def queue(self, session_id: UUID) -> QueueView:
        state = await self._inbox.queue(session_id)
        return QueueView(
            session_id=session_id,
            running=QueuedItemView.of(state.running) if state.running else None,
            size=len(state.waiting),
            paused=state.paused,
            messages=[QueuedItemView.of(item) for item in state.waiting],
            waiting=state.why,
            dropped=[QueuedItemView.of(item) for item in state.dropped],
        )

    async def _require_session(self, session_id: UUID) -> None:
        async with self._uow(read_only=True) as uow:
            await require_session(uow, session_id)


def _sent_answer(answered: AnsweredQuestion) -> SentMessage:
    """A message that answered a question: it is that call's result, in the running turn."""
    return SentMessage(
        message_id=answered.message_id,
        run_id=answered.run_id,
        queued=False,
        answers_tool_use_id=answered.tool_use_id,
    )
