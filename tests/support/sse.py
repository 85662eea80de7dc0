"""Reading server-sent events from an httpx streaming response, as a browser would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    id: str | None = None


class _Parser:
    """Lines in, events out; comment lines (heartbeats) are skipped."""

    def __init__(self) -> None:
        self._name = "message"
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, raw_line: str) -> Event | None:
        line = raw_line.rstrip("\r")
        if not line:
            data, event_id, self._data, self._id = self._data, self._id, [], None
            name, self._name = self._name, "message"
            return Event(name, json.loads("\n".join(data)), event_id) if data else None
        if not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                self._name = value
            elif field == "data":
                self._data.append(value)
            elif field == "id":
                self._id = value
        return None


async def events(response: httpx.Response) -> AsyncIterator[Event]:
    """Parse the stream as it arrives."""
    parser = _Parser()
    async for line in response.aiter_lines():
        if (event := parser.feed(line)) is not None:
            yield event


def events_sync(response: httpx.Response) -> Iterator[Event]:
    """The same, from a blocking client (tests that drive real server processes)."""
    parser = _Parser()
    for line in response.iter_lines():
        if (event := parser.feed(line)) is not None:
            yield event


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
