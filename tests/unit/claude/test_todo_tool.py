"""TodoWrite validates the list, summarises it and keeps the latest one per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kumiai.application.ports.agent_runtime import ToolOutcome
from kumiai.application.ports.tools import ToolContext
from kumiai.infrastructure.claude.tools import TodoWriteTool
from kumiai.infrastructure.claude.tools.todo import TodoItem
from tests.unit.claude.conftest import make_context

PLAN = [
    {"content": "Read the spec", "status": "completed", "activeForm": "Reading the spec"},
    {"content": "Write the code", "status": "in_progress", "activeForm": "Writing the code"},
    {"content": "Run the tests", "status": "pending"},
]


async def test_summarises_the_list(context: ToolContext) -> None:
    outcome = await TodoWriteTool().run({"todos": PLAN}, context)

    assert outcome == ToolOutcome(
        "Todo list updated: 1/3 completed, 1 in progress, 1 pending\n"
        "[x] Read the spec\n"
        "[>] Write the code (Writing the code)\n"
        "[ ] Run the tests"
    )


async def test_keeps_the_latest_list_per_session(workdir: Path, context: ToolContext) -> None:
    tool = TodoWriteTool()
    other = make_context(workdir)

    await tool.run({"todos": PLAN}, context)
    await tool.run({"todos": PLAN[:1]}, other)
    await tool.run({"todos": [{"content": "Ship it", "status": "pending"}]}, context)

    assert tool.todos(context.session_id) == [TodoItem("Ship it", "pending")]
    assert tool.todos(other.session_id) == [
        TodoItem("Read the spec", "completed", "Reading the spec")
    ]


async def test_an_empty_list_clears_it(context: ToolContext) -> None:
    tool = TodoWriteTool()
    await tool.run({"todos": PLAN}, context)

    outcome = await tool.run({"todos": []}, context)

    assert outcome == ToolOutcome("Todo list cleared")
    assert tool.todos(context.session_id) == []


@pytest.mark.parametrize(
    ("todos", "message"),
    [
        (None, "'todos' is required and must be a list"),
        (["just text"], "todos[0] must be an object"),
        ([{"content": " ", "status": "pending"}], "todos[0].content must be a non-empty string"),
        ([{"content": "x", "status": "done"}], "todos[0].status must be one of pending"),
        ([{"content": "x", "status": "pending", "activeForm": 3}], "todos[0].activeForm"),
    ],
)
async def test_invalid_lists_are_refused_and_not_stored(
    context: ToolContext, todos: Any, message: str
) -> None:
    tool = TodoWriteTool()

    outcome = await tool.run({"todos": todos}, context)

    assert outcome.is_error and message in outcome.content
    assert tool.todos(context.session_id) == []
