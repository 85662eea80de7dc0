"""The built-in tools an agent uses on its working folder, with Claude Code's names."""

from __future__ import annotations

from kumiai.application.ports.tools import Tool
from kumiai.infrastructure.claude.tools.bash import BashTool
from kumiai.infrastructure.claude.tools.files import (
    EditTool,
    GlobTool,
    GrepTool,
    ReadTool,
    WriteTool,
)
from kumiai.infrastructure.claude.tools.todo import TodoWriteTool

__all__ = [
    "BashTool",
    "EditTool",
    "GlobTool",
    "GrepTool",
    "ReadTool",
    "TodoWriteTool",
    "WriteTool",
    "file_tools",
]


def file_tools() -> list[Tool]:
    """One fresh instance of each built-in tool: Read, Write, Edit, Glob, Grep, Bash and
    TodoWrite.

    Call once and share the list: the TodoWrite instance keeps each session's latest
    list in memory.
    """
    return [
        ReadTool(),
        WriteTool(),
        EditTool(),
        GlobTool(),
        GrepTool(),
        BashTool(),
        TodoWriteTool(),
    ]
