"""The live event log of each session: numbered, replayable, fanned out to subscribers.

**On PostgreSQL** (once :meth:`EventHub.start` ran with a store): every published event
goes into one writer queue, which appends everything waiting in one statement per
batch; the database gives each event a server-wide id, in commit order. Every process
(this one too) hears each append through ``LISTEN/NOTIFY`` and reads the new rows of the
sessions it follows, after the last id it delivered: so a subscriber on any process sees
every event of its session in order, exactly once. The writing process does not wait to
hear its own append: the append returns each session's newest id before the batch, and
when that is the last id delivered here, the batch is delivered as the append returns.
``Last-Event-ID`` replays from the rows, across restarts and processes; only an id older
than retention, or newer than any id ever given (another database, a server from
before the log), gets a ``reset``.

Text deltas are the one thing joined: deltas of the same run and block that wait for the
same write become one row carrying their texts in order. Replay therefore gives the
same text in fewer pieces, and a burst of deltas costs one row per write, not one per
delta.

The newest events of each followed session stay in memory, bounded by count and bytes,
as a cache: a reconnect within it is served without a query.

**In memory** (no store, or before start: the unit tier and the in-process tests): ids
are per session and start just above the wall clock in microseconds, and the buffer is
the whole replay window, so an id it no longer holds gets a ``reset``.

Subscribers read from bounded queues. A subscriber that stops reading is dropped
instead of slowing the run down; it can reconnect and resume from its last id. While a
subscriber is behind, a ``text_delta`` that follows an unread ``text_delta`` of the same
run and block joins it: the subscriber then reads one event carrying both texts, under
the id of the newer one. Nothing is lost and the order is kept, and a burst faster than
the client costs one queue slot instead of one per delta.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from kumiai.application.ports.events import (
    Appended,
    EventStore,
    NewEvent,
    ReplayPage,
    Retention,
    SessionEvent,
)
from kumiai.core.logging import get_logger

logger = get_logger(__name__)

RESET = "reset"
FROM_THE_START = 0
TEXT_DELTA = "text_delta"
# Why a replay could not be served (the ``reason`` of a ``reset``).
PAST_RETENTION = "retention"
UNKNOWN_ID = "unknown_id"
# What a text delta's JSON costs besides its text (keys, run id, block index), for the
# replay buffer's byte bound: encoding every delta only to measure it cost more than
# the rest of relaying it.
_DELTA_OVERHEAD = 96
# Rows read at once: per session when catching up, per page when replaying.
READ_LIMIT = 1000
RETRY_DELAYS = (0.05, 0.2, 1.0, 2.0, 5.0)
# How long closing waits for events still queued for the database.
CLOSE_FLUSH_SECONDS = 5.0
# How long a new subscription waits for this process's earlier events to be written
# (so it starts after them) before it starts anyway.
SUBSCRIBE_FLUSH_SECONDS = 2.0
# How long a deleted session's log waits for its last events before it goes.
FORGET_DRAIN_SECONDS = 5.0


def wall_clock_micros() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True)
class BufferLimits:
    """How much of its recent past a session's log keeps in memory."""

    events: int = 2000
    bytes: int = 1024 * 1024


def _continues(earlier: dict[str, Any], later: dict[str, Any]) -> bool:
    """Whether delta ``later`` continues delta ``earlier`` (same run, block and fields)."""
    return (
        isinstance(later.get("text"), str)
        and isinstance(earlier.get("text"), str)
        and earlier.keys() == later.keys()
        and all(earlier[key] == later[key] for key in earlier if key != "text")
    )


class _Unread:
    """A queued event, with the texts of the deltas that joined it while unread (and,
    for a subscription not started yet, their ids: its start may fall among them)."""

    __slots__ = ("event", "ids", "texts")

    def __init__(self, event: SessionEvent) -> None:
        self.event = event
        self.texts: list[str] | None = None
        self.ids: list[int] | None = None

    def joins(self, event: SessionEvent) -> bool:
        return self.event.type == TEXT_DELTA and _continues(self.event.data, event.data)

    def join(self, event: SessionEvent, *, keep_ids: bool) -> None:
        if self.texts is None:
            self.texts = [self.event.data["text"]]
            if keep_ids:
                self.ids = [self.event.id]
        self.texts.append(event.data["text"])
        if self.ids is not None:
            self.ids.append(event.id)
        self.event = event  # the newest id: a reconnect resumes after every joined delta

    def drop_up_to(self, event_id: int) -> None:
        """Forget the joined texts of ids up to ``event_id`` (the newest stays)."""
        if self.texts is not None and self.ids is not None:
            self.texts = [
                text for id_, text in zip(self.ids, self.texts, strict=True) if id_ > event_id
            ]
        self.ids = None

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
    """One reader's view of one session's events.

    It remembers the newest id it was offered and ignores anything not newer, so a
    replay and the live events that follow it can overlap without a repeat.
    """

    def __init__(
        self, log: SessionLog, capacity: int, after: int | None = None, *, unstarted: bool = False
    ) -> None:
        self._log = log
        self._capacity = capacity
        self._unread: deque[_Unread] = deque()
        self._ended = False
        self._waiter: asyncio.Future[None] | None = None
        self.seen = after
        self.dropped = False
        self._unstarted = unstarted

    def start_after(self, event_id: int | None) -> None:
        """Where an unstarted subscription starts (see :meth:`EventHub.follow_send`):
        after ``event_id``, or with everything offered since it was made (None). Once
        started, it is where it is: this does nothing."""
        if not self._unstarted:
            return
        self._unstarted = False
        if event_id is None:
            for unread in self._unread:
                unread.ids = None
            return
        self._unread = deque(unread for unread in self._unread if unread.event.id > event_id)
        for unread in self._unread:
            unread.drop_up_to(event_id)
        if self.seen is None or self.seen < event_id:
            self.seen = event_id

    def offer(self, event: SessionEvent) -> None:
        if self.dropped or self._ended:
            return
        if self.seen is not None and event.id <= self.seen:
            return
        self.seen = event.id
        unread = self._unread
        if unread and event.type == TEXT_DELTA and unread[-1].joins(event):
            # Unstarted, the joined deltas keep their ids: the start may fall among them.
            unread[-1].join(event, keep_ids=self._unstarted)
            return  # the reader is already due to wake for the tail
        if len(unread) >= self._capacity:
            self._drop()
            return
        unread.append(_Unread(event))
        self._wake()

    def replay(self, events: Iterable[SessionEvent]) -> None:
        """Queue a replay: it may be longer than the live capacity, which comes on top."""
        for event in events:
            self._capacity += 1
            self.offer(event)

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
    """What this process knows of one session's events, and who follows them here.

    ``last_id`` is the newest id delivered (``None`` on PostgreSQL until the first
    append of the session is heard); the buffer holds every event after ``floor`` up to
    it, as far as its bounds allow.
    """

    def __init__(self, session_id: UUID, limits: BufferLimits, first_id: int | None = 1) -> None:
        self.session_id = session_id
        self.last_id = None if first_id is None else first_id - 1
        self.origin = self.last_id
        self._floor = self.last_id
        self._limits = limits
        self._buffer: deque[tuple[SessionEvent, int]] = deque()
        self._buffered_bytes = 0
        self._subscribers: set[Subscription] = set()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.written_through = 0
        """The newest id this process wrote for the session (on PostgreSQL)."""
        self.written: dict[int, list[SessionEvent]] = {}
        """This process's appends not delivered yet, by their first id: delivered from
        here instead of read back, when nothing committed before them is unread."""

    def publish(self, event_type: str, data: dict[str, Any]) -> SessionEvent:
        """Number and deliver an event here (the in-memory log)."""
        assert self.last_id is not None
        event = SessionEvent(self.session_id, self.last_id + 1, event_type, data)
        self.deliver(event)
        return event

    def start_before(self, first_id: int) -> None:
        """Follow the session from ``first_id`` on (the first append heard here)."""
        if self.last_id is None:
            self.last_id = self._floor = first_id - 1

    def continues_from(self, event_id: int) -> bool:
        """Whether the event after ``event_id`` may be delivered now: every event up to
        ``event_id`` has been, or (nothing heard yet) no subscriber here waits for one
        of them, and the log starts there."""
        if self.last_id is None and all(
            subscriber.seen is not None and subscriber.seen >= event_id
            for subscriber in self._subscribers
        ):
            self.start_before(event_id + 1)
        return self.last_id == event_id

    def deliver(self, event: SessionEvent) -> None:
        self.last_id = event.id
        if self.written:
            self.written = {first: mine for first, mine in self.written.items() if first > event.id}
        self._remember(event)
        for subscriber in list(self._subscribers):
            subscriber.offer(event)
        if self._waiters:
            due = [future for until, future in self._waiters if until <= event.id]
            self._waiters = [(until, f) for until, f in self._waiters if until > event.id]
            for future in due:
                if not future.done():
                    future.set_result(None)

    def delivered(self, event_id: int) -> asyncio.Future[None]:
        """Done once every event up to ``event_id`` has been delivered here."""
        future = asyncio.get_running_loop().create_future()
        if event_id <= (self.last_id or 0):
            future.set_result(None)
        else:
            self._waiters.append((event_id, future))
        return future

    def subscribe(self, after: int | None, capacity: int) -> Subscription:
        """Subscribe, first replaying from memory everything after ``after`` (or a reset)."""
        subscription = Subscription(self, capacity)
        if after == FROM_THE_START:
            after = self.origin
        if after is not None:
            cached = self.cached_after(after)
            subscription.replay(cached if cached is not None else [self._reset_event(after)])
        self.add(subscription)
        return subscription

    def add(self, subscription: Subscription) -> None:
        self._subscribers.add(subscription)

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def cached_after(self, after: int) -> list[SessionEvent] | None:
        """Every event after ``after`` that this process delivered, if memory still holds
        them all; None if it does not know the whole gap."""
        if self.last_id is None or self._floor is None:
            return None
        if after == self.last_id:
            return []
        if after > self.last_id or after < self._floor:
            return None
        return [event for event, _ in self._buffer if event.id > after]

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
            dropped, dropped_size = self._buffer.popleft()
            self._buffered_bytes -= dropped_size
            self._floor = dropped.id

    def _reset_event(self, after: int) -> SessionEvent:
        assert self.last_id is not None
        reason = UNKNOWN_ID if after > self.last_id else PAST_RETENTION
        return reset_event(self.session_id, after, self.last_id, reason)


def reset_event(session_id: UUID, after: int, resume_from: int, reason: str) -> SessionEvent:
    """Not stored: it tells the client to refetch the messages and resume from
    ``resume_from`` (its id, so the client's ``Last-Event-ID`` becomes that)."""
    explanations = {
        PAST_RETENTION: "events after this id are no longer kept",
        UNKNOWN_ID: "this id was never given by this server's event log",
    }
    return SessionEvent(
        session_id,
        resume_from,
        RESET,
        {
            "reason": reason,
            "detail": explanations[reason],
            "requested_after": after,
            "resume_from": resume_from,
        },
    )


class _Pending:
    """An event waiting for the database; deltas that continue it join its text."""

    __slots__ = ("data", "number", "session_id", "texts", "type")

    def __init__(
        self, session_id: UUID, event_type: str, data: dict[str, Any], number: int
    ) -> None:
        self.session_id = session_id
        self.type = event_type
        self.data = data
        self.texts: list[str] | None = None
        self.number = number
        """How many events this process had published with the newest one in here."""

    def join(self, event_type: str, data: dict[str, Any], number: int) -> bool:
        if event_type != TEXT_DELTA or self.type != TEXT_DELTA:
            return False
        if not _continues(self.data, data):
            return False
        if self.texts is None:
            self.texts = [self.data["text"]]
        self.texts.append(data["text"])
        self.number = number
        return True

    def payload(self) -> dict[str, Any]:
        return self.data if self.texts is None else {**self.data, "text": "".join(self.texts)}

    def new_event(self) -> NewEvent:
        return NewEvent(self.session_id, self.type, self.payload())


class EventHub:
    """All sessions' logs in this process.

    At most ``max_logs`` logs are kept: the least recently used log without a
    subscriber is dropped first. In memory, a log made again later numbers above every
    id this hub gave before, so ids never repeat and an old id gets a ``reset``.
    """

    def __init__(
        self,
        limits: BufferLimits | None = None,
        subscriber_capacity: int = 1000,
        max_logs: int = 200,
        clock: Callable[[], int] = wall_clock_micros,
        *,
        store: EventStore | None = None,
        retention: Retention | None = None,
        prune_interval: float = 300.0,
    ) -> None:
        self._limits = limits or BufferLimits()
        self._capacity = subscriber_capacity
        self._max_logs = max_logs
        self._clock = clock
        self._logs: OrderedDict[UUID, SessionLog] = OrderedDict()
        # The highest id of any log this hub let go of: new logs number above it, so a
        # retired or forgotten session never repeats an id even if the clock steps back.
        self._released_up_to = 0
        self._configured_store = store
        self._retention = retention
        self._prune_interval = prune_interval
        self._store: EventStore | None = None  # set once started: the persisted mode
        self._pending: list[_Pending] = []
        self._last_pending: dict[UUID, _Pending] = {}
        self._to_write = asyncio.Event()
        self._written = asyncio.Event()
        self._published = 0  # events published on PostgreSQL by this process
        self._persisted = 0  # of which this many are in the store
        self._forgetting: set[asyncio.Task[None]] = set()
        self._writing: set[UUID] = set()  # the sessions of the batch being written
        # Announcements heard for those sessions while their append is in flight: taken
        # once its ids are known, so this process's own append needs no read back.
        self._in_flight: set[UUID] = set()
        self._heard_early: list[tuple[UUID, int, int]] = []
        self._dirty: set[UUID] = set()
        self._reading: set[UUID] = set()  # the sessions of the read in flight
        self._to_read = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # --- the persisted mode -------------------------------------------------------

    async def start(self) -> None:
        """Persist and fan out through the store from now on (no-op without one)."""
        store = self._configured_store
        if store is None or self._store is not None:
            return
        await store.start(self._appended, self._reconnected)
        self._store = store
        self._logs.clear()  # numbered in memory: not comparable with the store's ids
        self._tasks = [
            asyncio.create_task(self._write_forever(store), name="event-writer"),
            asyncio.create_task(self._read_forever(store), name="event-reader"),
        ]
        if self._retention is not None:
            self._tasks.append(
                asyncio.create_task(self._prune_forever(store, self._retention), name="pruner")
            )

    async def flush(self) -> None:
        """Until every event published so far is in the store."""
        target = self._published
        while self._store is not None and self._persisted < target:
            self._written.clear()
            await self._written.wait()

    async def flush_within(self, seconds: float) -> None:
        """:meth:`flush`, for at most ``seconds``: a caller that only prefers its events
        out first must not stall while the database is away."""
        if self._store is None or self._persisted >= self._published:
            return
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns the result of a
        # flush that completed as the caller was cancelled, and the cancel (a user's
        # stop of the turn) is lost.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.flush()

    async def aclose(self) -> None:
        store = self._store
        if store is None:
            return
        await self.flush_within(CLOSE_FLUSH_SECONDS)
        if self._pending:
            logger.warning("events_not_persisted", count=len(self._pending))
        tasks = [*self._tasks, *self._forgetting]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._store = None
        await store.aclose()

    def _appended(self, session_id: UUID, first_id: int, last_id: int) -> None:
        if session_id in self._in_flight:
            # Possibly the append in flight, heard before its answer arrived (the
            # listener's socket may be read first): decide once its ids are known.
            self._heard_early.append((session_id, first_id, last_id))
            return
        log = self._logs.get(session_id)
        if log is None:
            return  # nobody here follows it
        if log.last_id is not None and last_id <= log.last_id:
            return  # delivered already: this process's own, or read with an earlier batch
        log.start_before(first_id)
        mine = log.written.pop(first_id, None)
        # Announcements come in commit order: with none of the session's unread or being
        # read, everything committed before this append was delivered already, so this
        # process's own append needs no read.
        unread = session_id in self._dirty or session_id in self._reading
        if mine is not None and not unread and log.last_id is not None:
            for event in mine:
                if event.id > log.last_id:
                    log.deliver(event)
            return
        self._dirty.add(session_id)
        self._to_read.set()

    def _reconnected(self) -> None:
        self._dirty.update(sid for sid, log in self._logs.items() if log.last_id is not None)
        self._to_read.set()

    async def _write_forever(self, store: EventStore) -> None:
        failures = 0
        retry: tuple[list[_Pending], UUID] | None = None
        while True:
            if retry is not None:
                batch, key = retry  # as it was: it may have committed already
            elif self._pending:
                batch, key = self._pending, uuid4()
                self._pending = []
                self._last_pending.clear()
            else:
                self._to_write.clear()
                await self._to_write.wait()
                continue
            self._writing = {pending.session_id for pending in batch}
            self._in_flight = self._writing
            try:
                written = await store.append([pending.new_event() for pending in batch], key)
            except Exception as error:  # an outage: keep the batch, retry it as it is
                self._hear_early_announcements()
                retry = (batch, key)
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                failures += 1
                logger.warning("event_append_failed", error=str(error), retry_in=delay)
                await asyncio.sleep(delay)
                continue
            retry = None
            failures = 0
            self._writing = set()
            for session_id, appended in written.items():
                if (log := self._logs.get(session_id)) is not None:
                    self._take_own(log, appended, batch)
            self._persisted = max(self._persisted, *(pending.number for pending in batch))
            self._written.set()
            self._hear_early_announcements()

    @staticmethod
    def _take_own(log: SessionLog, appended: Appended, batch: list[_Pending]) -> None:
        """This process's append of ``log``'s session: delivered now when every earlier
        event was, else kept to deliver when its announcement says it is safe."""
        ids = appended.ids
        log.written_through = max(log.written_through, ids[-1])
        session_id = log.session_id
        mine = [pending for pending in batch if pending.session_id == session_id]
        events = [
            SessionEvent(session_id, event_id, pending.type, pending.payload())
            for event_id, pending in zip(ids, mine, strict=True)
        ]
        if log.continues_from(appended.after):
            for event in events:
                log.deliver(event)
        elif log.last_id is None or log.last_id < ids[0]:
            log.written[ids[0]] = events

    def _hear_early_announcements(self) -> None:
        """The announcements deferred while an append was in flight, in the order heard."""
        self._in_flight = set()
        heard, self._heard_early = self._heard_early, []
        for session_id, first_id, last_id in heard:
            self._appended(session_id, first_id, last_id)

    async def _read_forever(self, store: EventStore) -> None:
        failures = 0
        while True:
            await self._to_read.wait()
            self._to_read.clear()
            dirty, self._dirty = self._dirty, set()
            cursors = {
                session_id: log.last_id
                for session_id in dirty
                if (log := self._logs.get(session_id)) is not None and log.last_id is not None
            }
            if not cursors:
                continue
            self._reading = set(cursors)
            try:
                events = await store.read_new(cursors, READ_LIMIT)
            except Exception as error:
                self._reading = set()
                self._dirty |= dirty
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                failures += 1
                logger.warning("event_read_failed", error=str(error), retry_in=delay)
                await asyncio.sleep(delay)
                self._to_read.set()
                continue
            failures = 0
            self._reading = set()
            read: dict[UUID, int] = {}
            for logged in events:
                read[logged.session_id] = read.get(logged.session_id, 0) + 1
                log = self._logs.get(logged.session_id)
                if log is not None and log.last_id is not None and logged.id > log.last_id:
                    log.deliver(logged)
            more = {session_id for session_id, count in read.items() if count >= READ_LIMIT}
            if more:
                self._dirty |= more
                self._to_read.set()

    async def _prune_forever(self, store: EventStore, retention: Retention) -> None:
        while True:
            try:
                pruned = await store.prune(retention)
            except Exception as error:
                logger.warning("event_prune_failed", error=str(error))
            else:
                if pruned:
                    logger.info("events_pruned", count=pruned)
            await asyncio.sleep(self._prune_interval)

    async def _replay(self, log: SessionLog, subscription: Subscription, after: int) -> None:
        """Queue every event after ``after`` (or a reset), up to what ``log`` delivered."""
        assert self._store is not None
        cached = log.cached_after(after)
        if cached is not None:
            subscription.replay(cached)
            return
        page = await self._store.read_after(log.session_id, after, READ_LIMIT)
        if after > page.latest_id:
            reason: str | None = UNKNOWN_ID
        elif page.pruned_through is not None and after < page.pruned_through:
            reason = PAST_RETENTION
        else:
            reason = None
        if reason is not None:
            # The client resumes from the newest id given: whatever comes next is new.
            subscription.seen = None
            subscription.replay([reset_event(log.session_id, after, page.latest_id, reason)])
            return
        await self._catch_up(log, subscription, page)

    async def _catch_up(
        self, log: SessionLog, subscription: Subscription, page: ReplayPage
    ) -> None:
        """Queue ``page`` and whatever follows it, up to what ``log`` delivered, so the
        subscription can join the log's live events with nothing missing."""
        assert self._store is not None
        while True:
            subscription.replay(page.events)
            seen = subscription.seen or 0
            if len(page.events) < READ_LIMIT:
                if log.last_id is None or log.last_id <= seen:
                    return
                cached = log.cached_after(seen)
                if cached is not None:
                    subscription.replay(cached)
                    return
            page = await self._store.read_after(log.session_id, seen, READ_LIMIT)
            if not page.events and log.last_id is not None and log.last_id > seen:
                # Delivered here, gone from memory and from the rows: pruned meanwhile.
                subscription.replay(
                    [reset_event(log.session_id, seen, page.latest_id, PAST_RETENTION)]
                )
                return

    async def _forget_when_delivered(self, log: SessionLog) -> None:
        """Drop a log once the events this process published for it were delivered, so
        its subscribers still hear how it ended (a deleted session's ``cancelled``)."""
        await self.flush()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FORGET_DRAIN_SECONDS):
                await log.delivered(log.written_through)
        if self._logs.get(log.session_id) is log:
            del self._logs[log.session_id]

    # --- both modes ---------------------------------------------------------------

    def log(self, session_id: UUID) -> SessionLog:
        log = self._logs.get(session_id)
        if log is None:
            if self._store is None:
                first_id: int | None = max(self._clock(), self._released_up_to) + 1
            else:
                first_id = None  # known from the first append heard
            log = SessionLog(session_id, self._limits, first_id)
            self._logs[session_id] = log
            self._retire_idle_logs()
        self._logs.move_to_end(session_id)
        return log

    def publish(self, session_id: UUID, event_type: str, **data: Any) -> SessionEvent | None:
        """Publish an event: in memory, delivered at once (and returned); on
        PostgreSQL, queued for the next write, delivered once it is read back."""
        if self._store is None:
            return self.log(session_id).publish(event_type, data)
        self._published += 1
        last = self._last_pending.get(session_id)
        if last is None or not last.join(event_type, data, self._published):
            pending = _Pending(session_id, event_type, data, self._published)
            self._pending.append(pending)
            self._last_pending[session_id] = pending
            self._to_write.set()
        return None

    def forget(self, session_id: UUID) -> None:
        """Drop a deleted session's log here; its subscribers then simply stop hearing."""
        log = self._logs.get(session_id)
        if log is None:
            return
        if self._store is not None and self._owes(log):
            task = asyncio.create_task(self._forget_when_delivered(log))
            self._forgetting.add(task)
            task.add_done_callback(self._forgetting.discard)
            return
        del self._logs[session_id]
        self._release(log)

    def _owes(self, log: SessionLog) -> bool:
        """Whether events this process published for the session are still to be
        written or delivered to its log."""
        session_id = log.session_id
        unwritten = session_id in self._last_pending or session_id in self._writing
        return unwritten or log.written_through > (log.last_id or 0)

    def _retire_idle_logs(self) -> None:
        idle = [sid for sid, log in self._logs.items() if log.subscriber_count == 0]
        for session_id in idle[: max(0, len(self._logs) - self._max_logs)]:
            self._release(self._logs.pop(session_id))

    def _release(self, log: SessionLog) -> None:
        if log.last_id is not None:
            self._released_up_to = max(self._released_up_to, log.last_id)

    async def follow_send(self, session_id: UUID) -> Subscription:
        """Follow a session's events for a send that streams its turn, made before the
        send, and started by it (:meth:`Subscription.start_after`) after the head of
        the session's events that the send read under the session's lock: no read of
        the head here. Until then it keeps every event delivered, so none after that
        head is missed. Where the log knows no event yet (it starts from the first
        append heard, and only after its subscribers' starts), and in memory, it starts
        as :meth:`subscribe` starts it, at once."""
        log = self.log(session_id)
        if self._store is None or log.last_id is None:
            return await self.subscribe(session_id)
        # The events this process published before get their ids before the send's read
        # (a write in trouble: start anyway).
        await self.flush_within(SUBSCRIBE_FLUSH_SECONDS)
        subscription = Subscription(log, self._capacity, unstarted=True)
        log.add(subscription)
        return subscription

    async def subscribe(
        self, session_id: UUID, after: int | None = None, capacity: int | None = None
    ) -> Subscription:
        """Follow a session's events from now on; with ``after``, first replay every
        event after that id (or a ``reset`` if that is not possible)."""
        log = self.log(session_id)
        if self._store is None:
            return log.subscribe(after, capacity or self._capacity)
        if after is None:
            # From now on: after every event published before (here: once written; on
            # other processes: once committed), whether or not delivered here yet (a
            # write in trouble: start anyway).
            await self.flush_within(SUBSCRIBE_FLUSH_SECONDS)
            head = await self._store.head(session_id)
            subscription = Subscription(log, capacity or self._capacity, head)
            await self._catch_up(log, subscription, ReplayPage([], None, head))
            log.add(subscription)
            return subscription
        subscription = Subscription(log, capacity or self._capacity, after)
        await self._replay(log, subscription, after)
        log.add(subscription)
        return subscription
