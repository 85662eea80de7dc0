"""Settling: every started turn ends with exactly one terminal event and a session that
can take the next message, whatever ended it."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from kumiai.application.ports.agent_runtime import ToolCall, ToolExecutor, TurnSink
from kumiai.application.services.runtime.runner import CANCELLED_REASON, SHUTDOWN_REASON
from kumiai.core.exceptions import ClaudeUnavailableError
from tests.support.fake_runtime import (
    RecordingTool,
    call,
    call_and_hang,
    fail,
    say,
    stream_and_hang,
)
from tests.support.runtime_app import TERMINAL, RuntimeApp, runtime_app


def _terminals(app: RuntimeApp, session_id: UUID) -> list[str]:
    return [kind for kind in app.types(session_id) if kind in TERMINAL]


async def test_a_finished_turn_goes_idle_then_says_done_with_its_usage(app: RuntimeApp) -> None:
    session_id = await app.assistant()
    app.claude.script(say("one"), say("two", block=1))

    sent = await app.send(session_id, "count")
    await app.finished(session_id, sent.run_id)

    tail = [(e.type, e.data) for e in app.events(session_id)][-2:]
    assert tail[0] == ("status_changed", {"status": "idle", "run_id": str(sent.run_id)})
    assert tail[1][0] == "done"
    assert tail[1][1]["usage"]["output_tokens"] == len("one") + len("two")
    assert tail[1][1]["iterations"] == 2
    assert _terminals(app, session_id) == ["done"]
    assert app.status(session_id) == "idle"


async def test_a_runtime_error_ends_the_turn_with_its_code_and_the_session_can_go_on(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    app.claude.script(fail(ClaudeUnavailableError("the API keeps failing")))

    sent = await app.send(session_id, "hello")

    error = await app.event(session_id, "error", run_id=sent.run_id)
    assert error.data["error"] == "the API keeps failing"
    assert error.data["code"] == ClaudeUnavailableError.code
    assert app.db.session(session_id).error_message == "the API keeps failing"
    again = await app.send(session_id, "still there?")
    assert await app.finished(session_id, again.run_id) == "done"
    assert app.status(session_id) == "idle"


async def test_a_crash_inside_the_runtime_is_an_internal_error(app: RuntimeApp) -> None:
    session_id = await app.assistant()
    app.claude.script(fail(RuntimeError("boom")))

    sent = await app.send(session_id, "hello")

    error = await app.event(session_id, "error", run_id=sent.run_id)
    assert (error.data["error"], error.data["code"]) == ("internal error: boom", "internal_error")
    assert app.status(session_id) == "error"
    failed = app.db.events_of("session_failed")
    assert failed[0].event_data == {
        "status": "error",
        "error": "internal error: boom",
        "run_id": str(sent.run_id),
    }


async def test_calls_left_open_by_a_failed_turn_are_answered_with_its_error(
    tmp_path: Path,
) -> None:
    async with runtime_app(tmp_path, file_tools=[RecordingTool("Bash")]) as app:
        session_id = await app.assistant()

        async def call_then_fail(tools: ToolExecutor, sink: TurnSink) -> None:
            await sink.tool_use(ToolCall(id="toolu_open", name="Bash", input={}))
            raise ClaudeUnavailableError("the stream broke")

        app.claude.script(call_then_fail)
        sent = await app.send(session_id, "build it")
        await app.finished(session_id, sent.run_id)

    results = [m for m in app.db.transcript(session_id) if m.is_tool_result]
    assert [(m.tool_use_id, m.is_error, m.content) for m in results] == [
        ("toolu_open", True, "Tool call was not completed: the stream broke")
    ]


async def test_a_settle_during_an_outage_says_done_first_and_saves_when_it_can(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()

    async def outage_after_the_answer(tools: ToolExecutor, sink: TurnSink) -> None:
        await say("answered")(tools, sink)
        app.db.fail_next(2)  # the settle's first two attempts

    app.claude.script(outage_after_the_answer)
    sent = await app.send(session_id, "hello")
    await app.event(session_id, "status_changed", run_id=sent.run_id, status="idle")

    run = [e.type for e in app.events(session_id) if e.data.get("run_id") == str(sent.run_id)]
    assert run[-2:] == ["done", "status_changed"]  # the save came after the announcement
    assert run.count("done") == 1
    assert app.status(session_id) == "idle"


async def test_text_that_never_finished_its_block_is_kept_as_partial(app: RuntimeApp) -> None:
    session_id = await app.assistant()
    app.claude.script(stream_and_hang("half a thou"))
    sent = await app.send(session_id, "think")
    await app.claude.wait_for_requests(1)
    await app.event(session_id, "text_delta", run_id=sent.run_id)

    await app.sessions.cancel(session_id)

    last = app.db.transcript(session_id)[-1]
    assert (last.content, last.metadata) == (
        "half a thou",
        {"partial": True, "interrupted": {"by": "user", "reason": CANCELLED_REASON}},
    )
    assert _terminals(app, session_id) == ["cancelled"]


async def test_a_cancelled_tool_call_is_answered_so_the_history_stays_paired(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    app.claude.script(call_and_hang("Bash", {"command": "sleep 1000"}))
    sent = await app.send(session_id, "wait")
    await app.event(session_id, "tool_use", run_id=sent.run_id)

    await app.sessions.cancel(session_id)

    result = app.db.transcript(session_id)[-1]
    assert (result.is_tool_result, result.is_error, result.content) == (
        True,
        True,
        f"Tool call was not completed: {CANCELLED_REASON}",
    )
    cancelled = app.db.events_of("session_cancelled")
    assert cancelled[-1].event_data == {"status": "cancelled", "run_id": str(sent.run_id)}


async def test_shutdown_interrupts_the_turn_and_the_queue_drains_after_the_restart(
    tmp_path: Path,
) -> None:
    async with runtime_app(tmp_path) as first:
        session_id = await first.assistant()
        first.claude.script(stream_and_hang())
        running = await first.send(session_id, "long task")
        await first.claude.wait_for_requests(1)
        waiting = await first.send(session_id, "after the restart")

        await first.runtime.workers.shutdown()

        ended = await first.event(session_id, "error", run_id=running.run_id)
        assert (ended.data["code"], ended.data["error"]) == ("interrupted", SHUTDOWN_REASON)
        assert [item.content for item in first.db.waiting(session_id)] == ["after the restart"]

    async with runtime_app(tmp_path, db=first.db) as second:
        second.claude.script(say("Back."))
        assert await second.finished(session_id, waiting.run_id) == "done"
        assert second.transcript(session_id)[-2:] == [
            ("user", "after the restart"),
            ("assistant", "Back."),
        ]


async def test_every_turn_of_a_busy_session_has_exactly_one_terminal_event(
    tmp_path: Path,
) -> None:
    async with runtime_app(tmp_path, file_tools=[RecordingTool("Read")]) as app:
        session_id = await app.assistant()
        app.claude.script(say("fine"))
        app.claude.script(fail(RuntimeError("oops")))
        app.claude.script(call("Read"), say("read it"))
        runs = [(await app.send(session_id, f"m{n}")).run_id for n in range(3)]
        await app.idle(session_id)

    for run_id in runs:
        assert [t for t in app.types(session_id, run_id) if t in TERMINAL] in (
            ["done"],
            ["error"],
        )
    assert [t for t in app.types(session_id) if t in TERMINAL] == ["done", "error", "done"]
