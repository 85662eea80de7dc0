"""The pure pieces of the Claude Code runtime: continuity, tool choice, the guard."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from kumiai.application.ports.agent_runtime import ToolSpec, Workspace
from kumiai.application.services.runtime.history.replay import to_api_messages
from kumiai.domain.entities import Message
from kumiai.infrastructure.claude_code.tools import builtin_tools, refusal_for
from kumiai.infrastructure.continuity import (
    ResumePoint,
    ResumePoints,
    fingerprint,
    split_prompt,
    transcript_prompt,
)


def _workspace(workdir: Path, **fields: object) -> Workspace:
    return Workspace(session_id=uuid4(), working_dir=str(workdir), **fields)  # type: ignore[arg-type]


def test_the_fingerprint_of_a_stream_equals_that_of_the_same_rows_replayed() -> None:
    session_id = uuid4()
    rows = [
        Message.user(session_id, "write it"),
        Message.assistant_text(session_id, "Writing.", "run"),
        Message.tool_use(session_id, "toolu_1", "Write", {"file_path": "a"}, "run"),
        Message.tool_result(session_id, "toolu_1", "ok", False, "run"),
        Message.assistant_text(session_id, "Done.", "run"),
    ]
    for sequence, row in enumerate(rows):
        row.sequence = sequence
    streamed = [
        {"role": "user", "content": [{"type": "text", "text": "write it"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Writing."}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "W"}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Done."}]},
    ]
    assert fingerprint(to_api_messages(rows)) == fingerprint(streamed)
    assert fingerprint(to_api_messages(rows[:-1])) != fingerprint(streamed)


def test_the_new_message_is_split_from_the_history_it_continues() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "first"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash"}]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "cancelled"},
                {"type": "text", "text": "second"},
            ],
        },
    ]
    history, prompt = split_prompt(messages)
    assert prompt == "second"
    assert history[-1] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "cancelled"}],
    }


def test_a_rebuilt_prompt_carries_the_transcript_before_the_new_message() -> None:
    history = [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": [{"type": "text", "text": "hi there"}]},
    ]
    prompt = transcript_prompt(history, "and now?")
    assert prompt.index("[user]\nhello") < prompt.index("[assistant]\nhi there")
    assert prompt.endswith("</conversation_transcript>\n\nand now?")
    assert transcript_prompt([], "only this") == "only this"


def test_resume_points_survive_a_restart_and_a_broken_file_is_ignored(tmp_path: Path) -> None:
    session_id = uuid4()
    point = ResumePoint("cc-session", "/work", "abc")
    ResumePoints(tmp_path).put(session_id, point)
    assert ResumePoints(tmp_path).get(session_id) == point
    (tmp_path / f"{session_id}.json").write_text("{not json")
    assert ResumePoints(tmp_path).get(session_id) is None
    assert ResumePoints(tmp_path).get(uuid4()) is None


def test_a_recorded_cli_session_continues_only_the_history_it_holds_in_its_folder(
    tmp_path: Path,
) -> None:
    session_id = uuid4()
    history = [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": [{"type": "text", "text": "hi"}]},
    ]
    ResumePoints(tmp_path).record(session_id, "/work", "cli-1", history, context_tokens=42)

    point = ResumePoints(tmp_path).continuing(session_id, "/work", history)
    assert point == ResumePoint("cli-1", "/work", fingerprint(history), 42)
    assert ResumePoints(tmp_path).continuing(session_id, "/elsewhere", history) is None
    assert ResumePoints(tmp_path).continuing(session_id, "/work", history[:1]) is None


def test_builtin_tools_follow_the_request_the_allowlist_and_the_profile(tmp_path: Path) -> None:
    specs = [ToolSpec(name, "", {}) for name in ("Read", "Write", "Bash", "mcp__common_tools__x")]
    assert builtin_tools(specs, _workspace(tmp_path)) == [
        "Read",
        "Write",
        "Bash",
        "WebSearch",
        "WebFetch",
    ]
    limited = _workspace(tmp_path, bash_enabled=False, allowed_tools=("Read", "WebFetch"))
    assert builtin_tools(specs, limited) == ["Read", "Write", "WebFetch"]


def test_the_guard_refuses_paths_outside_the_folder_and_disabled_bash(
    workdir: Path, outside: Path
) -> None:
    workspace = _workspace(workdir, bash_enabled=False)
    assert refusal_for("Write", {"file_path": "notes/a.md"}, workspace) is None
    assert refusal_for("Read", {"file_path": str(workdir / "a.md")}, workspace) is None
    refused = refusal_for("Read", {"file_path": str(outside / "secret.txt")}, workspace)
    assert refused is not None and "outside" in refused
    assert refusal_for("Grep", {"path": "../outside"}, workspace) is not None
    assert refusal_for("Bash", {"command": "ls"}, workspace) == (
        "Bash is disabled in the user's profile."
    )
    assert refusal_for("WebFetch", {"url": "https://example.org"}, workspace) is None
