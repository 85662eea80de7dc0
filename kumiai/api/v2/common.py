"""Query parameters and response shaping shared by the v2 list endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Query

from kumiai.api.schemas import ListEnvelope, PageMeta
from kumiai.domain.repositories import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest

T = TypeVar("T")
V = TypeVar("V")


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")] = (
        DEFAULT_PAGE_SIZE
    ),
    cursor: Annotated[
        str | None, Query(max_length=512, description="`meta.next_cursor` of the previous page.")
    ] = None,
    total: Annotated[bool, Query(description="Also count all matching rows.")] = False,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor, with_total=total)


PageDep = Annotated[PageRequest, Depends(page_request)]


def list_envelope(page: Page[T], view: Callable[[T], V]) -> ListEnvelope[V]:
    return ListEnvelope(
        data=[view(item) for item in page.items],
        meta=PageMeta(
            limit=page.limit, has_more=page.has_more, next_cursor=page.next_cursor, total=page.total
        ),
    )
