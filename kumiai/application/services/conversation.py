"""The use cases behind talking to a session; the run manager does the work."""

from __future__ import annotations

from uuid import UUID

from kumiai.application.dtos.conversation import QueuedItemView, QueueView, SendMessage, SentMessage
from kumiai.application.dtos.messages import MessageView
from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.application.services.runtime.events import EventHub, Subscription
from kumiai.application.services.runtime.manager import RunManager
from kumiai.application.services.sessions import require_session, resume_session
from kumiai.core.exceptions import NotFoundError
from kumiai.domain.value_objects import SessionStatus


class ConversationService:
    def __init__(self, uow: UnitOfWorkFactory, runs: RunManager, hub: EventHub) -> None:
        self._uow = uow
        self._runs = runs
        self._hub = hub

    async def send(self, session_id: UUID, body: SendMessage) -> SentMessage:
        result = await self._runs.send(session_id, body.content)
        return SentMessage(
            message=MessageView.of(result.message), run_id=result.run_id, queued=result.queued
        )

    async def interrupt(self, session_id: UUID) -> bool:
        """Stop the running response and pause the queue, but keep the session live.

        The stopped turn settles as ``cancelled``; the session is then reopened
        (``idle``), because stopping a response is not ending the session (the v1 client
        passes over cancelled assistant sessions). True if a turn was stopped.
        """
        await self._require_session(session_id)
        if not await self._runs.cancel(session_id):
            return False
        await self._reopen(session_id)
        return True

    async def _reopen(self, session_id: UUID) -> None:
        async with self._uow() as uow:
            session = await require_session(uow, session_id, for_update=True)
            if session.status is not SessionStatus.CANCELLED:
                return
            await resume_session(uow, session)
            await uow.commit()
        self._hub.publish(session_id, "status_changed", status=session.status.value)

    async def subscribe(self, session_id: UUID, after: int | None) -> Subscription:
        await self._require_session(session_id)
        return self._hub.subscribe(session_id, after=after)

    async def queue(self, session_id: UUID) -> QueueView:
        await self._require_session(session_id)
        running = self._runs.current_run(session_id)
        waiting = [QueuedItemView.of(item) for item in self._runs.queue(session_id)]
        return QueueView(
            session_id=session_id,
            running=QueuedItemView.of(running) if running else None,
            size=len(waiting),
            messages=waiting,
        )

    async def _require_session(self, session_id: UUID) -> None:
        async with self._uow() as uow:
            if await uow.sessions.get(session_id) is None:
                raise NotFoundError("session", session_id)
