"""How the API runtime measures what it sends (no server here)."""

from __future__ import annotations

import json
from copy import deepcopy
from dataclasses import replace

from kumiai.application.ports.agent_runtime import ToolSpec, TurnRequest
from kumiai.infrastructure.claude.context_window import ApiLayout, request_params

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
