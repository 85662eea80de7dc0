"""A session's conversation, as pages. The runtime alone appends to it (see runtime/)."""

from __future__ import annotations

from uuid import UUID

from kumiai.application.dtos.messages import ChatPage, MessageView
from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.application.services.common import require_session
from kumiai.application.services.sessions import agents_of_sessions, page_of
from kumiai.domain.repositories import DEFAULT_PAGE_SIZE, Page, SortOrder
from kumiai.domain.value_objects import MessageRole

# What a chat shows as rows of their own (tool results fold into their calls).
CHAT_ROLES = (MessageRole.USER, MessageRole.ASSISTANT, MessageRole.SYSTEM)


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
        async with self._uow(read_only=True) as uow:
            await require_session(uow, session_id)
            page = await uow.messages.page(
                session_id, limit=limit, before=before, after=after, order=order, cursor=cursor
            )
            return page_of(page, MessageView.of)

    async def chat_page(
        self, session_id: UUID, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> ChatPage:
        """The newest ``limit`` chat rows, or those just older than ``cursor``'s page."""
        async with self._uow(read_only=True) as uow:
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
