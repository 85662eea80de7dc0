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
instead of slowing the run down; it can reconnect and resume from its last id. While a
subscriber is behind, a ``text_delta`` that follows an unread ``text_delta`` of the same
run and block joins it: the subscriber then reads one event carrying both texts, under
the id of the newer one. Nothing is lost and the order is kept, a reader that keeps up
still gets every delta on its own, and a burst faster than the client costs one queue
slot instead of one per delta. The replay buffer keeps the deltas as they were.
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
TEXT_DELTA = "text_delta"
# What a text delta's JSON costs besides its text (keys, run id, block index), for the
# replay buffer's byte bound: encoding every delta only to measure it cost more than
# the rest of relaying it.
_DELTA_OVERHEAD = 96


def wall_clock_micros() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
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


class _Unread:
    """A queued event, with the texts of the deltas that joined it while unread."""

    __slots__ = ("event", "texts")

    def __init__(self, event: SessionEvent) -> None:
        self.event = event
        self.texts: list[str] | None = None

    def joins(self, event: SessionEvent) -> bool:
        """Whether ``event`` continues this unread delta (same run, block and fields)."""
        mine, theirs = self.event.data, event.data
        return (
            self.event.type == TEXT_DELTA
            and isinstance(theirs.get("text"), str)
            and isinstance(mine.get("text"), str)
            and mine.keys() == theirs.keys()
            and all(mine[key] == theirs[key] for key in mine if key != "text")
        )

    def join(self, event: SessionEvent) -> None:
        if self.texts is None:
            self.texts = [self.event.data["text"]]
        self.texts.append(event.data["text"])
        self.event = event  # the newest id: a reconnect resumes after every joined delta

    def read(self) -> SessionEvent:
        event = self.event
        if self.texts is None:
            return event
        return SessionEvent(
            event.session_id,
            event.id,
            event.type,
            {**event.data, "text": "".join(self.texts)},
            event.created_at,
        )


class Subscription:
    """One reader's view of one session's events."""

    def __init__(self, log: SessionLog, capacity: int) -> None:
        self._log = log
        self._capacity = capacity
        self._unread: deque[_Unread] = deque()
        self._ended = False
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = False

    def offer(self, event: SessionEvent) -> None:
        if self.dropped or self._ended:
            return
        unread = self._unread
        if unread and event.type == TEXT_DELTA and unread[-1].joins(event):
            unread[-1].join(event)
            return  # the reader is already due to wake for the tail
        if len(unread) >= self._capacity:
            self._drop()
            return
        unread.append(_Unread(event))
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _drop(self) -> None:
        self.dropped = True
        self._log.unsubscribe(self)
        # Forget what is queued so the reader wakes up to the end and leaves.
        self._unread.clear()
        self._ended = True
        self._wake()

    async def next(self) -> SessionEvent | None:
        """The next event; ``None`` once this subscriber was dropped."""
        while not self._unread:
            if self._ended:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._unread.popleft().read()

    def ready(self) -> list[SessionEvent]:
        """Every event already queued, without waiting (empty when none is)."""
        events = [unread.read() for unread in self._unread]
        self._unread.clear()
        return events

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
        text = event.data.get("text") if event.type == TEXT_DELTA else None
        if isinstance(text, str):
            size = len(text) + _DELTA_OVERHEAD
        else:
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
