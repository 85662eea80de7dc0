"""How the Claude Code runtime fits what it sends: the API runtime's rules, measured on
the transcript a fresh CLI session is sent (estimates only: no server here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import uuid4

from kumiai.application.ports.agent_runtime import ToolSpec, TurnRequest, Usage, Workspace
from kumiai.application.services.runtime.history.budget import (
    ELIDED_OUTPUT,
    TRIMMED_PLACEHOLDER,
)
from kumiai.infrastructure.claude.context_window import SHRINK_TO
from kumiai.infrastructure.claude_code.fitting import (
    DEFAULT_UNSEEN_TOKENS,
    TranscriptFitting,
    TranscriptLayout,
)
from kumiai.infrastructure.continuity import ResumePoint, split_prompt, transcript_prompt

MAX_TOKENS = 1_000
ELIDED = ELIDED_OUTPUT.split(":")[0]
TOOLS = [
    ToolSpec("Read", "Claude Code's own", {"type": "object"}),
    ToolSpec("mcp__common_tools__notify_user", "Tell the user", {"type": "object"}),
]


def _exchange(number: int, output_chars: int) -> list[dict[str, Any]]:
    call_id = f"toolu_{number}"
    return [
        {"role": "user", "content": [{"type": "text", "text": f"question {number}"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": call_id, "name": "Read", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call_id, "content": "x" * output_chars}
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": f"answer {number}"}]},
    ]


def _request(history: list[dict[str, Any]], room: int, tmp_path: Path) -> TurnRequest:
    """A request that, when shrunk, leaves ``room`` tokens beside what Claude Code adds
    (less KumiAI's system prompt, tools and framing)."""
    new_message = {"role": "user", "content": [{"type": "text", "text": "and now?"}]}
    return TurnRequest(
        model="claude-sonnet-4-6",
        system="You are Dana.",
        messages=[*history, new_message],
        tools=TOOLS,
        max_tokens=MAX_TOKENS,
        workspace=Workspace(session_id=uuid4(), working_dir=str(tmp_path)),
        context_window_tokens=round((DEFAULT_UNSEEN_TOKENS + room) / SHRINK_TO) + MAX_TOKENS,
    )


async def _sent(request: TurnRequest, fitting: TranscriptFitting | None = None) -> str:
    history, _ = split_prompt(request.messages)
    return (await (fitting or TranscriptFitting({})).transcript(request, history)).prompt


def test_the_layout_measures_the_characters_of_what_kumiai_sends(tmp_path: Path) -> None:
    history = [message for number in range(3) for message in _exchange(number, 500)]
    request = _request(history, 50_000, tmp_path)
    layout = TranscriptLayout()

    measured = layout.fixed_chars(request) + sum(layout.message_chars(m) for m in history)

    kumiai_tool = {"name": TOOLS[1].name, "description": "Tell the user"}
    tools = [kumiai_tool | {"input_schema": {"type": "object"}}]
    sent = transcript_prompt(history, "and now?", preview=None)
    assert measured == len(request.system) + len(json.dumps(tools)) + len(sent)
    assert layout.count_params(request, history)["tools"] == tools
    assert layout.count_params(request, history)["messages"] == [{"role": "user", "content": sent}]


async def test_a_history_that_fits_is_sent_whole_with_long_results_uncut(tmp_path: Path) -> None:
    history = [message for number in range(3) for message in _exchange(number, 10_000)]

    sent = await _sent(_request(history, 50_000, tmp_path))

    assert sent == transcript_prompt(history, "and now?", preview=None)
    assert sent.count("x" * 10_000) == 3


async def test_old_tool_outputs_are_elided_first_and_the_latest_stay_whole(
    tmp_path: Path,
) -> None:
    history = [message for number in range(20) for message in _exchange(number, 3_000)]
    request = _request(history, 3_000, tmp_path)

    sent = await _sent(request)

    assert TRIMMED_PLACEHOLDER not in sent
    assert sent.count(ELIDED) == 19
    assert sent.index(ELIDED) < sent.index("question 19")
    assert sent.count("x" * 3_000) == 1
    assert sent.index("x" * 3_000) > sent.index("question 19")
    assert [f"answer {number}" in sent for number in range(20)] == [True] * 20


async def test_when_eliding_is_not_enough_the_oldest_exchanges_go_whole(tmp_path: Path) -> None:
    history = [message for number in range(40) for message in _exchange(number, 3_000)]
    fitting = TranscriptFitting({})
    request = _request(history, 1_500, tmp_path)

    sent = await _sent(request, fitting)

    assert sent.count(TRIMMED_PLACEHOLDER) == 1
    kept = [number for number in range(40) if f"question {number}\n" in sent]
    assert kept == list(range(kept[0], 40)) and kept[0] > 0
    # A kept call keeps its result (the trim cuts between exchanges only).
    assert all(f"[result of toolu_{number}]" in sent for number in kept)
    assert sent.count("x" * 3_000) == 1 and sent.endswith("and now?")
    window = fitting.window
    assert DEFAULT_UNSEEN_TOKENS + window.text_tokens(sent) <= window.budget(request)


async def test_what_claude_code_adds_is_learned_from_its_first_response(tmp_path: Path) -> None:
    history = [message for number in range(40) for message in _exchange(number, 3_000)]
    fitting = TranscriptFitting({})
    request = _request(history, 20_000, tmp_path)
    sent = await fitting.transcript(request, split_prompt(request.messages)[0])
    seen = fitting.window.seen_tokens(request, sent.history)

    fitting.learn(request, sent, Usage(input_tokens=10, cache_read_input_tokens=seen + 4_990))

    assert fitting.layout.unseen_tokens(request) == 5_000
    # 15,000 tokens no longer kept for Claude Code's own part leave room for more history.
    assert (await _sent(request, fitting)).count(ELIDED) < sent.prompt.count(ELIDED)


def test_a_session_is_resumed_only_while_it_and_the_new_message_fit(tmp_path: Path) -> None:
    fitting = TranscriptFitting({})
    request = _request([], 10_000, tmp_path)
    budget = fitting.window.budget(request)
    prompt = fitting.window.text_tokens("and now?")

    def point(tokens: int | None) -> ResumePoint:
        return ResumePoint("cc-session", str(tmp_path), "fingerprint", tokens)

    assert fitting.resumable(request, point(budget - prompt))
    assert not fitting.resumable(request, point(budget - prompt + 1))
    assert fitting.resumable(request, point(None))


async def test_a_refusal_claude_code_reports_teaches_the_window_and_its_own_part(
    tmp_path: Path,
) -> None:
    history = [message for number in range(5) for message in _exchange(number, 300)]
    fitting = TranscriptFitting({})
    request = _request(history, 50_000, tmp_path)
    sent = await fitting.transcript(request, split_prompt(request.messages)[0])
    seen = fitting.window.seen_tokens(request, sent.history)
    reason = (
        f"Claude Code: Prompt is too long · the request is ~{seen + 7_000} tokens "
        "(limit 30000) but this conversation is only ~444 tokens"
    )

    refusal = fitting.too_long(request, sent, reason)

    assert refusal is not None and refusal.stated_tokens == seen + 7_000
    assert fitting.layout.unseen_tokens(request) == 7_000
    assert fitting.window.budget(request) == 30_000 - MAX_TOKENS
    assert fitting.too_long(request, sent, "Claude Code: overloaded") is None
