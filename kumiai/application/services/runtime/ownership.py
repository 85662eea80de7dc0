"""Which server process runs each session's turns, and how the processes reach each other.

Any number of ``kumiai serve`` processes can share one database. Each *joins* when its
workers start: it takes out a lease (:class:`~kumiai.application.ports.processes.
ProcessLeases`) and renews it every heartbeat. A session's turns run in the process
that *owns* it: the first process whose worker claims the session owns it from then on,
while its lease lasts, so a turn runs in exactly one process and the session's MCP
servers live there. A process that is not the owner passes a wake on to the owner.

Every heartbeat, each process also looks for leases that lapsed (a process killed
with ``kill -9``, or cut off from the database). One of them (the lapsed rows are
locked, skipping locked ones) takes the dead process's sessions over: its workers
settle the dead turns through the crash path and drain the queues. A process on the
same host (same host name and PID namespace) whose pid no longer exists is dead at
once, lease or not: a server restarted after ``kill -9`` settles what it left
straight away instead of after the lease.

Requests that must reach the owner (cancel, interrupt, delete, archive, the answers to
a question its turn waits on) travel on the control channel, addressed to it, and wait
for its answer.

Until it joins (a sole server in tests, or in-memory assemblies), a process owns every
session and needs no database for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from kumiai.application.ports.processes import ControlChannel, ControlMessage, ProcessLeases
from kumiai.core.logging import get_logger

logger = get_logger(__name__)

WAKE = "wake"

RequestHandler = Callable[[str, UUID, dict[str, Any]], Awaitable[object]]
# The sessions taken over, or None when the process lost track (its lease or its channel
# was lost): then every queue with messages waiting needs a look.
TakeoverHandler = Callable[[list[UUID] | None], Coroutine[Any, Any, None]]


def this_host() -> str:
    """This machine as leases name it: its host name and its PID namespace, since two
    containers may share a host name but never see each other's pids."""
    try:
        return f"{socket.gethostname()} {os.readlink('/proc/self/ns/pid')}"
    except OSError:  # no /proc (not Linux): pids are the host's own
        return socket.gethostname()


def _exited(pid: int) -> bool:
    """True when no process has this pid (one owned by another user still exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class LeaseTiming:
    lease_seconds: float = 5.0
    """A process whose heartbeat is older than this is dead; others take over."""
    heartbeat_seconds: float = 1.0
    request_seconds: float = 12.0
    """How long a request to another process waits for its answer."""


class SessionOwnership:
    def __init__(
        self,
        leases: ProcessLeases | None = None,
        channel: ControlChannel | None = None,
        timing: LeaseTiming | None = None,
    ) -> None:
        self.process_id = uuid4()
        self._host = this_host()
        self._leases = leases
        self._channel = channel
        self._timing = timing or LeaseTiming()
        self._joined = False
        self._owned: set[UUID] = set()
        self._replies: dict[str, asyncio.Future[object]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._keeper: asyncio.Task[None] | None = None
        self._on_request: RequestHandler | None = None
        self._served: dict[str, RequestHandler] = {}
        self._on_takeover: TakeoverHandler | None = None

    @property
    def joined(self) -> bool:
        return self._joined

    # --- the lease --------------------------------------------------------------------

    async def join(self, on_request: RequestHandler, on_takeover: TakeoverHandler) -> list[UUID]:
        """Take out the lease, hear the channel, and take over what dead processes left.
        Returns the sessions taken over (their turns are settled by the caller)."""
        if self._leases is None or self._channel is None or self._joined:
            return []
        self._on_request, self._on_takeover = on_request, on_takeover
        await self._leases.join(self.process_id, self._host, os.getpid())
        await self._channel.open(self._heard)
        self._joined = True
        taken = await self._take_over_the_dead()
        self._owned.update(taken)
        self._keeper = asyncio.create_task(self._keep_lease(), name="kumiai-process-lease")
        logger.info("process_joined", process_id=str(self.process_id), taken_over=len(taken))
        return taken

    async def leave(self) -> None:
        """Give up the lease and every session; another process takes the ones with
        messages waiting (they are announced to all)."""
        if not self._joined or self._leases is None or self._channel is None:
            return
        self._joined = False
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        try:
            waiting = await self._leases.leave(self.process_id)
            if waiting:
                await self._send(None, WAKE, sessions=[str(s) for s in waiting])
        except Exception as error:  # the lease lapses by itself then
            logger.warning("process_leave_failed", error=repr(error))
        finally:
            self._owned.clear()
            await self._channel.close()
            await self._leases.close()

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(self._timing.heartbeat_seconds)
            try:
                await self._heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is away: try again next beat
                logger.warning("process_heartbeat_failed", error=repr(error))

    async def _heartbeat(self) -> None:
        assert self._leases is not None and self._channel is not None
        assert self._on_takeover is not None
        if not await self._leases.renew(self.process_id):
            # Taken for dead (stalled longer than the lease): its sessions are another's.
            logger.error("process_lease_lost", process_id=str(self.process_id))
            self._owned.clear()
            await self._leases.join(self.process_id, self._host, os.getpid())
            self._spawn(self._on_takeover(None))
        if await self._channel.reopen_if_lost():
            # Wakes sent while it was deaf are lost: look at every waiting queue again.
            self._spawn(self._on_takeover(None))
        taken = await self._take_over_the_dead()
        if taken:
            logger.warning("sessions_taken_over", count=len(taken))
            self._owned.update(taken)
            # Settling and draining them may take a while: the heartbeat goes on meanwhile.
            self._spawn(self._on_takeover(taken))

    async def _take_over_the_dead(self) -> list[UUID]:
        """Sessions of processes whose lease lapsed, or which exited on this host."""
        assert self._leases is not None
        neighbours = await self._leases.neighbours(self.process_id, self._host)
        exited = [process for process, pid in neighbours if _exited(pid)]
        return await self._leases.take_over_lapsed(
            self.process_id, self._timing.lease_seconds, exited
        )

    # --- sessions ---------------------------------------------------------------------

    def owns(self, session_id: UUID) -> bool:
        """True when this process owns the session already (no database asked)."""
        return not self._joined or session_id in self._owned

    async def claim(self, session_id: UUID) -> UUID | None:
        """Own the session, unless another process does. Returns the owner: this
        process's id, another's, or None when the session is gone."""
        if not self._joined or session_id in self._owned:
            return self.process_id
        assert self._leases is not None
        owner = await self._leases.claim(session_id, self.process_id)
        if owner == self.process_id:
            self._owned.add(session_id)
        return owner

    async def owner_elsewhere(self, session_id: UUID) -> UUID | None:
        """The live process other than this one that runs the session's turns, if any."""
        if not self._joined or session_id in self._owned:
            return None
        assert self._leases is not None
        owner = await self._leases.live_owner(session_id, self._timing.lease_seconds)
        return None if owner == self.process_id else owner

    async def release(self, session_id: UUID) -> None:
        """Stop owning the session (it ended here)."""
        if not self._joined or session_id not in self._owned:
            return
        assert self._leases is not None
        self._owned.discard(session_id)
        await self._leases.release(session_id, self.process_id)

    async def settleable(self, session_ids: list[UUID]) -> list[UUID]:
        """Those of the sessions no other process owns: this one may settle them."""
        if not self._joined:
            return session_ids
        assert self._leases is not None
        elsewhere = await self._leases.owned_elsewhere(session_ids, self.process_id)
        return [session_id for session_id in session_ids if session_id not in elsewhere]

    # --- the channel ------------------------------------------------------------------

    def serve(self, op: str, handler: RequestHandler) -> None:
        """Have ``handler`` answer the requests ``op`` (those the workers do not)."""
        self._served[op] = handler

    async def wake_owner(self, owner: UUID, session_id: UUID) -> None:
        await self._send(owner, WAKE, sessions=[str(session_id)])

    async def ask(self, owner: UUID, op: str, session_id: UUID, **arguments: Any) -> object:
        """Have ``owner`` do ``op`` for the session; its answer, or None if it gave none
        in time (it died: its lease lapses and the crash path settles the session)."""
        request = uuid4().hex
        answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._replies[request] = answer
        try:
            await self._send(owner, op, session=str(session_id), request=request, **arguments)
            async with asyncio.timeout(self._timing.request_seconds):
                return await answer
        except TimeoutError:
            logger.warning("control_request_unanswered", op=op, owner=str(owner))
            return None
        finally:
            self._replies.pop(request, None)

    async def _send(self, to: UUID | None, op: str, **fields: Any) -> None:
        assert self._channel is not None
        message = {"to": str(to) if to else None, "from": str(self.process_id), "op": op}
        await self._channel.send({**message, **fields})

    def _heard(self, message: ControlMessage) -> None:
        me = str(self.process_id)
        if message.get("from") == me or message.get("to") not in (None, me):
            return
        if "reply" in message:
            answer = self._replies.get(str(message["reply"]))
            if answer is not None and not answer.done():
                answer.set_result(message.get("result"))
            return
        self._spawn(self._answer(message))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _answer(self, message: ControlMessage) -> None:
        assert self._on_request is not None
        op = str(message.get("op"))
        result: object = None
        try:
            if op == WAKE:
                sessions = [UUID(value) for value in message.get("sessions", [])]
                for session_id in sessions:
                    await self._on_request(WAKE, session_id, {})
            else:
                handler = self._served.get(op, self._on_request)
                result = await handler(op, UUID(str(message["session"])), message)
        except Exception as error:  # one bad message never stops the channel
            logger.error("control_request_failed", op=op, exc_info=error)
        if "request" in message and self._joined:
            with contextlib.suppress(Exception):  # the asker times out instead
                asker = UUID(str(message["from"]))
                await self._send(asker, op, reply=message["request"], result=result)
