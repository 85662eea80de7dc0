"""The control channel between server processes: PostgreSQL ``LISTEN``/``NOTIFY``.

One connection of its own per process, outside the pool: it listens for the whole
life of the process, and sends on the same connection (control messages are few). A
message is a small JSON object; NOTIFY delivers it to every listener, each of which
keeps what is addressed to it.
"""

from __future__ import annotations

import asyncio
import json

import asyncpg

from kumiai.application.ports.processes import ControlHandler, ControlMessage
from kumiai.core.logging import get_logger
from kumiai.infrastructure.database.event_log import asyncpg_dsn

logger = get_logger(__name__)

CHANNEL = "kumiai_control"


class PgControlChannel:
    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        self._dsn = asyncpg_dsn(url)
        self._timeout = connect_timeout
        self._connection: asyncpg.Connection | None = None
        self._handler: ControlHandler | None = None
        self._sending = asyncio.Lock()

    async def open(self, handler: ControlHandler) -> None:
        self._handler = handler
        await self._connect()

    async def _connect(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=self._timeout)
        await connection.add_listener(CHANNEL, self._heard)
        self._connection = connection

    def _heard(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        if self._handler is None:
            return
        try:
            message = json.loads(payload)
        except ValueError:
            logger.warning("control_message_unreadable", payload=payload[:200])
            return
        self._handler(message)

    async def reopen_if_lost(self) -> bool:
        if self._handler is None or (
            self._connection is not None and not self._connection.is_closed()
        ):
            return False
        await self._connect()
        return True

    async def send(self, message: ControlMessage) -> None:
        connection = self._connection
        if connection is None or connection.is_closed():
            raise ConnectionError("the control channel is not connected")
        async with self._sending:
            await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, json.dumps(message))

    async def close(self) -> None:
        self._handler = None
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            await connection.close()
