"""AskUserQuestion's rules in the runtime: the turn waits at rest, only the user's next
message answers, one question at a time."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest

from kumiai.application.dtos.conversation import AnswerQuestions
from kumiai.application.ports.agent_runtime import ToolCall, ToolExecutor, TurnSink
from kumiai.core.exceptions import ConflictError
from kumiai.domain.entities import Message
from kumiai.domain.value_objects import SessionStatus
from tests.support.fake_runtime import call, say
from tests.support.runtime_app import RuntimeApp

QUESTION = "Ship it today?"
ASKED: dict[str, Any] = {
    "questions": [
        {
            "question": QUESTION,
            "header": "Ship",
            "multiSelect": False,
            "options": [
                {"label": "Yes", "description": "Release now."},
                {"label": "No", "description": "Wait for Monday."},
            ],
        }
    ]
}


async def _waiting(app: RuntimeApp) -> tuple[UUID, UUID]:
    session_id = await app.assistant()
    app.claude.script(call("AskUserQuestion", ASKED), say("Shipping."))
    sent = await app.send(session_id, "release?")
    await app.event(session_id, "status_changed", status="waiting")
    return session_id, sent.run_id


async def test_the_turn_waits_at_rest_and_goes_on_with_the_answer(app: RuntimeApp) -> None:
    session_id, run_id = await _waiting(app)
    assert app.runtime.questions.open_question(session_id) is not None

    sent = await app.send(session_id, "Yes")

    assert sent.answers_tool_use_id is not None and sent.run_id == run_id
    assert await app.finished(session_id, run_id) == "done"
    statuses = [e.data["status"] for e in app.events(session_id) if e.type == "status_changed"]
    assert statuses == ["thinking", "working", "waiting", "thinking", "idle"]
    assert len(app.claude.requests) == 1  # one turn: the answer started no other
    assert (await app.conversation.queue(session_id)).size == 0


async def test_a_message_from_another_agent_queues_and_leaves_the_question_open(
    app: RuntimeApp,
) -> None:
    session_id, run_id = await _waiting(app)
    other = await app.assistant()

    delivered = await app.runtime.inbox.accept(
        session_id, "a note from a colleague", sender_session_id=other, sender_name="Pat"
    )

    assert delivered.queued is True
    assert app.runtime.questions.open_question(session_id) is not None
    app.claude.script(say("Noted."))
    await app.runtime.questions.answer(session_id, {QUESTION: "No"})
    assert await app.finished(session_id, run_id) == "done"
    assert await app.finished(session_id, delivered.item.run_id) == "done"


async def test_answers_without_an_open_question_are_a_conflict(app: RuntimeApp) -> None:
    session_id = await app.assistant()
    with pytest.raises(ConflictError):
        await app.conversation.answer(session_id, AnswerQuestions(answers={QUESTION: "Yes"}))


async def test_a_second_question_while_one_waits_is_refused(app: RuntimeApp) -> None:
    session_id = await app.assistant()
    outcomes: list[tuple[str, bool]] = []

    async def ask_twice_at_once(tools: ToolExecutor, sink: TurnSink) -> None:
        first, second = (ToolCall(f"toolu_q{n}", "AskUserQuestion", ASKED) for n in (1, 2))
        await sink.tool_use(first)
        await sink.tool_use(second)
        waiting = asyncio.ensure_future(tools.execute(first))
        await app.event(session_id, "status_changed", status=SessionStatus.WAITING.value)
        refused = await tools.execute(second)
        outcomes.append((refused.content, refused.is_error))
        await sink.tool_result(second, refused)
        await sink.tool_result(first, await waiting)

    app.claude.script(ask_twice_at_once)
    sent = await app.send(session_id, "two at once")
    await app.event(session_id, "tool_result", tool_use_id="toolu_q2")

    answered = await app.runtime.questions.answer(session_id, {QUESTION: "Yes"})

    assert answered.tool_use_id == "toolu_q1"
    assert await app.finished(session_id, sent.run_id) == "done"
    assert outcomes == [
        ("another question is waiting for the user's answers: ask one at a time", True)
    ]


async def test_an_old_question_left_unanswered_by_the_original_app_is_not_the_one_answered(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    # The original app stored no result for a question; an imported session keeps it open.
    async with app.db.unit_of_work(app.hub)() as uow:
        await uow.messages.append(Message.user(session_id, "earlier"))
        await uow.messages.append(
            Message.tool_use(session_id, "toolu_imported", "AskUserQuestion", ASKED, "old-run")
        )
        await uow.commit()
    app.claude.script(call("AskUserQuestion", ASKED), say("Shipping."))
    sent = await app.send(session_id, "release?")
    await app.event(session_id, "status_changed", status="waiting")

    answered = await app.send(session_id, "Yes")

    assert answered.answers_tool_use_id not in (None, "toolu_imported")
    assert await app.finished(session_id, sent.run_id) == "done"
