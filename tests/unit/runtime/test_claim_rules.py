"""The claim: one transaction moves the oldest pending input into the transcript and
the session to thinking; a failed claim changed nothing and is tried again."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from kumiai.application.dtos.sessions import SessionCreate
from kumiai.application.services.runtime.runner import STALE_REASON
from kumiai.domain.entities import Message, PendingInput, Session, Task
from kumiai.domain.value_objects import SessionStatus, SessionType, TaskStatus
from tests.support.fake_runtime import RecordingTool, call, say
from tests.support.runtime_app import RuntimeApp, runtime_app


async def test_a_claim_announces_the_message_the_queue_the_status_then_the_run(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    sent = await app.send(session_id, "hi")
    await app.finished(session_id, sent.run_id)

    started = [
        (event.type, event.data)
        for event in app.events(session_id)
        if event.type in {"message_created", "queue_changed", "status_changed", "run_started"}
    ][:4]
    assert [kind for kind, _ in started] == [
        "message_created",
        "queue_changed",
        "status_changed",
        "run_started",
    ]
    assert started[0][1]["message"]["id"] == str(sent.message_id)
    assert started[1][1] == {"size": 0, "paused": False, "messages": []}
    assert started[2][1] == {"status": "thinking", "run_id": str(sent.run_id)}
    assert started[3][1] == {"run_id": str(sent.run_id), "message_id": str(sent.message_id)}


async def test_the_claimed_message_keeps_its_id_and_takes_the_next_sequence(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    first = await app.send(session_id, "one")
    await app.finished(session_id, first.run_id)
    second = await app.send(session_id, "two")
    await app.finished(session_id, second.run_id)

    rows = app.db.transcript(session_id)
    assert [(row.sequence, row.content) for row in rows] == [
        (0, "one"),
        (1, "ok"),
        (2, "two"),
        (3, "ok"),
    ]
    assert rows[2].id == second.message_id
    assert app.db.waiting(session_id) == []


async def test_a_claim_that_meets_an_outage_is_retried_and_the_turn_runs_once(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    app.claude.script(say("started after all"))
    # Through the queue, as an agent's message goes: a worker claims it.
    sent = (await app.runtime.inbox.accept(session_id, "hello")).item
    app.db.fail_next(2)  # the claim's next two attempts

    assert await app.finished(session_id, sent.run_id) == "done"
    assert app.transcript(session_id) == [("user", "hello"), ("assistant", "started after all")]
    assert len(app.claude.requests) == 1


async def test_a_message_to_an_ended_session_reopens_it_and_says_so(app: RuntimeApp) -> None:
    session_id = await app.assistant()
    await app.sessions.complete(session_id)

    sent = await app.send(session_id, "one more thing")

    assert await app.finished(session_id, sent.run_id) == "done"
    assert app.status(session_id) == "idle"
    resumed = app.db.events_of("session_resumed")
    assert [entry.session_id for entry in resumed] == [session_id]
    assert resumed[0].event_data["status"] == "idle"
    assert [e.event_data["status"] for e in app.db.events_of("session_started")] == ["thinking"]


async def test_a_status_left_running_by_a_failed_settle_is_repaired_by_the_next_claim(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    stale = app.db.session(session_id)
    stale.start()
    app.db.insert(stale, Message.tool_use(session_id, "toolu_old", "Bash", {}, "run-0"))

    sent = await app.send(session_id, "hello?")

    assert await app.finished(session_id, sent.run_id) == "done"
    repaired = app.db.events_of("session_failed")
    assert repaired[0].event_data["error"] == STALE_REASON
    result = next(m for m in app.db.transcript(session_id) if m.is_tool_result)
    assert (result.tool_use_id, result.is_error) == ("toolu_old", True)
    assert app.status(session_id) == "idle"


async def test_the_running_turns_tools_know_which_user_message_set_it_off(
    tmp_path: Path,
) -> None:
    probe = RecordingTool("Probe")
    async with runtime_app(tmp_path, file_tools=[probe]) as app:
        session_id = await app.assistant()
        app.claude.script(call("Probe"), say("looked"))

        sent = await app.send(session_id, "look around")
        await app.finished(session_id, sent.run_id)

    (_, context), *_ = probe.calls
    assert context.session_id == session_id
    assert context.chain is not None
    assert context.chain.origin_message_id == sent.message_id
    assert context.chain.origin_session_id == session_id
    assert context.chain.spent == 0


async def test_the_model_is_asked_only_once_the_message_is_in_the_transcript(
    tmp_path: Path,
) -> None:
    seen: list[list[str]] = []

    async def look() -> None:
        seen.append([content for _, content in app.transcript(session_id)])

    async with runtime_app(tmp_path, file_tools=[RecordingTool("Look", during=look)]) as app:
        session_id = await app.assistant()
        app.claude.script(call("Look"), say("seen"))
        sent = await app.send(session_id, "what do you see?")
        await app.finished(session_id, sent.run_id)

    assert app.claude.user_texts(0) == ["what do you see?"]
    assert seen == [["what do you see?", ""]]  # the message, and the call being made


async def test_a_restart_answers_what_a_crash_left_accepted_and_repairs_the_session(
    tmp_path: Path,
) -> None:
    async with runtime_app(tmp_path) as before:
        session_id = await before.assistant()
    # What kill -9 during a turn leaves: the session mid-turn, one message still waiting.
    stuck: Session = before.db.session(session_id)
    stuck.start()
    waiting = PendingInput.accept(session_id, "are you still there?")
    before.db.insert(stuck, waiting)

    async with runtime_app(tmp_path, db=before.db) as after:
        after.claude.script(say("Yes, back again."))
        assert await after.finished(session_id, waiting.run_id) == "done"
        assert after.transcript(session_id) == [
            ("user", "are you still there?"),
            ("assistant", "Yes, back again."),
        ]
        failed = after.db.events_of("session_failed")
        assert failed[0].event_data["error"] == "interrupted by server restart"
        assert after.status(session_id) == "idle"


async def test_sessions_are_created_ready_and_say_so(app: RuntimeApp) -> None:
    session_id = await app.assistant()

    assert app.db.session(session_id).status is SessionStatus.IDLE
    (created,) = app.db.events_of("session_created")
    assert created.event_data == {
        "session_type": SessionType.ASSISTANT,
        "character_id": None,
        "task_id": None,
    }


# --- a session bound to a task (auto-progress) ------------------------------------------


async def _bound_specialist(
    app: RuntimeApp, status: TaskStatus = TaskStatus.OPEN
) -> tuple[UUID, UUID, Task]:
    """Dana's specialist session bound to a task of its project: (PM session, session, task)."""
    project_id, pm, team = await app.team("Dana")
    task = Task.create(project_id=project_id, name="Checkout")
    task.status = status
    app.db.insert(task)
    created = await app.sessions.create(
        SessionCreate(
            session_type=SessionType.SPECIALIST,
            character_id=team["Dana"].slug,
            project_id=project_id,
            task_id=task.id,
        )
    )
    return pm, created.id, task


async def test_a_claim_moves_the_sessions_open_task_to_in_progress_and_announces_it_after(
    app: RuntimeApp,
) -> None:
    pm, session_id, task = await _bound_specialist(app)
    sent = await app.send(session_id, "build it")
    await app.finished(session_id, sent.run_id)

    assert app.db.get(Task, task.id).status is TaskStatus.IN_PROGRESS
    claimed = [kind for kind in app.types(session_id) if kind in {"run_started", "task_changed"}]
    assert claimed == ["run_started", "task_changed"]
    for recipient in (pm, session_id):
        changed = await app.event(recipient, "task_changed")
        assert (changed.data["change"], changed.data["fields"]) == ("updated", ["status"])
        assert changed.data["task"]["status"] == "in_progress"
    (entry,) = app.db.events_of("task_updated")
    assert entry.event_data["automatic"] is True


async def test_a_claim_whose_commit_fails_moves_the_task_once_when_it_succeeds(
    app: RuntimeApp,
) -> None:
    _, session_id, task = await _bound_specialist(app)
    sent = await app.send(session_id, "build it")
    app.db.fail_commits(1)  # the claim's first attempt
    await app.finished(session_id, sent.run_id)

    assert app.db.get(Task, task.id).status is TaskStatus.IN_PROGRESS
    assert len(app.db.events_of("task_updated")) == 1
    assert app.types(session_id).count("task_changed") == 1


async def test_work_starting_leaves_a_task_that_is_not_open_where_the_user_put_it(
    app: RuntimeApp,
) -> None:
    _, session_id, task = await _bound_specialist(app, TaskStatus.DONE)
    sent = await app.send(session_id, "one more look")
    await app.finished(session_id, sent.run_id)

    assert app.db.get(Task, task.id).status is TaskStatus.DONE
    assert "task_changed" not in app.types(session_id)


async def test_a_task_locked_by_another_transaction_is_left_alone_and_the_turn_runs(
    app: RuntimeApp,
) -> None:
    _, session_id, task = await _bound_specialist(app)
    async with app.db.lock(task.id):  # e.g. a deletion of the task, under way
        sent = await app.send(session_id, "build it")
        assert await app.finished(session_id, sent.run_id) == "done"
    assert app.db.get(Task, task.id).status is TaskStatus.OPEN
