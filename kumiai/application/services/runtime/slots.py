"""Caps on the turns running at once: one per runtime, and optionally one server-wide.

A turn runs on the runtime of its session's backend: Claude agents on the Claude
runtime KumiAI selected (the API, ``anthropic``, or ``claude-code``), the others on
their CLI (``codex``, ``gemini``, ``opencode``). Each runtime has its own cap: an API
turn waits on the network, so many run at once; a CLI turn is a process with its own
memory, so fewer do. A turn beyond its runtime's cap waits for a slot with its input
still pending, so a message sent meanwhile says ``queued``, and the queue view says
which runtime it waits for. A watcher (:meth:`TurnSlots.watch`) hears each wait start
and end: the workers record it on the session row, for every server process to read.

Slots are handed over in the order they were asked for: a freed slot goes to the
oldest waiter, never to a newcomer that happens to ask at that moment.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

from kumiai.domain.value_objects.cli_backend import CliBackend

SERVER = "server"
"""The name of the optional server-wide cap, in waiting reasons."""

WaitWatcher = Callable[[UUID, str | None], None]
"""Told (synchronously) the name of the cap a session's turn starts waiting for, and
None once it waits no more."""


@dataclass(frozen=True)
class TurnCaps:
    """How many turns may run at once, by runtime name."""

    per_runtime: Mapping[str, int]
    default: int
    """The cap of a runtime ``per_runtime`` does not name."""
    claude_runtime: str = "anthropic"
    """The runtime Claude agents run on (the selected one)."""
    server: int | None = None
    """A cap across every runtime, if set."""

    def runtime_of(self, backend: CliBackend) -> str:
        return self.claude_runtime if backend is CliBackend.CLAUDE else backend.value

    def cap_of(self, runtime: str) -> int:
        return self.per_runtime.get(runtime, self.default)


class _Pool:
    """``cap`` slots, handed to waiters first come, first served."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def has_room(self) -> bool:
        return self.running < self.cap and not self._waiters

    def try_take(self) -> bool:
        if self.has_room:
            self.running += 1
            return True
        return False

    async def take(self) -> None:
        if self.try_take():
            return
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(handed)
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self.release()  # handed over just as the waiter was cancelled: pass it on
            else:
                self._waiters.remove(handed)
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves to it: ``running`` stays
                return
        self.running -= 1


@dataclass
class Slot:
    """A turn's place under its caps; released exactly once."""

    pools: list[_Pool] = field(default_factory=list)

    def release(self) -> None:
        pools, self.pools = self.pools, []
        for pool in reversed(pools):
            pool.release()


class TurnSlots:
    def __init__(self, caps: TurnCaps) -> None:
        self._caps = caps
        self._pools: dict[str, _Pool] = {}
        self._server = _Pool(caps.server) if caps.server is not None else None
        self._watchers: list[WaitWatcher] = []
        # Each session's runtime, by the backend it keeps for life: learnt once.
        self._runtimes: dict[UUID, str] = {}

    def watch(self, watcher: WaitWatcher) -> None:
        """Have ``watcher`` told when a session's turn starts and stops waiting for a slot."""
        self._watchers.append(watcher)

    def _tell(self, session_id: UUID, name: str | None) -> None:
        for watcher in self._watchers:
            watcher(session_id, name)

    def runtime_of(self, session_id: UUID, backend: CliBackend) -> str:
        """The runtime a session of ``backend`` runs on (remembered for the session)."""
        runtime = self._runtimes[session_id] = self._caps.runtime_of(backend)
        return runtime

    def known_runtime(self, session_id: UUID) -> str | None:
        return self._runtimes.get(session_id)

    def forget(self, session_id: UUID) -> None:
        self._runtimes.pop(session_id, None)

    def _pool(self, runtime: str) -> _Pool:
        pool = self._pools.get(runtime)
        if pool is None:
            pool = self._pools[runtime] = _Pool(self._caps.cap_of(runtime))
        return pool

    def _chain(self, runtime: str) -> list[tuple[str, _Pool]]:
        """The pools a turn of ``runtime`` needs, always taken in this order."""
        chain = [(runtime, self._pool(runtime))]
        if self._server is not None:
            chain.append((SERVER, self._server))
        return chain

    def try_take(self, runtime: str) -> Slot | None:
        """A slot now, or None when the turn would have to wait for one."""
        slot = Slot()
        for _, pool in self._chain(runtime):
            if not pool.try_take():
                slot.release()
                return None
            slot.pools.append(pool)
        return slot

    async def take(self, runtime: str, session_id: UUID) -> Slot:
        """A slot, waiting for one if need be (the watchers hear the wait start and end)."""
        slot = Slot()
        waited = False
        try:
            for name, pool in self._chain(runtime):
                if not pool.try_take():
                    waited = True
                    self._tell(session_id, name)
                    await pool.take()
                slot.pools.append(pool)
        except BaseException:
            slot.release()
            raise
        finally:
            if waited:
                self._tell(session_id, None)
        return slot

    def full(self, runtime: str) -> bool:
        """True when a turn of ``runtime`` starting now would wait for a slot."""
        return any(not pool.has_room for _, pool in self._chain(runtime))
