"""Several server processes on one database: their leases, session owners, a channel.

Every ``kumiai serve`` process holds a *lease*: a row it renews with a heartbeat. A
session's turns run in the process that *owns* the session; ownership is claimed in
the database before a turn starts and lasts as long as the owner's lease. When a
lease lapses (the process died), another process takes its sessions over.

Processes tell each other what to do (wake a queue, stop a turn) over a *control
channel*: small messages addressed to one process, or to all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Protocol
from uuid import UUID

ControlMessage = dict[str, Any]
ControlHandler = Callable[[ControlMessage], None]


class ProcessLeases(Protocol):
    async def join(self, process_id: UUID, host: str, pid: int) -> None:
        """Take out this process's lease."""
        ...

    async def renew(self, process_id: UUID) -> bool:
        """Renew the lease; False when it was lost (another process took it over)."""
        ...

    async def leave(self, process_id: UUID) -> list[UUID]:
        """Give the lease up and every session with it. Returns the sessions given up
        that still have messages waiting, for another process to take."""
        ...

    async def neighbours(self, process_id: UUID, host: str) -> list[tuple[UUID, int]]:
        """The other processes holding a lease taken out on ``host``: (id, pid)."""
        ...

    async def take_over_lapsed(
        self, process_id: UUID, lease_seconds: float, exited: Collection[UUID] = ()
    ) -> list[UUID]:
        """End every lease not renewed for ``lease_seconds``, and those of ``exited``
        (processes known to be gone); their sessions become this process's. Returns
        those sessions."""
        ...

    async def claim(self, session_id: UUID, process_id: UUID) -> UUID | None:
        """Own the session unless another process does: returns its owner (this
        process, or the other one); None if the session is gone, or this process's lease
        is (it owns nothing until it joins again)."""
        ...

    async def live_owner(self, session_id: UUID, lease_seconds: float) -> UUID | None:
        """The process that owns the session, if its lease is current."""
        ...

    async def release(self, session_id: UUID, process_id: UUID) -> None:
        """Stop owning the session (if this process does)."""
        ...

    async def owned_elsewhere(self, session_ids: list[UUID], process_id: UUID) -> set[UUID]:
        """Which of these sessions another process owns (lapsed leases included)."""
        ...

    async def close(self) -> None: ...


class ControlChannel(Protocol):
    async def open(self, handler: ControlHandler) -> None:
        """Start hearing messages; ``handler`` gets each one, in order."""
        ...

    async def reopen_if_lost(self) -> bool:
        """Reconnect if the connection was lost; True if it was (messages sent while it
        was down are lost)."""
        ...

    async def send(self, message: ControlMessage) -> None: ...

    async def close(self) -> None: ...
