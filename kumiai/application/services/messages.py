"""A session's conversation: paging through it and appending to it."""

from __future__ import annotations

from uuid import UUID

from kumiai.application.dtos.messages import ChatPage, MessageView
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import record_session_activity
from kumiai.application.services.sessions import agents_of_sessions, page_of, require_session
from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import Message, check_tool_result_pairs
from kumiai.domain.repositories import DEFAULT_PAGE_SIZE, Page, SortOrder
from kumiai.domain.value_objects import EventType, MessageRole

# What a chat shows as rows of their own: results fold into their calls, notices are hidden.
CHAT_ROLES = (MessageRole.USER, MessageRole.ASSISTANT)


class MessageService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def list_messages(
        self,
        session_id: UUID,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        before: int | None = None,
        after: int | None = None,
        order: SortOrder = "asc",
        cursor: str | None = None,
    ) -> Page[MessageView]:
        """Messages strictly between ``after`` and ``before`` (sequences), walking ``order``;
        a ``cursor`` from the previous page continues that walk."""
        async with self._uow() as uow:
            await require_session(uow, session_id)
            page = await uow.messages.page(
                session_id, limit=limit, before=before, after=after, order=order, cursor=cursor
            )
            return page_of(page, MessageView.of)

    async def chat_page(
        self, session_id: UUID, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> ChatPage:
        """The newest ``limit`` chat rows, or those just older than ``cursor``'s page."""
        async with self._uow() as uow:
            session = await require_session(uow, session_id)
            page = await uow.messages.page(
                session_id, limit=limit, order="desc", cursor=cursor, roles=CHAT_ROLES
            )
            rows = page.items[::-1]
            calls = [row.tool_use_id for row in rows if row.is_tool_use and row.tool_use_id]
            results = await uow.messages.tool_results(session_id, calls)
            senders = [row.sender_session_id for row in rows if row.sender_session_id]
            agents = await agents_of_sessions(uow, [session.id, *senders])
            return ChatPage(
                items=[MessageView.of(row) for row in rows],
                results={str(row.tool_use_id): MessageView.of(row) for row in results},
                agent=agents.get(session.id),
                senders={key: agent for key, agent in agents.items() if key in senders},
                next_cursor=page.next_cursor,
            )

    async def append(self, session_id: UUID, message: Message) -> MessageView:
        """Persist ``message`` with the session's next gapless sequence.

        A tool result must answer an earlier, unanswered tool call of the session, and a
        tool call id must not repeat (422 otherwise).
        """
        if message.session_id != session_id:
            raise ValidationError(
                "the message belongs to another session",
                details={
                    "session_id": str(session_id),
                    "message_session_id": str(message.session_id),
                },
            )
        async with self._uow() as uow:
            # The row lock serialises appends per session, so two results cannot both
            # pass the pairing check for the same call.
            session = await require_session(uow, session_id, for_update=True)
            await _check_pairing(uow, message)
            stored = await uow.messages.append(message)
            await record_session_activity(
                uow,
                EventType.MESSAGE_SENT,
                session,
                message_id=stored.id,
                role=stored.role,
                sequence=stored.sequence,
            )
            await uow.commit()
            return MessageView.of(stored)


async def _check_pairing(uow: UnitOfWork, message: Message) -> None:
    if message.tool_use_id is None or not (message.is_tool_use or message.is_tool_result):
        return
    # Only the messages sharing this tool_use_id matter for pairing, so load just those.
    related = await uow.messages.with_tool_use_id(message.session_id, message.tool_use_id)
    check_tool_result_pairs(related, message)
