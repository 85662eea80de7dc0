"""The column a session shows in on a project's kanban board."""

from __future__ import annotations

from enum import StrEnum


class KanbanStage(StrEnum):
    """A kanban column, stored in a session's ``context`` under ``kanban_stage``."""

    BACKLOG = "backlog"
    ACTIVE = "active"
    WAITING = "waiting"
    DONE = "done"
