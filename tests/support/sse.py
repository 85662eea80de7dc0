"""Reading server-sent events from an httpx streaming response, as a browser would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    id: str | None = None


async def events(response: httpx.Response) -> AsyncIterator[Event]:
    """Parse the stream; comment lines (heartbeats) are skipped."""
    name, data_lines, event_id = "message", [], None
    async for raw_line in response.aiter_lines():
        line = raw_line.rstrip("\r")
        if not line:
            if data_lines:
                yield Event(name, json.loads("\n".join(data_lines)), event_id)
            name, data_lines, event_id = "message", [], None
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data_lines.append(value)
            elif field == "id":
                event_id = value


async def collect(
    response: httpx.Response,
    *,
    until: str | None = None,
    count: int | None = None,
    after: str | None = None,
) -> list[Event]:
    """Events until one of type ``until`` (inclusive; with ``after``, the first ``until``
    that follows an event of type ``after``) or ``count`` events arrived."""
    seen: list[Event] = []
    armed = after is None
    async for event in events(response):
        seen.append(event)
        if (armed and until is not None and event.type == until) or (
            count is not None and len(seen) >= count
        ):
            break
        armed = armed or event.type == after
    return seen
