"""Where a task stands on its project's board."""

from __future__ import annotations

from enum import StrEnum

from kumiai.domain.value_objects.choices import parse_member


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
        return parse_member(
            cls, value, field=field, noun="task status", spelling=lambda text: text.strip().lower()
        )
