"""Each CLI's reader on its real recorded output (``tests/fixtures/cli_streams``: the
CLI at its pinned version, writing a file for the scripted server): the same sink calls
from three different streams, without the CLIs installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kumiai.infrastructure.cli_agents.codex import CodexBackend
from kumiai.infrastructure.cli_agents.gemini import GeminiBackend
from kumiai.infrastructure.cli_agents.opencode import OpenCodeBackend
from kumiai.infrastructure.cli_agents.runtime import CliBackend
from kumiai.infrastructure.cli_agents.writer import TurnWriter
from tests.support.sinks import RecordingSink

STREAMS = Path(__file__).resolve().parents[2] / "fixtures" / "cli_streams"
BACKENDS: dict[str, CliBackend] = {
    "codex": CodexBackend(),
    "gemini": GeminiBackend(user_dir=STREAMS / "no-such-folder"),
    "opencode": OpenCodeBackend(),
}
# What each recording's turn did, in the CLI's own tool vocabulary.
TOOLS = {"codex": "Bash", "gemini": "write_file", "opencode": "write"}


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_a_recorded_turn_becomes_text_blocks_a_tool_call_and_usage(name: str) -> None:
    sink = RecordingSink()
    reader = BACKENDS[name].reader(TurnWriter(sink))

    for line in (STREAMS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        await reader.on_event(json.loads(line))

    kinds = [event[0] for event in sink.events if event[0] not in ("text_delta", "usage")]
    assert kinds == ["text_done", "tool_use", "tool_result", "text_done"]
    assert [event[2] for event in sink.of("text_done")] == ["Writing it.", "Done writing."]
    assert sink.of("tool_use")[0][1].name == TOOLS[name]
    assert not sink.of("tool_result")[0][2].is_error
    assert sink.events[-1][0] == "usage"
    result = reader.result()
    assert result is not None
    assert result.error is None
    assert result.session_id
