"""The live event log of each session: numbered, replayable, fan-out to subscribers.

Event ids are per session and strictly increasing, and they never repeat, not even
across server restarts: a log starts numbering just above the wall clock in
microseconds (or above the last id this process gave the session, whichever is
higher). An id handed out by an earlier process is therefore always below the new
log's window, so a client that reconnects with it gets a ``reset`` instead of
silently skipping new events. The ids stay plain integers (below 2**53 until the year
2255, so JavaScript reads them exactly) and ``Last-Event-ID``/``?after=`` keep working.

The newest events stay in a buffer bounded by count and by bytes, so a client that
reconnects with ``Last-Event-ID`` gets exactly what it missed; one that fell further
behind gets a single ``reset`` event telling it to refetch the messages. ``after=0``
means "from the start of this log": the whole buffer, or a reset if part of it is gone.

Subscribers read from bounded queues. A subscriber that stops reading is dropped
instead of slowing the run down; it can reconnect and resume from its last id.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

TERMINAL_EVENTS = frozenset({"done", "error", "cancelled"})
RESET = "reset"
FROM_THE_START = 0


def wall_clock_micros() -> int:
    return time.time_ns() // 1000


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


@dataclass(frozen=True)
class BufferLimits:
    """How much of its recent past a session's log keeps for replay."""

    events: int = 2000
    bytes: int = 1024 * 1024


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
    def __init__(self, session_id: UUID, limits: BufferLimits, first_id: int = 1) -> None:
        self.session_id = session_id
        self.origin = first_id - 1
        self.last_id = self.origin
        self._limits = limits
        self._buffer: deque[tuple[SessionEvent, int]] = deque()
        self._buffered_bytes = 0
        self._subscribers: set[Subscription] = set()

    def publish(self, event_type: str, data: dict[str, Any]) -> SessionEvent:
        self.last_id += 1
        event = SessionEvent(self.session_id, self.last_id, event_type, data)
        self._remember(event)
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

    @property
    def buffered_bytes(self) -> int:
        return self._buffered_bytes

    def _remember(self, event: SessionEvent) -> None:
        size = len(json.dumps(event.data, default=str))
        self._buffer.append((event, size))
        self._buffered_bytes += size
        # The newest event always stays, however large, so a client one event behind
        # never needs a reset.
        while len(self._buffer) > 1 and (
            len(self._buffer) > self._limits.events or self._buffered_bytes > self._limits.bytes
        ):
            _, dropped = self._buffer.popleft()
            self._buffered_bytes -= dropped

    def _replay(self, after: int | None) -> list[SessionEvent]:
        if after == FROM_THE_START:
            after = self.origin
        if after is None or after == self.last_id:
            return []
        oldest = self._buffer[0][0].id if self._buffer else self.last_id + 1
        if after > self.last_id or after < oldest - 1:
            return [self._reset_event(after)]
        return [event for event, _ in self._buffer if event.id > after]

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
    subscriber is dropped first. A log made again later numbers above every id this
    hub gave before, so ids never repeat and an old id gets a ``reset``.
    """

    def __init__(
        self,
        limits: BufferLimits | None = None,
        subscriber_capacity: int = 1000,
        max_logs: int = 200,
        clock: Callable[[], int] = wall_clock_micros,
    ) -> None:
        self._limits = limits or BufferLimits()
        self._capacity = subscriber_capacity
        self._max_logs = max_logs
        self._clock = clock
        self._logs: OrderedDict[UUID, SessionLog] = OrderedDict()
        # The highest id of any log this hub let go of: new logs number above it, so a
        # retired or forgotten session never repeats an id even if the clock steps back.
        self._released_up_to = 0

    def log(self, session_id: UUID) -> SessionLog:
        log = self._logs.get(session_id)
        if log is None:
            first_id = max(self._clock(), self._released_up_to) + 1
            log = SessionLog(session_id, self._limits, first_id)
            self._logs[session_id] = log
            self._retire_idle_logs()
        self._logs.move_to_end(session_id)
        return log

    def publish(self, session_id: UUID, event_type: str, **data: Any) -> SessionEvent:
        return self.log(session_id).publish(event_type, data)

    def forget(self, session_id: UUID) -> None:
        """Drop a deleted session's replay buffer; its subscribers simply stop hearing."""
        log = self._logs.pop(session_id, None)
        if log is not None:
            self._release(log)

    def _retire_idle_logs(self) -> None:
        idle = [sid for sid, log in self._logs.items() if log.subscriber_count == 0]
        for session_id in idle[: max(0, len(self._logs) - self._max_logs)]:
            self._release(self._logs.pop(session_id))

    def _release(self, log: SessionLog) -> None:
        self._released_up_to = max(self._released_up_to, log.last_id)

    def subscribe(
        self, session_id: UUID, after: int | None = None, capacity: int | None = None
    ) -> Subscription:
        return self.log(session_id).subscribe(after, capacity or self._capacity)
