"""The ``TodoWrite`` tool: the agent's own checklist, shown by the web client.

The latest list of each session is kept in memory only. It is ephemeral on purpose:
the list travels in the tool call itself, which is persisted with the conversation
and is what the client renders, so losing this copy on restart loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from kumiai.application.ports.agent_runtime import ToolOutcome, ToolSpec
from kumiai.application.ports.tools import ToolContext
from kumiai.infrastructure.claude.tools.base import BuiltinTool, ToolInputError

TODO_STATUSES = ("pending", "in_progress", "completed")
_MARKS = {"pending": "[ ]", "in_progress": "[>]", "completed": "[x]"}


@dataclass(frozen=True)
class TodoItem:
    content: str
    status: str
    active_form: str | None = None


class TodoWriteTool(BuiltinTool):
    """Replaces the calling session's todo list and summarises it.

    One instance holds the lists of every session, so create it once and share it.
    """

    spec = ToolSpec(
        name="TodoWrite",
        description=(
            "Replace your todo list for this session with the given items. Keep exactly "
            "one item in_progress while working, and mark items completed as soon as "
            "they are done."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "todos": {
                    "type": "array",
                    "description": "The complete, updated list.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "content": {"type": "string", "minLength": 1},
                            "status": {"type": "string", "enum": list(TODO_STATUSES)},
                            "activeForm": {
                                "type": "string",
                                "description": "Present-tense wording shown while in progress.",
                            },
                        },
                        "required": ["content", "status"],
                    },
                }
            },
            "required": ["todos"],
            "additionalProperties": False,
        },
    )

    def __init__(self) -> None:
        self._lists: dict[UUID, list[TodoItem]] = {}

    def todos(self, session_id: UUID) -> list[TodoItem]:
        """The latest list the session wrote (empty if none since start-up)."""
        return list(self._lists.get(session_id, []))

    async def perform(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutcome:
        items = _parse_todos(arguments.get("todos"))
        self._lists[context.session_id] = items
        return ToolOutcome(_summary(items))


def _parse_todos(value: object) -> list[TodoItem]:
    if not isinstance(value, list):
        raise ToolInputError("'todos' is required and must be a list")
    return [_parse_item(index, item) for index, item in enumerate(value)]


def _parse_item(index: int, item: object) -> TodoItem:
    where = f"todos[{index}]"
    if not isinstance(item, dict):
        raise ToolInputError(f"{where} must be an object with 'content' and 'status'")
    content, status, active_form = item.get("content"), item.get("status"), item.get("activeForm")
    if not isinstance(content, str) or not content.strip():
        raise ToolInputError(f"{where}.content must be a non-empty string")
    if status not in TODO_STATUSES:
        raise ToolInputError(f"{where}.status must be one of {', '.join(TODO_STATUSES)}")
    if active_form is not None and not isinstance(active_form, str):
        raise ToolInputError(f"{where}.activeForm must be a string")
    return TodoItem(content, str(status), active_form or None)


def _summary(items: list[TodoItem]) -> str:
    if not items:
        return "Todo list cleared"
    counts = {status: sum(item.status == status for item in items) for status in TODO_STATUSES}
    header = (
        f"Todo list updated: {counts['completed']}/{len(items)} completed, "
        f"{counts['in_progress']} in progress, {counts['pending']} pending"
    )
    lines = [f"{_MARKS[item.status]} {_label(item)}" for item in items]
    return "\n".join([header, *lines])


def _label(item: TodoItem) -> str:
    if item.status == "in_progress" and item.active_form:
        return f"{item.content} ({item.active_form})"
    return item.content
