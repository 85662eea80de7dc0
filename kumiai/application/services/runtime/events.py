"""The live event log of each session: numbered, replayable, fan-out to subscribers.

Every event gets the next id of its session (1, 2, 3, ...). The newest events stay in
a bounded buffer so a client that reconnects with ``Last-Event-ID`` gets exactly what
it missed; one that fell further behind (or that remembers ids from before a
restart) gets a single ``reset`` event telling it to refetch the messages.

Subscribers read from bounded queues. A subscriber that stops reading is dropped
instead of slowing the run down; it can reconnect and resume from its last id.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

TERMINAL_EVENTS = frozenset({"done", "error", "cancelled"})
RESET = "reset"


@dataclass(frozen=True)
class SessionEvent:
    session_id: UUID
    id: int
    type: str
    data: dict[str, Any]
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_EVENTS

    @property
    def event_id(self) -> str:
        """Globally unique id, for clients that de-duplicate across sessions."""
        return f"{self.session_id}:{self.id}"


class Subscription:
    """One reader's view of one session's events."""

    def __init__(self, log: SessionLog, capacity: int) -> None:
        self._log = log
        self._queue: asyncio.Queue[SessionEvent | None] = asyncio.Queue(maxsize=capacity)
        self.dropped = False

    def offer(self, event: SessionEvent) -> None:
        if self.dropped:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._drop()

    def _drop(self) -> None:
        self.dropped = True
        self._log.unsubscribe(self)
        # Make room for the end-of-stream marker so the reader wakes up and leaves.
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def next(self) -> SessionEvent | None:
        """The next event; ``None`` once this subscriber was dropped."""
        return await self._queue.get()

    def close(self) -> None:
        self._log.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[SessionEvent]:
        while (event := await self.next()) is not None:
            yield event


class SessionLog:
    def __init__(self, session_id: UUID, buffer_size: int) -> None:
        self.session_id = session_id
        self.last_id = 0
        self._buffer: deque[SessionEvent] = deque(maxlen=buffer_size)
        self._subscribers: set[Subscription] = set()

    def publish(self, event_type: str, data: dict[str, Any]) -> SessionEvent:
        self.last_id += 1
        event = SessionEvent(self.session_id, self.last_id, event_type, data)
        self._buffer.append(event)
        for subscriber in list(self._subscribers):
            subscriber.offer(event)
        return event

    def subscribe(self, after: int | None, capacity: int) -> Subscription:
        """Subscribe, first replaying everything after ``after`` (or a reset)."""
        subscription = Subscription(self, capacity)
        for event in self._replay(after):
            subscription.offer(event)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def _replay(self, after: int | None) -> list[SessionEvent]:
        if after is None or after == self.last_id:
            return []
        oldest = self._buffer[0].id if self._buffer else self.last_id + 1
        if after > self.last_id or after < oldest - 1:
            return [self._reset_event(after)]
        return [event for event in self._buffer if event.id > after]

    def _reset_event(self, after: int) -> SessionEvent:
        # Not stored or numbered past last_id: the client resumes from last_id.
        return SessionEvent(
            self.session_id,
            self.last_id,
            RESET,
            {
                "reason": "replay window passed",
                "requested_after": after,
                "resume_from": self.last_id,
            },
        )


class EventHub:
    """All sessions' logs in this process.

    At most ``max_logs`` replay buffers are kept: the least recently used log without a
    subscriber is dropped first. Its numbering is remembered, so ids never repeat; a
    client that reconnects to it later gets a ``reset``.
    """

    def __init__(
        self, buffer_size: int = 2000, subscriber_capacity: int = 1000, max_logs: int = 200
    ) -> None:
        self._buffer_size = buffer_size
        self._capacity = subscriber_capacity
        self._max_logs = max_logs
        self._logs: OrderedDict[UUID, SessionLog] = OrderedDict()
        self._retired_ids: dict[UUID, int] = {}

    def log(self, session_id: UUID) -> SessionLog:
        log = self._logs.get(session_id)
        if log is None:
            log = SessionLog(session_id, self._buffer_size)
            log.last_id = self._retired_ids.pop(session_id, 0)
            self._logs[session_id] = log
            self._retire_idle_logs()
        self._logs.move_to_end(session_id)
        return log

    def publish(self, session_id: UUID, event_type: str, **data: Any) -> SessionEvent:
        return self.log(session_id).publish(event_type, data)

    def forget(self, session_id: UUID) -> None:
        """Drop a deleted session's replay buffer; its subscribers simply stop hearing."""
        self._logs.pop(session_id, None)
        self._retired_ids.pop(session_id, None)

    def _retire_idle_logs(self) -> None:
        idle = [sid for sid, log in self._logs.items() if log.subscriber_count == 0]
        for session_id in idle[: max(0, len(self._logs) - self._max_logs)]:
            self._retired_ids[session_id] = self._logs.pop(session_id).last_id

    def subscribe(
        self, session_id: UUID, after: int | None = None, capacity: int | None = None
    ) -> Subscription:
        return self.log(session_id).subscribe(after, capacity or self._capacity)
