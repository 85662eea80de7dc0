"""The session state machine: the statuses and the one table of allowed moves."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class SessionStatus(StrEnum):
    """Where a session is in its life; only moves listed in ``ALLOWED_TRANSITIONS`` happen."""

    INITIALIZING = "initializing"
    IDLE = "idle"
    THINKING = "thinking"
    WORKING = "working"
    WAITING = "waiting"
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"

    def can_move_to(self, target: SessionStatus) -> bool:
        """Whether the state machine allows moving from this status to ``target``."""
        return target in ALLOWED_TRANSITIONS[self]

    def allowed_moves(self) -> list[str]:
        """The statuses reachable from this one, sorted, as plain strings for error details."""
        return sorted(str(status) for status in ALLOWED_TRANSITIONS[self])

    @property
    def is_running(self) -> bool:
        """True while a turn is in progress (the agent thinks, runs a tool or waits)."""
        return self in _RUNNING

    @property
    def is_terminal(self) -> bool:
        """True once the session has ended; only ``resume()`` leaves these statuses."""
        return self in _TERMINAL


_RUNNING = frozenset({SessionStatus.THINKING, SessionStatus.WORKING, SessionStatus.WAITING})
_TERMINAL = frozenset({SessionStatus.COMPLETED, SessionStatus.ERROR, SessionStatus.CANCELLED})

_S = SessionStatus

# The single source of truth for status moves (SPEC section 4). Read-only so no caller can
# widen it at run time.
ALLOWED_TRANSITIONS: Mapping[SessionStatus, frozenset[SessionStatus]] = MappingProxyType(
    {
        _S.INITIALIZING: frozenset({_S.IDLE, _S.ERROR, _S.CANCELLED}),
        _S.IDLE: frozenset({_S.THINKING, _S.COMPLETED, _S.CANCELLED, _S.ERROR}),
        _S.THINKING: frozenset({_S.WORKING, _S.WAITING, _S.IDLE, _S.ERROR, _S.CANCELLED}),
        _S.WORKING: frozenset({_S.THINKING, _S.WAITING, _S.IDLE, _S.ERROR, _S.CANCELLED}),
        _S.WAITING: frozenset({_S.THINKING, _S.IDLE, _S.CANCELLED, _S.ERROR}),
        _S.COMPLETED: frozenset({_S.IDLE}),
        _S.ERROR: frozenset({_S.IDLE}),
        _S.CANCELLED: frozenset({_S.IDLE}),
    }
)
