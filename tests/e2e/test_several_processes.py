"""Several `kumiai serve` processes on one database and home, as a deployment runs them:
two servers on two ports, or one server with ``--workers 2``."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from uuid import UUID

import asyncpg
import httpx
import pytest

from kumiai.infrastructure.database.event_log import asyncpg_dsn
from tests.e2e.v2_calls import post, specialist_session
from tests.integration.runtime.helpers import stream_reading
from tests.support.database import create_scratch_database, drop_database
from tests.support.processes import RunningServer, free_port, kumiai_env, serving
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, Text, ToolUse
from tests.support.sse import Event, events_sync

pytestmark = pytest.mark.slow

LEASE_SECONDS = 2.0
TAKEOVER_LIMIT = 10.0
ANSWER = "every word of this answer crosses from one server process to the other"
# An AskUserQuestion call's input.
QUESTION = {
    "questions": [
        {
            "question": "Which database?",
            "header": "Database",
            "multiSelect": False,
            "options": [
                {"label": "PostgreSQL", "description": "A server."},
                {"label": "SQLite", "description": "A file."},
            ],
        }
    ]
}


class Cluster:
    """Two ways in (``a`` and ``b``; the same port under ``--workers``), one database."""

    def __init__(self, mode: str, env: dict[str, str], logs: Path, database_url: str) -> None:
        self.mode = mode
        self.env = env
        self.logs = logs
        self.database_url = database_url
        self.ports = [free_port(), free_port()]
        self.servers: list[RunningServer] = []
        self._stack = ExitStack()
        self._starts = 0

    @property
    def a(self) -> str:
        return self.servers[0].base_url

    @property
    def b(self) -> str:
        return self.servers[-1].base_url

    def start(self) -> None:
        self._starts += 1
        if self.mode == "two-servers":
            # One after the other: the first migrates the database.
            for name, port in zip("ab", self.ports, strict=True):
                log = self.logs / f"{name}{self._starts}.log"
                self.servers.append(self._serve(port, log))
        else:
            log = self.logs / f"workers{self._starts}.log"
            self.servers.append(self._serve(self.ports[0], log, "--workers", "2"))
        _wait_for_processes(self.database_url, 2)

    def _serve(self, port: int, log: Path, *args: str) -> RunningServer:
        return self._stack.enter_context(
            serving(self.env, timeout=180, port=port, log=log, args=args)
        )

    def stop(self) -> None:
        self._stack.close()
        self.servers = []

    def kill_owner(self, session_id: str) -> str:
        """kill -9 the process that runs the session's turns; the way in that is left."""
        pid = asyncio.run(_owner_pid(self.database_url, UUID(session_id)))
        assert pid is not None, "the session has no owner"
        os.kill(pid, signal.SIGKILL)
        survivors = [server for server in self.servers if server.process.pid != pid]
        return survivors[0].base_url


async def _owner_pid(database_url: str, session_id: UUID) -> int | None:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        pid: int | None = await connection.fetchval(
            "SELECT p.pid FROM session_owners o JOIN server_processes p ON p.id = o.process_id"
            " WHERE o.session_id = $1",
            session_id,
        )
        return pid
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def scripted_claude() -> Iterator[ScriptedAnthropic]:
    with ScriptedAnthropic() as scripted:
        yield scripted


@pytest.fixture
def claude(scripted_claude: ScriptedAnthropic) -> ScriptedAnthropic:
    scripted_claude.reset()
    return scripted_claude


MODES = ["two-servers", "workers-2"]


@contextmanager
def _cluster(
    mode: str, folder: Path, postgres_server_url: str, claude: ScriptedAnthropic
) -> Iterator[Cluster]:
    url = create_scratch_database(postgres_server_url, prefix="kumiai_scale")
    env = kumiai_env(
        folder / "home",
        KUMIAI_DATABASE_URL=url,
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=claude.base_url,
        KUMIAI_PROCESS_LEASE_SECONDS=str(LEASE_SECONDS),
        KUMIAI_PROCESS_HEARTBEAT_SECONDS="0.5",
    )
    cluster = Cluster(mode, env, folder, url)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        drop_database(url)


@pytest.fixture(scope="module", params=MODES)
def running_cluster(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server_url: str,
    scripted_claude: ScriptedAnthropic,
) -> Iterator[Cluster]:
    """A cluster the tests that neither kill nor restart a process share (each in a
    session of its own); starting one is most of such a test's time."""
    folder = tmp_path_factory.mktemp(f"cluster-{request.param}")
    with _cluster(request.param, folder, postgres_server_url, scripted_claude) as cluster:
        yield cluster


@pytest.fixture(params=MODES)
def own_cluster(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_server_url: str,
    claude: ScriptedAnthropic,
) -> Iterator[Cluster]:
    """A cluster of the test's own, for a test that kills or restarts its processes."""
    with _cluster(request.param, tmp_path, postgres_server_url, claude) as cluster:
        yield cluster


def _wait_for_processes(database_url: str, count: int) -> None:
    async def joined() -> int:
        connection = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            return int(await connection.fetchval("SELECT count(*) FROM server_processes"))
        finally:
            await connection.close()

    _wait_until(lambda: asyncio.run(joined()) >= count, 120, "the server processes to join")


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _get(base_url: str, path: str) -> object:
    response = httpx.get(f"{base_url}{path}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _messages(base_url: str, session_id: str) -> list[dict[str, object]]:
    rows = _get(base_url, f"/api/v2/sessions/{session_id}/messages?limit=200")
    assert isinstance(rows, list)
    return rows


@contextmanager
def _following(
    base_url: str, session_id: str, *, last_event_id: str | None = None
) -> Iterator[Iterator[Event]]:
    """The session's v2 event stream, open (subscribed) when this yields."""
    headers = {"last-event-id": last_event_id} if last_event_id else {}
    url = f"{base_url}/api/v2/sessions/{session_id}/events"
    with httpx.stream("GET", url, headers=headers, timeout=60) as response:
        assert response.status_code == 200
        yield events_sync(response)


def _read_until(stream: Iterator[Event], event_type: str) -> list[Event]:
    read = []
    for event in stream:
        read.append(event)
        if event.type == event_type:
            return read
    raise AssertionError(f"the stream ended before a {event_type}: {read}")


def _in_transcript(base_url: str, session_id: str, content: str) -> bool:
    return any(row["content"] == content for row in _messages(base_url, session_id))


def _status(base_url: str, session_id: str) -> str:
    session = _get(base_url, f"/api/v2/sessions/{session_id}")
    assert isinstance(session, dict)
    return str(session["status"])


def _wait_for_answers(base_url: str, session_id: str, answers: int, timeout: float = 90) -> None:
    def answered() -> bool:
        rows = _messages(base_url, session_id)
        done = sum(1 for row in rows if row["role"] == "assistant") >= answers
        return done and _status(base_url, session_id) == "idle"

    _wait_until(answered, timeout, f"{answers} answers")


def test_messages_sent_through_either_process_are_each_answered_once_in_order(
    running_cluster: Cluster, claude: ScriptedAnthropic
) -> None:
    cluster = running_cluster
    session_id = specialist_session(cluster.a, "Dana Order")
    claude.enqueue(*[Reply.text(f"answer {number}") for number in range(20)])
    for number in range(20):
        way_in = cluster.a if number % 2 == 0 else cluster.b
        post(way_in, f"/api/v2/sessions/{session_id}/messages", {"content": f"message {number}"})

    _wait_for_answers(cluster.b, session_id, 20)
    rows = _messages(cluster.b, session_id)
    expected = []
    for number in range(20):
        expected += [("user", f"message {number}"), ("assistant", f"answer {number}")]
    assert [(row["role"], row["content"]) for row in rows] == expected
    assert len(claude.requests) == 20


def test_a_cancel_sent_to_the_other_process_stops_the_turn_within_a_second(
    running_cluster: Cluster, claude: ScriptedAnthropic
) -> None:
    cluster = running_cluster
    session_id = specialist_session(cluster.a, "Dana Cancel")
    claude.enqueue(Reply.hang(timeout=60))
    post(cluster.a, f"/api/v2/sessions/{session_id}/messages", {"content": "think long"})
    claude.wait_for_requests(1, timeout=60)

    started = time.monotonic()
    cancelled = post(cluster.b, f"/api/v2/sessions/{session_id}/cancel")
    elapsed = time.monotonic() - started

    assert cancelled["status"] == "cancelled"
    assert elapsed < 1.0
    assert _status(cluster.a, session_id) == "cancelled"


def test_the_v1_clients_answers_through_either_process_answer_the_waiting_question(
    running_cluster: Cluster, claude: ScriptedAnthropic
) -> None:
    cluster = running_cluster
    session_id = specialist_session(cluster.a, "Dana Asks")
    rounds = 4
    for number in range(rounds):
        claude.enqueue(
            Reply.turn([Text("A question."), ToolUse("AskUserQuestion", QUESTION)], "tool_use"),
            Reply.text(f"answer {number}"),
        )
        post(cluster.a, f"/api/v2/sessions/{session_id}/messages", {"content": f"ask {number}"})
        _wait_until(lambda: _status(cluster.a, session_id) == "waiting", 60, "the question")
        way_in = cluster.b if number % 2 == 0 else cluster.a
        for server in (cluster.a, cluster.b):  # the waiting turn runs, seen from anywhere
            status = httpx.get(f"{server}/api/v1/sessions/{session_id}/queue-status").json()
            assert status == {"queue_size": 0, "is_processing": True}
        enqueued = httpx.post(
            f"{way_in}/api/v1/sessions/{session_id}/enqueue",
            json={"query": "My answers:\n\n**Database:** SQLite", "stream": True},
            timeout=30,
        )
        assert enqueued.status_code == 202, enqueued.text
        assert enqueued.json()["queued"] is False
        _wait_until(
            lambda answer=f"answer {number}": (
                _in_transcript(cluster.b, session_id, answer)
                and _status(cluster.b, session_id) == "idle"
            ),
            60,
            "the turn to go on with the answer",
        )

    rows = _messages(cluster.a, session_id)
    assert [row["content"] for row in rows if row["role"] == "user"] == [
        f"ask {number}" for number in range(rounds)
    ]
    results = [row["content"] for row in rows if row["role"] == "tool_result"]
    assert (
        results
        == [
            'Your questions have been answered: "Which database?"="SQLite". You can now '
            "continue with these answers in mind."
        ]
        * rounds
    )
    assert len(claude.requests) == 2 * rounds


def test_after_a_kill_9_the_other_process_settles_the_turn_drains_the_queue_and_replays(
    own_cluster: Cluster, claude: ScriptedAnthropic
) -> None:
    cluster = own_cluster
    session_id = specialist_session(cluster.a, "Dana Crash")
    claude.enqueue(Reply.hang(timeout=60), Reply.text("Answering the second one."))
    path = f"/api/v2/sessions/{session_id}/messages"
    with _following(cluster.a, session_id) as stream_on_a:
        post(cluster.a, path, {"content": "first"})
        seen = _read_until(stream_on_a, "text_delta")
    claude.wait_for_requests(1, timeout=60)
    second = post(cluster.b, path, {"content": "second"})
    assert second["queued"] is True

    survivor = cluster.kill_owner(session_id)
    killed_at = time.monotonic()
    # Taken over once the dead turn is settled and the next message's turn started.
    _wait_until(lambda: _in_transcript(survivor, session_id, "second"), 60, "the takeover")
    takeover = time.monotonic() - killed_at
    # The client of the dead process reconnects to the other with its last id.
    with _following(survivor, session_id, last_event_id=seen[-1].id) as resumed:
        missed = _read_until(resumed, "done")
    _wait_for_answers(survivor, session_id, 1)

    rows = _messages(survivor, session_id)
    assert [row["content"] for row in rows if row["role"] == "user"] == ["first", "second"]
    answers = [row["content"] for row in rows if row["role"] == "assistant"]
    assert answers.count("Answering the second one.") == 1
    assert rows[-1]["content"] == "Answering the second one."
    assert takeover < TAKEOVER_LIMIT

    ids = [int(event.id or 0) for event in seen + missed]
    assert ids == sorted(set(ids)), "every event once, in order"
    types = [event.type for event in missed]
    assert "reset" not in types
    second_turn_starts = types.index("run_started")
    # The dead turn, settled by the survivor before the next one started.
    settled = [event.data.get("status") for event in missed[:second_turn_starts]]
    assert "error" in settled
    second_turn = missed[second_turn_starts:]
    assert stream_reading(second_turn)[0] == "Answering the second one."


def test_a_turn_sent_through_one_process_streams_through_the_other_and_replays_after_restarts(
    own_cluster: Cluster, claude: ScriptedAnthropic
) -> None:
    cluster = own_cluster
    session_id = specialist_session(cluster.a, "Dana Stream")
    claude.enqueue(Reply.text(ANSWER, chunks=12))
    with _following(cluster.b, session_id) as stream_on_b:
        post(cluster.a, f"/api/v2/sessions/{session_id}/messages", {"content": "tell me"})
        streamed = _read_until(stream_on_b, "done")

    ids = [int(event.id or 0) for event in streamed]
    assert ids == sorted(set(ids))
    assert stream_reading(streamed)[0] == ANSWER
    assert "run_started" in [event.type for event in streamed]

    middle = streamed[len(streamed) // 2]
    cluster.stop()
    cluster.start()
    with _following(cluster.b, session_id, last_event_id=middle.id) as replaying:
        replayed = _read_until(replaying, "done")

    assert "reset" not in [event.type for event in replayed]
    after_middle = [event for event in streamed if int(event.id or 0) > int(middle.id or 0)]
    assert stream_reading(replayed) == stream_reading(after_middle)
