"""What only the Claude Code runtime has: its CLI, its own sessions, its own tools.

Every test runs the real CLI bundled with ``claude-agent-sdk`` against the scripted
server; the shared scenarios (text, files, delegation, retries, cancel) run on both
runtimes in test_turns.py and test_delegation.py.
"""

from __future__ import annotations

import asyncio
import shutil
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import claude_agent_sdk
import psutil
import pytest

from kumiai.core.config import Settings
from tests.integration.runtime.helpers import (
    assert_history_pairs,
    create_specialist,
    create_team,
    messages,
    send,
    session,
    wait_for_event,
    wait_until_idle,
)
from tests.support.live import LiveApp, live_app
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, ToolUse
from tests.support.sse import Event, events

pytestmark = pytest.mark.parametrize("runtime", ["claude-code"], indirect=True)

TRANSCRIPT_MARK = "<conversation_transcript>"
TERMINAL = {"done", "error", "cancelled"}
CLI_TIMEOUT = 60
"""Generous: every turn starts a Claude Code process, slow on a loaded 2-core machine."""


def _bundled_cli() -> str:
    bundled = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    assert bundled.is_file(), "claude-agent-sdk ships its CLI"
    return str(bundled)


def _write_cli(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _remove(path: Path) -> None:
    path.unlink()


def _prompt_of(request_messages: list[dict[str, object]]) -> str:
    return str(request_messages[-1]["content"])


async def _send_until_terminal(live: LiveApp, session_id: str, content: str) -> list[Event]:
    async with live.client.stream(
        "POST",
        f"/api/v2/sessions/{session_id}/messages",
        json={"content": content},
        headers={"accept": "text/event-stream"},
    ) as response:
        seen = []
        async for event in events(response):
            seen.append(event)
            if event.type in TERMINAL:
                return seen
    raise AssertionError("the stream ended without a terminal event")


@pytest.fixture
def cli_wrapper(tmp_path: Path) -> Path:
    """A CLI path the test can break and repair while the server runs."""
    return tmp_path / "bin" / "claude"


@pytest.fixture
async def wrapped_live(live_settings: Settings, cli_wrapper: Path) -> AsyncIterator[LiveApp]:
    _write_cli(cli_wrapper, f'exec "{_bundled_cli()}" "$@"')
    settings = live_settings.model_copy(update={"claude_code_cli": cli_wrapper})
    async with live_app(settings) as app:
        yield app


async def test_health_says_claude_code_runs_turns_and_why(live: LiveApp) -> None:
    body = (await live.client.get("/api/health")).json()
    assert body["runtime"] == {
        "requested": "claude-code",
        "active": "claude-code",
        "reason": "ANTHROPIC_API_KEY is set",
    }


async def _answered_once(live: LiveApp, claude: ScriptedAnthropic) -> str:
    """A specialist session after one turn, with the answer to a second one scripted."""
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.text("The answer is 42."), Reply.text("You asked about 42."))
    await send(live.client, session_id, "what is the answer?")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)
    return session_id


async def test_the_next_turn_resumes_the_claude_code_session(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await _answered_once(live, claude)
    await send(live.client, session_id, "what did I ask?")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)

    second = claude.requests[-1].messages
    assert TRANSCRIPT_MARK not in str(second)
    assert "The answer is 42." in str([m for m in second if m["role"] == "assistant"])
    assert "what did I ask?" in _prompt_of(second)
    rows = await messages(live.client, session_id)
    assert [row["content"] for row in rows] == [
        "what is the answer?",
        "The answer is 42.",
        "what did I ask?",
        "You asked about 42.",
    ]


async def test_without_its_local_state_the_context_is_rebuilt_from_the_database(
    live: LiveApp, claude: ScriptedAnthropic, isolated_claude_code: Path
) -> None:
    session_id = await _answered_once(live, claude)
    shutil.rmtree(isolated_claude_code / ".claude" / "projects")

    await send(live.client, session_id, "what did I ask?")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)
    prompt = _prompt_of(claude.requests[-1].messages)
    assert TRANSCRIPT_MARK in prompt
    assert prompt.index("what is the answer?") < prompt.index("The answer is 42.")
    assert prompt.rindex("what did I ask?") > prompt.index("</conversation_transcript>")
    assert (await messages(live.client, session_id))[-1]["content"] == "You asked about 42."


async def test_file_tools_are_confined_to_the_project_folder(
    live: LiveApp, claude: ScriptedAnthropic, tmp_path: Path
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    outside = tmp_path / "outside.txt"
    claude.enqueue(
        Reply.tool_use("Write", {"file_path": str(outside), "content": "escaped"}),
        Reply.text("I could not write there."),
    )
    await send(live.client, session_id, "write outside")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)

    assert not outside.exists()
    rows = await messages(live.client, session_id)
    result = next(row for row in rows if row["role"] == "tool_result")
    assert result["metadata"]["is_error"] is True
    assert "outside" in result["content"]
    assert_history_pairs(rows)


async def test_bash_is_not_offered_when_the_profile_disables_it(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    disabled = await live.client.patch("/api/v2/profile", json={"bash_enabled": False})
    assert disabled.status_code == 200
    claude.enqueue(Reply.text("No shell today."))
    await send(live.client, session_id, "hi")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)
    offered = {tool["name"] for tool in claude.requests[-1].tools}
    assert "Bash" not in offered
    assert {"Read", "Write", "WebSearch", "WebFetch"} <= offered
    assert "mcp__common_tools__contact_pm" in offered


async def test_a_missing_or_failing_cli_is_an_error_event_and_the_session_resumes(
    wrapped_live: LiveApp, claude: ScriptedAnthropic, cli_wrapper: Path
) -> None:
    live = wrapped_live
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")

    _remove(cli_wrapper)
    missing = await _send_until_terminal(live, session_id, "first try")
    _write_cli(cli_wrapper, "echo 'claude: cannot start' >&2; exit 3")
    failing = await _send_until_terminal(live, session_id, "second try")

    for seen in (missing, failing):
        terminal = [event for event in seen if event.type in TERMINAL]
        assert [event.type for event in terminal] == ["error"]
        assert terminal[0].data["code"] == "claude_unavailable"
        assert "Claude Code" in terminal[0].data["error"]
    assert "not found" in missing[-1].data["error"]
    assert (await session(live.client, session_id))["status"] == "error"
    assert claude.requests == []

    _write_cli(cli_wrapper, f'exec "{_bundled_cli()}" "$@"')
    claude.enqueue(
        Reply.turn([ToolUse("Write", {"file_path": "ok.txt", "content": "ok"})], "tool_use"),
        Reply.text("Third time lucky."),
    )
    await send(live.client, session_id, "third try")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)
    assert (await session(live.client, session_id))["status"] == "idle"
    assert (Path(team.project["path"]) / "ok.txt").read_text() == "ok"
    prompt = _prompt_of(claude.requests[0].messages)
    assert "first try" in prompt and "second try" in prompt and "third try" in prompt


async def _vanished(pid: int, timeout: float) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie":
            return True
        await asyncio.sleep(0.05)
    return False


async def test_cancel_during_a_long_bash_command_interrupts_claude_code_and_its_process(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    # Claude Code refuses a plain long `sleep`; a never-ending read is just as long.
    long_job = "tail -f /dev/null & echo $! > pid.txt; wait"
    claude.enqueue(Reply.tool_use("Bash", {"command": long_job}))
    await send(live.client, session_id, "run the long job")
    pid_file = Path(team.project["path"]) / "pid.txt"
    deadline = asyncio.get_running_loop().time() + CLI_TIMEOUT
    while not pid_file.exists() or not pid_file.read_text().strip():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never started: {await messages(live.client, session_id)}")
        await asyncio.sleep(0.02)
    sleeper = int(pid_file.read_text())

    started = time.monotonic()
    response = await live.client.post(f"/api/v2/sessions/{session_id}/cancel")
    elapsed = time.monotonic() - started

    assert response.json()["data"]["status"] == "cancelled"
    assert elapsed < 1.0
    # The interrupt stops the command; the CLI finishes stopping after the cancel answered.
    assert await _vanished(sleeper, timeout=10)
    rows = await messages(live.client, session_id)
    assert rows[-1]["role"] == "tool_result" and rows[-1]["metadata"]["is_error"] is True
    assert_history_pairs(rows)

    claude.enqueue(Reply.text("Fine, stopped."))
    await send(live.client, session_id, "ok?")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)
    assert (await messages(live.client, session_id))[-1]["content"] == "Fine, stopped."
    assert TRANSCRIPT_MARK in _prompt_of(claude.requests[-1].messages)


async def test_an_api_error_claude_code_reports_fails_the_turn_with_its_reason(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    refusal = Reply.error(400, message="scripted refusal 7f3a")
    # Claude Code tries a refused request again in other shapes before it gives up.
    claude.enqueue(*[refusal] * 5)
    seen = await _send_until_terminal(live, session_id, "a huge request")

    terminal = [event for event in seen if event.type in TERMINAL]
    assert [event.type for event in terminal] == ["error"]
    assert "scripted refusal 7f3a" in terminal[0].data["error"]
    assert "text_done" not in {event.type for event in seen}
    assert [row["role"] for row in await messages(live.client, session_id)] == ["user"]


def _failing_once(cli: Path, failure: str) -> None:
    """The CLI fails its first turn with ``failure`` (shell), then runs as itself."""
    marker = cli.parent / "failed-once"
    _write_cli(
        cli,
        f'case "$*" in *stream-json*) if [ ! -e "{marker}" ]; then : > "{marker}"; '
        f"{failure}; fi;; esac\n"
        f'exec "{_bundled_cli()}" "$@"',
    )


CRASH = "echo 'claude: crashed' >&2; exit 3"
# One line of output longer than the SDK's buffer (1 MB), as a huge tool output is.
OVERFLOW = "head -c 1100000 /dev/zero | tr '\\0' x; echo; exit 1"


@pytest.mark.parametrize(
    ("failure", "error_type", "note"),
    [(CRASH, "cli_exited", False), (OVERFLOW, "cli_buffer_overflow", True)],
    ids=["unexpected-exit", "buffer-overflow"],
)
async def test_a_cli_that_fails_on_its_own_is_retried_visibly_and_the_turn_goes_on(
    wrapped_live: LiveApp,
    claude: ScriptedAnthropic,
    cli_wrapper: Path,
    *,
    failure: str,
    error_type: str,
    note: bool,
) -> None:
    live = wrapped_live
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    _failing_once(cli_wrapper, failure)
    claude.enqueue(Reply.text("Back on my feet."))

    seen = await _send_until_terminal(live, session_id, "are you there?")

    assert [event.type for event in seen][-1] == "done"
    (retry,) = [event.data for event in seen if event.type == "retry"]
    assert (retry["attempt"], retry["max_retries"], retry["error_type"]) == (1, 3, error_type)
    rows = [(row["role"], row["content"]) for row in await messages(live.client, session_id)]
    if note:  # what the model must do differently: shown, and sent with the retry
        assert "too large" in retry["corrective_message"]
        assert rows.pop(1) == ("system", retry["corrective_message"])
        assert retry["corrective_message"] in _prompt_of(claude.requests[-1].messages)
    else:
        assert retry["corrective_message"] is None
    assert rows == [("user", "are you there?"), ("assistant", "Back on my feet.")]


def _claude_code_processes() -> list[psutil.Process]:
    """The Claude Code CLIs this test's server runs (its turns' processes)."""
    bundled = _bundled_cli()
    return [
        child
        for child in psutil.Process().children(recursive=True)
        if any(bundled in part for part in child.cmdline())
    ]


async def test_a_cli_killed_mid_reply_keeps_its_text_and_resumes_its_session_to_go_on(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.hang("Working on it", timeout=60), Reply.text("Done after the crash."))
    sent = await send(live.client, session_id, "do the thing")
    await wait_for_event(live, session_id, "text_delta", run_id=sent["run_id"], timeout=60)

    for process in _claude_code_processes():
        process.kill()

    retry = await wait_for_event(live, session_id, "retry", run_id=sent["run_id"], timeout=60)
    await wait_for_event(live, session_id, "done", run_id=sent["run_id"], timeout=60)
    assert retry.data["error_type"] == "cli_exited"
    rows = [(row["role"], row["content"]) for row in await messages(live.client, session_id)]
    assert rows[0] == ("user", "do the thing")
    assert rows[1][0] == "assistant" and "Working on it".startswith(rows[1][1])
    assert rows[2:] == [("assistant", "Done after the crash.")]
    # The CLI's own session went on, told why: nothing shown is asked for again.
    assert "previous attempt at this reply stopped" in str(claude.requests[-1].messages[-1])
