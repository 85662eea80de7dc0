"""The sink: what streams is only announced, what completes is stored once, and a tool
call is stored before it runs, with the session working around it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kumiai.application.dtos.sessions import SessionCreate
from kumiai.application.ports.agent_runtime import ToolCall, ToolExecutor, ToolOutcome, TurnSink
from kumiai.application.services.runtime.history.replay import SERVER_TOOL
from kumiai.application.services.runtime.sink import StreamFlush
from kumiai.domain.value_objects import SessionType
from tests.support.fake_runtime import RecordingTool, call, say
from tests.support.runtime_app import RuntimeApp, runtime_app


async def test_text_deltas_are_announced_and_the_block_is_stored_once_when_done(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    app.claude.script(say("Hello there, Ada.", chunks=3))

    sent = await app.send(session_id, "hi")
    await app.finished(session_id, sent.run_id)

    run = [e for e in app.events(session_id) if e.data.get("run_id") == str(sent.run_id)]
    # (A reader that falls behind gets unread deltas joined: the text is what counts.)
    deltas = [e.data["text"] for e in run if e.type == "text_delta"]
    assert "".join(deltas) == "Hello there, Ada."
    assert run.index(next(e for e in run if e.type == "text_delta")) < run.index(
        next(e for e in run if e.type == "message_created" and e.data["message"]["role"] != "user")
    )
    (done,) = [e for e in run if e.type == "text_done"]
    assert done.data["message"]["content"] == "Hello there, Ada."
    answers = [m for m in app.db.transcript(session_id) if m.role.value == "assistant"]
    assert [m.content for m in answers] == ["Hello there, Ada."]


async def test_an_agents_answer_is_stored_under_its_name(app: RuntimeApp) -> None:
    project_id, _, team = await app.team("Dana")
    dana = await app.specialist(project_id, team["Dana"])

    sent = await app.send(dana, "hi")
    await app.finished(dana, sent.run_id)

    answer = app.db.transcript(dana)[-1]
    assert (answer.content, answer.sender_name) == ("ok", "Dana")


async def test_a_tool_call_is_stored_before_the_tool_runs_with_the_session_working(
    tmp_path: Path,
) -> None:
    seen: list[tuple[list[str], str]] = []

    async def look() -> None:
        rows = app.db.transcript(session_id)
        seen.append(([m.role.value for m in rows], app.status(session_id)))

    async with runtime_app(tmp_path, file_tools=[RecordingTool("Read", during=look)]) as app:
        session_id = await app.assistant()
        app.claude.script(call("Read", {"file_path": "a.txt"}), say("read"))
        sent = await app.send(session_id, "read a.txt")
        await app.finished(session_id, sent.run_id)

    assert seen == [(["user", "assistant"], "working")]
    statuses = [
        e.data["status"]
        for e in app.events(session_id)
        if e.type == "status_changed" and e.data.get("run_id") == str(sent.run_id)
    ]
    assert statuses == ["thinking", "working", "thinking", "idle"]


async def test_a_tool_step_is_announced_as_message_then_tool_event_then_status(
    tmp_path: Path,
) -> None:
    async with runtime_app(tmp_path, file_tools=[RecordingTool("Read", answer="42")]) as app:
        session_id = await app.assistant()
        app.claude.script(call("Read"), say("done"))
        sent = await app.send(session_id, "go")
        await app.finished(session_id, sent.run_id)

    kinds = [
        e.type
        for e in app.events(session_id)
        if e.type in {"message_created", "tool_use", "tool_result", "status_changed"}
    ]
    assert kinds[2:8] == [
        "message_created",
        "tool_use",
        "status_changed",
        "message_created",
        "tool_result",
        "status_changed",
    ]
    result = next(e for e in app.events(session_id) if e.type == "tool_result")
    assert (result.data["content"], result.data["is_error"]) == ("42", False)


async def test_every_executed_tool_is_logged_with_its_outcome(tmp_path: Path) -> None:
    tools = [RecordingTool("Read"), RecordingTool("Bash", "exit 1", is_error=True)]
    async with runtime_app(tmp_path, file_tools=tools) as app:
        session_id = await app.assistant()
        app.claude.script(call("Read"), call("Bash"), say("done"))
        sent = await app.send(session_id, "go")
        await app.finished(session_id, sent.run_id)

    logged = [
        (entry.event_data["tool_name"], entry.event_data["is_error"])
        for entry in app.db.events_of("tool_executed")
    ]
    assert logged == [("Read", False), ("Bash", True)]


async def test_usage_is_stored_on_the_answer_and_summed_for_the_turn(app: RuntimeApp) -> None:
    session_id = await app.assistant()
    app.claude.script(say("first"), say("second", block=1))

    sent = await app.send(session_id, "two blocks")
    done = await app.event(session_id, "done", run_id=sent.run_id)

    answers = [m for m in app.db.transcript(session_id) if m.role.value == "assistant"]
    assert [m.metadata["usage"]["output_tokens"] for m in answers] == [5, 6]
    assert done.data["usage"]["output_tokens"] == 11
    assert done.data["usage"]["input_tokens"] == 20


async def test_a_call_the_api_ran_itself_is_stored_as_such(app: RuntimeApp) -> None:
    session_id = await app.assistant()

    async def web_search(_: ToolExecutor, sink: TurnSink) -> None:
        search = ToolCall(id="srvtoolu_1", name="WebSearch", input={"q": "x"}, server_side=True)
        await sink.tool_use(search)
        await sink.tool_result(search, ToolOutcome(content="results"))

    app.claude.script(web_search, say("found it"))
    sent = await app.send(session_id, "search")
    await app.finished(session_id, sent.run_id)

    call_row = next(m for m in app.db.transcript(session_id) if m.is_tool_use)
    assert call_row.metadata[SERVER_TOOL] is True


class _Indexer:
    def __init__(self) -> None:
        self.indexed: list[str] = []

    async def index_folder(self, slug: str) -> None:
        self.indexed.append(slug)


async def test_a_skill_assistant_writing_into_the_library_saves_the_skill(
    tmp_path: Path,
) -> None:
    indexer = _Indexer()
    home = tmp_path / "home"
    async with runtime_app(
        home,
        libraries={SessionType.SKILL_ASSISTANT: ("skill", indexer)},
        file_tools=[RecordingTool("Write"), RecordingTool("Edit", "no match", is_error=True)],
    ) as app:
        created = await app.sessions.create(SessionCreate(session_type=SessionType.SKILL_ASSISTANT))
        written = str(home / "skills" / "pdf" / "SKILL.md")
        app.claude.script(
            call("Write", {"file_path": written, "content": "---\nname: PDF\n---\n"}),
            call("Edit", {"file_path": str(home / "skills" / "csv" / "SKILL.md")}),
            call("Write", {"file_path": "/elsewhere/notes.md"}),
            say("saved"),
        )
        sent = await app.send(created.id, "make a pdf skill")
        await app.finished(created.id, sent.run_id)

    assert indexer.indexed == ["pdf"]  # not the failed edit, not a file outside the library
    saved = [e.data for e in app.events(created.id) if e.type == "definition_saved"]
    assert saved == [{"kind": "skill", "slug": "pdf"}]


EVERY_DELTA = StreamFlush(interval_seconds=0)
"""Flush at every delta, so a test needs no clock."""


async def test_a_block_still_streaming_is_kept_in_one_partial_row_announced_by_nothing(
    tmp_path: Path,
) -> None:

    async def kept_text(text: str) -> None:
        async with asyncio.timeout(5):
            while [m.content for m in app.db.transcript(session_id)][-1:] != [text]:
                await asyncio.sleep(0.01)

    async def half_a_thought(_: ToolExecutor, sink: TurnSink) -> None:
        await sink.text_delta(0, "half ")
        await kept_text("half ")  # flushes run one at a time
        await sink.text_delta(0, "a thought")
        await asyncio.Event().wait()

    async with runtime_app(tmp_path, stream_flush=EVERY_DELTA) as app:
        session_id = await app.assistant()
        app.claude.script(half_a_thought)
        sent = await app.send(session_id, "think")
        await kept_text("half a thought")

        kept = app.db.transcript(session_id)[-1]
        assert (kept.role.value, kept.content, kept.metadata) == (
            "assistant",
            "half a thought",
            {"partial": True},
        )
        created = [e for e in app.events(session_id) if e.type == "message_created"]
        assert [e.data["message"]["role"] for e in created] == ["user"]

        await app.sessions.cancel(session_id)
        await app.event(session_id, "cancelled", run_id=sent.run_id)

        answers = [m for m in app.db.transcript(session_id) if m.role.value == "assistant"]
        assert [(m.id, m.content) for m in answers] == [(kept.id, "half a thought")]
        assert answers[0].metadata["partial"] is True
        assert answers[0].metadata["interrupted"]["by"] == "user"


async def test_a_flushed_block_that_finishes_is_the_same_row_announced_once(
    tmp_path: Path,
) -> None:
    async with runtime_app(tmp_path, stream_flush=EVERY_DELTA) as app:
        session_id = await app.assistant()
        app.claude.script(say("Hello there, Ada.", chunks=3))

        sent = await app.send(session_id, "hi")
        await app.finished(session_id, sent.run_id)

        answers = [m for m in app.db.transcript(session_id) if m.role.value == "assistant"]
        assert [(m.content, m.metadata.get("partial")) for m in answers] == [
            ("Hello there, Ada.", None)
        ]
        run = [e for e in app.events(session_id) if e.data.get("run_id") == str(sent.run_id)]
        created = [e.data["message"] for e in run if e.type == "message_created"]
        assert [(m["id"], m["content"]) for m in created] == [
            (str(answers[0].id), "Hello there, Ada.")
        ]
