"""The slot waits of the turns this process runs, recorded on their session rows.

A turn beyond its runtime's cap waits in the process that owns its session
(:mod:`.slots`). The queue view and the session say so (``waiting``: ``slot``) through
whichever server process serves the read, because the owner records the wait on the
session row (``sessions.waiting_slot``) as it starts, and clears it as it ends; the
turn's claim clears it too (:func:`~kumiai.application.services.session_lifecycle.
start_turn`), so a mark its owner could not clear (it died) lasts until the next turn
starts.

The writes run beside the wait, never before it (slots are handed over in the order
the turns asked for them), one at a time per session with the newest state written
last. A write that fails (the database is away) is given up: the mark is only what
readers are told.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.core.logging import get_logger

logger = get_logger(__name__)

_UNWRITTEN = object()


class SlotWaitRecorder:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow
        self._wanted: dict[UUID, str | None] = {}
        self._writers: dict[UUID, asyncio.Task[None]] = {}

    def note(self, session_id: UUID, runtime: str | None) -> None:
        """The session's next turn waits for a slot of ``runtime`` now (None: no more).
        Implements :data:`~kumiai.application.services.runtime.slots.WaitWatcher`."""
        self._wanted[session_id] = runtime
        if session_id not in self._writers:
            self._writers[session_id] = asyncio.create_task(
                self._write(session_id), name=f"kumiai-slot-wait-{session_id}"
            )

    async def _write(self, session_id: UUID) -> None:
        written: object = _UNWRITTEN
        try:
            while (wanted := self._wanted[session_id]) != written:
                try:
                    async with self._uow() as uow:
                        await uow.sessions.set_waiting_slot(session_id, wanted)
                        await uow.commit()
                except Exception as error:  # readers may see a stale reason; nothing else
                    logger.warning(
                        "slot_wait_not_recorded", session_id=str(session_id), error=repr(error)
                    )
                written = wanted
        finally:
            # No await since the last check: a note made meanwhile was written above.
            del self._writers[session_id]
            self._wanted.pop(session_id, None)

    async def settle(self) -> None:
        """Wait for the writes under way (at shutdown, before the database goes)."""
        while self._writers:
            await asyncio.gather(*self._writers.values(), return_exceptions=True)
