"""Where a task stands on its project's board."""

from __future__ import annotations

from enum import StrEnum

from kumiai.core.exceptions import ValidationError


class TaskStatus(StrEnum):
    """A board column. Any status may move to any other: the board is the user's to
    arrange, so there is no state machine here (unlike a session's status)."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    ARCHIVED = "archived"

    @classmethod
    def parse(cls, value: str, field: str = "status") -> TaskStatus:
        """The status named by ``value`` in any letter case (``"In_Progress"``), as an
        agent or a hand-edited database may spell it; 422 naming ``field`` otherwise."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            allowed = [str(status) for status in cls]
            raise ValidationError(
                f"unknown task status {value!r}: use one of {', '.join(allowed)}",
                details={"field": field, "value": value, "allowed": allowed},
            ) from None
