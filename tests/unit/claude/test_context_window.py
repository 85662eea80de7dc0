"""How the API runtime measures what it sends (no server here)."""

from __future__ import annotations

import json
from copy import deepcopy
from dataclasses import replace
from typing import Any
from uuid import uuid4

from kumiai.application.ports.agent_runtime import ToolSpec, TurnRequest, Workspace
from kumiai.infrastructure.claude.context_window import ApiLayout, ContextWindow, request_params

READ = ToolSpec(
    "Read", "Read a file", {"type": "object", "properties": {"path": {"type": "string"}}}
)
NOTIFY = ToolSpec("mcp__common_tools__notify_user", "Tell the user — now", {"type": "object"})


def _sent_chars(request: TurnRequest) -> int:
    """The system prompt's and the tools' JSON, as the request sends them."""
    params = request_params(request, [])
    return len(json.dumps(params.get("system", ""))) + len(json.dumps(params.get("tools", [])))


def test_the_fixed_part_is_the_json_of_the_system_prompt_and_the_tools_turn_after_turn() -> None:
    layout = ApiLayout()
    first = TurnRequest(model="claude-sonnet-4-6", system="You are Dana.", messages=[])
    turns = [
        replace(first, tools=[READ, NOTIFY]),
        # Later turns: the same spec objects, a spec built anew, one listed twice, none.
        replace(first, tools=[READ, deepcopy(NOTIFY)]),
        replace(first, tools=[READ, READ, NOTIFY]),
        replace(first, tools=[READ], system=""),
        first,
    ]

    for request in turns:
        assert layout.fixed_chars(request) == _sent_chars(request)


class _CountingLayout(ApiLayout):
    def __init__(self) -> None:
        super().__init__()
        self.measured: list[int] = []

    def message_chars(self, message: dict[str, Any]) -> int:
        self.measured.append(id(message))
        return super().message_chars(message)


async def test_each_message_is_measured_once_while_sessions_take_turns() -> None:
    layout = _CountingLayout()
    window = ContextWindow(layout)
    sessions = [Workspace(session_id=uuid4(), working_dir="/work") for _ in range(3)]
    histories: dict[Workspace, list[dict[str, Any]]] = {workspace: [] for workspace in sessions}

    for turn in range(3):
        for workspace in sessions:  # the sessions' turns interleave
            history = histories[workspace]
            history.append({"role": "user", "content": f"message {turn}"})
            request = TurnRequest(model="m", system="", messages=history, workspace=workspace)
            await window.fit(None, request, history)

    every_message = [id(message) for history in histories.values() for message in history]
    assert sorted(layout.measured) == sorted(every_message)
