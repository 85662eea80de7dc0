"""Where live events go: each session's numbered log, which clients follow over SSE.

Events that announce a change to stored data are handed to the unit of work
(``UnitOfWork.publish``), which passes them on here only once the change is committed.
Events with nothing stored behind them (text as it streams, notifications, a turn's
terminal event during an outage) are published here directly.
"""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID


class EventPublisher(Protocol):
    def publish(self, session_id: UUID, event_type: str, **data: Any) -> object: ...
