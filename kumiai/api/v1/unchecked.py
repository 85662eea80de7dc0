"""Lists the v1 client reads without checking the status (V1_CONTRACT §1).

``GET /skills`` and ``GET /sessions`` must answer an array even when they fail, or the
client's views break: an unavailable database answers ``[]`` with status 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import status
from fastapi.responses import JSONResponse

from kumiai.core.exceptions import ServiceUnavailableError

T = TypeVar("T")


async def array_even_if_unavailable(
    load: Callable[[], Awaitable[list[T]]],
) -> list[T] | JSONResponse:
    try:
        return await load()
    except ServiceUnavailableError:
        return JSONResponse([], status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
