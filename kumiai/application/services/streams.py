"""The live event streams (SSE connections) open right now, for the health report.

Every streaming endpoint, v1 and v2, holds :meth:`OpenStreams.track` for as long as it
sends: from its first event until the client goes or the stream ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class StreamCount:
    total: int
    sessions: int  # sessions with at least one stream open


class OpenStreams:
    def __init__(self) -> None:
        self._by_session: Counter[UUID] = Counter()

    @contextmanager
    def track(self, session_id: UUID) -> Iterator[None]:
        self._by_session[session_id] += 1
        try:
            yield
        finally:
            self._by_session[session_id] -= 1
            if self._by_session[session_id] <= 0:
                del self._by_session[session_id]

    def count(self) -> StreamCount:
        return StreamCount(total=self._by_session.total(), sessions=len(self._by_session))
