"""The activity log, as written by the other services."""

from __future__ import annotations

from kumiai.application.dtos.activity import ActivityView
from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.application.services.sessions import page_of
from kumiai.domain.repositories import ActivityFilter, Page, PageRequest


class ActivityService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def list_activity(self, page: PageRequest, filters: ActivityFilter) -> Page[ActivityView]:
        """Entries newest first."""
        async with self._uow(read_only=True) as uow:
            return page_of(await uow.activity.list_page(page, filters), ActivityView.of)
