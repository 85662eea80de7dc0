"""The installed server, end to end: a real `kumiai serve` talking to scripted Claude."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.database import create_scratch_database, drop_database
from tests.support.processes import kumiai_env, serving
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, ToolUse

pytestmark = pytest.mark.slow


@pytest.fixture
def own_database(postgres_server_url: str) -> Iterator[str]:
    """The server commits for real, so it gets a database of its own."""
    url = create_scratch_database(postgres_server_url, prefix="kumiai_e2e")
    yield url
    drop_database(url)


def _post(base_url: str, path: str, body: dict[str, object]) -> dict[str, object]:
    response = httpx.post(f"{base_url}{path}", json=body, timeout=10)
    assert response.status_code in (200, 201, 202), response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def _wait_for_answer(base_url: str, session_id: str, expected: int) -> list[dict[str, object]]:
    # Generous: a Claude Code turn starts a CLI process, slow on a loaded machine.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = httpx.get(f"{base_url}/api/v2/sessions/{session_id}/messages", timeout=10).json()
        status = httpx.get(f"{base_url}/api/v2/sessions/{session_id}", timeout=10).json()
        if len(rows["data"]) >= expected and status["data"]["status"] == "idle":
            return rows["data"]  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError("the agent did not answer in time")


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
        env = kumiai_env(
            tmp_path / "home",
            KUMIAI_DATABASE_URL=own_database,
            ANTHROPIC_API_KEY="test-key",
            ANTHROPIC_BASE_URL=claude.base_url,
            KUMIAI_RUNTIME=runtime,
        )
        # Start-up imports the Claude Code SDK too: slow on a loaded 2-core machine.
        with serving(env, timeout=180) as server:
            base = server.base_url
            health = httpx.get(f"{base}/api/health", timeout=10).json()
            assert health["runtime"]["active"] == runtime
            dana = _post(base, "/api/v2/characters", {"name": "Dana E2E"})
            project = _post(
                base, "/api/v2/projects", {"name": "E2E", "team_character_ids": [dana["slug"]]}
            )
            session = _post(
                base,
                "/api/v2/sessions",
                {
                    "session_type": "specialist",
                    "character_id": dana["slug"],
                    "project_id": project["id"],
                },
            )
            _post(base, f"/api/v2/sessions/{session['id']}/messages", {"content": "write hello.py"})
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
        env = kumiai_env(
            tmp_path / "home",
            KUMIAI_DATABASE_URL=own_database,
            ANTHROPIC_API_KEY="test-key",
            ANTHROPIC_BASE_URL=claude.base_url,
        )
        with serving(env) as server:
            base = server.base_url
            dana = _post(base, "/api/v2/characters", {"name": "Dana Crash"})
            project = _post(
                base, "/api/v2/projects", {"name": "Crash", "team_character_ids": [dana["slug"]]}
            )
            session = _post(
                base,
                "/api/v2/sessions",
                {
                    "session_type": "specialist",
                    "character_id": dana["slug"],
                    "project_id": project["id"],
                },
            )
            path = f"/api/v2/sessions/{session['id']}/messages"
            _post(base, path, {"content": "first"})
            claude.wait_for_requests(1, timeout=20)
            second = _post(base, path, {"content": "second"})
            assert second["queued"] is True
            server.stop(signal.SIGKILL)

        with serving(env) as restarted:
            rows = _wait_for_answer(restarted.base_url, str(session["id"]), expected=3)
            restarted.stop()
            log = restarted.process.stdout.read() if restarted.process.stdout else ""
    contents = [row["content"] for row in rows if row["role"] != "tool_result"]
    assert contents == ["first", "second", "Answering the second one."]
    assert [row["id"] for row in rows][1] == second["message_id"]
    assert "Task exception was never retrieved" not in log
