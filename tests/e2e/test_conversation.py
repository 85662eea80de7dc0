"""The installed server, end to end: a real `kumiai serve` talking to scripted Claude."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.e2e.v2_calls import post, specialist_session
from tests.support.database import create_scratch_database, drop_database
from tests.support.processes import kumiai_env, serving
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, ToolUse, conversation_read

pytestmark = pytest.mark.slow

T = TypeVar("T")


@pytest.fixture
def own_database(postgres_server_url: str) -> Iterator[str]:
    """The server commits for real, so it gets a database of its own."""
    url = create_scratch_database(postgres_server_url, prefix="kumiai_e2e")
    yield url
    drop_database(url)


def _scripted_env(
    tmp_path: Path, database_url: str, claude: ScriptedAnthropic, **extra: str
) -> dict[str, str]:
    """A server's environment: its home under ``tmp_path``, its Claude the scripted one."""
    return kumiai_env(
        tmp_path / "home",
        KUMIAI_DATABASE_URL=database_url,
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=claude.base_url,
        **extra,
    )


def _wait_until(probe: Callable[[], T | None], failure: str) -> T:
    """What ``probe`` finds, once it finds something; generous, since a Claude Code turn
    starts a CLI process, slow on a loaded machine."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(failure)


def _wait_for_answer(base_url: str, session_id: str, expected: int) -> list[dict[str, object]]:
    def answered() -> list[dict[str, object]] | None:
        rows = _rows(base_url, session_id)
        return rows if len(rows) >= expected and _status(base_url, session_id) == "idle" else None

    return _wait_until(answered, "the agent did not answer in time")


def _status(base_url: str, session_id: str) -> str:
    response = httpx.get(f"{base_url}/api/v2/sessions/{session_id}", timeout=10)
    return str(response.json()["data"]["status"])


def _rows(base_url: str, session_id: str) -> list[dict[str, object]]:
    response = httpx.get(f"{base_url}/api/v2/sessions/{session_id}/messages", timeout=10)
    return response.json()["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("runtime", ["anthropic", "claude-code"])
def test_a_served_agent_writes_a_file_and_answers(
    tmp_path: Path, own_database: str, runtime: str
) -> None:
    with ScriptedAnthropic() as claude:
        claude.enqueue(
            Reply.turn(
                [ToolUse("Write", {"file_path": "hello.py", "content": "print(1)"})],
                stop_reason="tool_use",
            ),
            Reply.text("hello.py is written."),
        )
        env = _scripted_env(tmp_path, own_database, claude, KUMIAI_RUNTIME=runtime)
        # Start-up imports the Claude Code SDK too: slow on a loaded 2-core machine.
        with serving(env, timeout=180) as server:
            base = server.base_url
            health = httpx.get(f"{base}/api/health", timeout=10).json()
            assert health["runtime"]["active"] == runtime
            dana = post(base, "/api/v2/characters", {"name": "Dana E2E"})
            project = post(
                base, "/api/v2/projects", {"name": "E2E", "team_character_ids": [dana["slug"]]}
            )
            session = post(
                base,
                "/api/v2/sessions",
                {
                    "session_type": "specialist",
                    "character_id": dana["slug"],
                    "project_id": project["id"],
                },
            )
            post(base, f"/api/v2/sessions/{session['id']}/messages", {"content": "write hello.py"})
            rows = _wait_for_answer(base, str(session["id"]), expected=4)
            assert [row["role"] for row in rows] == [
                "user",
                "assistant",
                "tool_result",
                "assistant",
            ]
            assert rows[-1]["content"] == "hello.py is written."
            assert (Path(str(project["path"])) / "hello.py").read_text() == "print(1)"


def test_a_message_queued_when_the_server_is_killed_is_answered_after_the_restart(
    tmp_path: Path, own_database: str
) -> None:
    with ScriptedAnthropic() as claude:
        claude.enqueue(Reply.hang(timeout=60), Reply.text("Answering the second one."))
        env = _scripted_env(tmp_path, own_database, claude)
        with serving(env) as server:
            base = server.base_url
            session_id = specialist_session(base, "Dana Crash")
            path = f"/api/v2/sessions/{session_id}/messages"
            post(base, path, {"content": "first"})
            claude.wait_for_requests(1, timeout=20)
            second = post(base, path, {"content": "second"})
            assert second["queued"] is True
            server.stop(signal.SIGKILL)

        with serving(env) as restarted:
            rows = _wait_for_answer(restarted.base_url, session_id, expected=3)
            restarted.stop()
            log = restarted.process.stdout.read() if restarted.process.stdout else ""
    contents = [row["content"] for row in rows if row["role"] != "tool_result"]
    assert contents == ["first", "second", "Answering the second one."]
    assert [row["id"] for row in rows][1] == second["message_id"]
    assert "Task exception was never retrieved" not in log


def _wait_for_partial_text(base_url: str, session_id: str, words: int) -> dict[str, object]:
    """The reply's row, once its flushed text holds ``words`` words."""

    def flushed() -> dict[str, object] | None:
        last = _rows(base_url, session_id)[-1]
        enough = last["role"] == "assistant" and len(str(last["content"]).split()) >= words
        return last if enough else None

    return _wait_until(flushed, "the streamed text was never flushed")


# On the API runtime only: flushing streamed text, settling the killed turn and its
# marker are the server's, whatever the runtime; Claude Code's text kept when its CLI is
# killed, and a marked transcript reaching it, are the runtime integration tests' cases.
def test_text_streamed_before_a_kill_9_is_kept_marked_interrupted_and_told_to_the_model(
    tmp_path: Path, own_database: str
) -> None:
    streamed = " ".join(f"tok{n}" for n in range(20))
    with ScriptedAnthropic() as claude:
        # Ten words arrive, then the stream stalls until the server is killed.
        claude.enqueue(
            Reply.text(streamed, chunks=20).slow(0.05).hang(after_events=14, timeout=120)
        )
        env = _scripted_env(
            tmp_path,
            own_database,
            claude,
            KUMIAI_RUNTIME="anthropic",
            KUMIAI_STREAM_FLUSH_SECONDS="0.1",
        )
        with serving(env, timeout=180) as server:
            base = server.base_url
            session_id = specialist_session(base, "Dana Kill")
            post(base, f"/api/v2/sessions/{session_id}/messages", {"content": "count"})
            flushed = _wait_for_partial_text(base, session_id, words=5)
            assert flushed["metadata"] == {"partial": True}
            server.stop(signal.SIGKILL)

        with serving(env, timeout=180) as restarted:
            base = restarted.base_url
            # The session is settled once the killed process's lease lapses.
            _wait_until(lambda: _status(base, session_id) == "error" or None, "never settled")
            kept = _rows(base, session_id)[-1]
            assert kept["id"] == flushed["id"]
            assert streamed.startswith(str(kept["content"]))
            assert len(str(kept["content"]).split()) >= 5
            assert kept["metadata"]["partial"] is True  # type: ignore[index]
            assert kept["metadata"]["interrupted"]["by"] == "server"  # type: ignore[index]
            v1 = httpx.get(f"{base}/api/v1/sessions/{session_id}/messages", timeout=10).json()
            assert v1["items"][-1]["content"] == kept["content"]

            claude.enqueue(Reply.text("Counting again."))
            post(base, f"/api/v2/sessions/{session_id}/messages", {"content": "again"})
            _wait_for_answer(base, session_id, expected=4)

    read = conversation_read(claude.requests[-1].messages)
    assert read[-4:] == [
        ("user", "count"),
        ("assistant", str(kept["content"]).strip()),
        ("assistant", "[Reply interrupted: the server stopped before this reply was finished]"),
        ("user", "again"),
    ]
