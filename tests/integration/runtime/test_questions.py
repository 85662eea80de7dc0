"""AskUserQuestion: the agent asks, the turn waits at rest, the user's answer is the
call's result and the turn goes on."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from kumiai.core.config import Settings
from kumiai.domain.entities import Message
from tests.integration.runtime.conftest import BOTH_RUNTIMES
from tests.integration.runtime.helpers import (
    DATABASE,
    EXTRAS,
    QUESTIONS,
    ask_questions,
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
from tests.support.sse import collect

SETTLED = (
    f'Your questions have been answered: "{DATABASE}"="PostgreSQL", "{EXTRAS}"="Redis, '
    'Metrics". You can now continue with these answers in mind.'
)


def _call_rows(rows: list[dict[str, Any]], call: ToolUse) -> list[dict[str, Any]]:
    return [row for row in rows if row.get("tool_use_id") == call.id]


@BOTH_RUNTIMES
async def test_a_question_pauses_the_turn_and_the_v2_answers_become_its_result(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    call = await ask_questions(live, claude, session_id)

    asked = len(claude.requests)
    rows = await messages(live.client, session_id)
    (question,) = _call_rows(rows, call)  # the call is in the transcript, unanswered
    assert question["metadata"]["tool_use"]["input"] == QUESTIONS
    tool_use = await wait_for_event(live, session_id, "tool_use")
    assert tool_use.data["tool_name"] == "AskUserQuestion"

    answered = await live.client.post(
        f"/api/v2/sessions/{session_id}/answers",
        json={"answers": {DATABASE: "PostgreSQL", EXTRAS: ["Redis", "Metrics"]}},
    )
    assert answered.status_code == 200, answered.text
    taken = answered.json()["data"]
    assert taken["tool_use_id"] == call.id and taken["message_id"] == question["id"]
    assert len(claude.requests) == asked  # nothing went to the model while it waited
    await wait_for_event(live, session_id, "done", run_id=taken["run_id"])
    await wait_until_idle(live, session_id)

    rows = await messages(live.client, session_id)  # a reload shows the question answered
    _, result = _call_rows(rows, call)
    assert result["role"] == "tool_result" and result["metadata"]["is_error"] is False
    assert result["content"] == SETTLED
    assert rows[-1]["content"] == "Setting it up with your choices."
    assert [row["content"] for row in rows if row["role"] == "user"] == ["set up the service"]
    assert_history_pairs(rows)
    model_got = claude.requests[-1].messages[-1]["content"]
    assert any(
        block.get("tool_use_id") == call.id and SETTLED in str(block.get("content"))
        for block in model_got
    )
    assert (await session(live.client, session_id))["status"] == "idle"


# On the API runtime only: what differs from the v2 answers is the v1 message read as
# answers; how answers reach a Claude Code turn is the v2 test's two-runtime case.
async def test_the_v1_clients_answer_message_is_the_calls_result_not_a_new_message(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    call = await ask_questions(live, claude, session_id)

    # The web client's form: headers, several choices as a list, "Other" HTML-escaped.
    query = "My answers:\n\n**Database:** PostgreSQL\n\n**Extras:**\n  - Redis\n  - a &lt;queue&gt;"
    enqueued = await live.client.post(
        f"/api/v1/sessions/{session_id}/enqueue", json={"query": query, "stream": True}
    )
    assert enqueued.status_code == 202, enqueued.text
    assert enqueued.json()["queued"] is False
    await wait_for_event(live, session_id, "done", run_id=enqueued.json()["run_id"])
    await wait_until_idle(live, session_id)

    rows = await messages(live.client, session_id)
    _, result = _call_rows(rows, call)
    assert result["content"] == (
        f'The user answered: "{DATABASE}"="PostgreSQL", "{EXTRAS}"="Redis, a <queue>". Read '
        "the answers carefully \u2014 they may request clarification, changes, or that you "
        "not proceed \u2014 and follow what they actually say."
    )
    assert [row["content"] for row in rows if row["role"] == "user"] == ["set up the service"]
    v1_rows = (await live.client.get(f"/api/v1/sessions/{session_id}/messages")).json()
    assert query not in str(v1_rows)


async def test_a_streamed_v2_message_answers_and_streams_the_rest_of_the_turn(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    call = await ask_questions(live, claude, session_id)

    async with live.client.stream(
        "POST",
        f"/api/v2/sessions/{session_id}/messages",
        json={"content": "Let's use SQLite, no extras."},
        headers={"accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        streamed = await collect(response, until="done")

    results = [event for event in streamed if event.type == "tool_result"]
    assert [event.data["tool_use_id"] for event in results] == [call.id]
    assert results[0].data["content"].startswith(f'The user answered: "{DATABASE}"=')
    assert [event.data["status"] for event in streamed if event.type == "status_changed"] == [
        "thinking",
        "idle",
    ]
    assert streamed[-1].type == "done"


async def test_a_question_with_bad_input_is_a_tool_error_and_the_turn_goes_on(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    one_option = {
        "questions": [
            {
                "question": "Proceed?",
                "header": "Go",
                "multiSelect": False,
                "options": [{"label": "Yes", "description": "Do it."}],
            }
        ]
    }
    call = ToolUse("AskUserQuestion", one_option)
    claude.enqueue(
        Reply.turn([call], stop_reason="tool_use"), Reply.text("I'll ask properly next time.")
    )
    await send(live.client, session_id, "go")
    await wait_until_idle(live, session_id)

    _, result = _call_rows(await messages(live.client, session_id), call)
    assert result["metadata"]["is_error"] is True
    assert "options must be a list of 2 to 4 options" in result["content"]
    assert (await session(live.client, session_id))["status"] == "idle"


async def test_answers_are_refused_when_nothing_is_asked_or_they_do_not_fit_the_questions(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    url = f"/api/v2/sessions/{session_id}/answers"
    nothing_asked = await live.client.post(url, json={"answers": {DATABASE: "PostgreSQL"}})
    assert nothing_asked.status_code == 409
    assert nothing_asked.json()["error"]["code"] == "conflict"
    unknown = await live.client.post(
        "/api/v2/sessions/00000000-0000-0000-0000-000000000000/answers",
        json={"answers": {DATABASE: "PostgreSQL"}},
    )
    assert unknown.status_code == 404

    await ask_questions(live, claude, session_id)
    for bad in (
        {"answers": {"What colour?": "Blue"}},  # no such question
        {"answers": {DATABASE: ["PostgreSQL", "SQLite"]}},  # several to a single choice
        {"answers": {DATABASE: "  "}},  # empty
        {"answers": {}},
        {"answers": {DATABASE: 3}},
        {"answer": {DATABASE: "PostgreSQL"}},
    ):
        refused = await live.client.post(url, json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    assert (await session(live.client, session_id))["status"] == "waiting"
    taken = await live.client.post(url, json={"answers": {DATABASE: "SQLite"}})
    assert taken.status_code == 200
    await wait_until_idle(live, session_id)


@BOTH_RUNTIMES
async def test_cancel_while_waiting_leaves_the_question_unanswered_and_the_session_usable(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    call = await ask_questions(live, claude, session_id)

    cancelled = await live.client.post(f"/api/v2/sessions/{session_id}/cancel")
    assert cancelled.json()["data"]["status"] == "cancelled"
    await wait_until_idle(live, session_id)
    _, result = _call_rows(await messages(live.client, session_id), call)
    assert result["metadata"]["is_error"] is True
    assert result["content"] == "The user did not answer the questions (cancelled by the user)."
    nothing = await live.client.post(
        f"/api/v2/sessions/{session_id}/answers", json={"answers": {DATABASE: "SQLite"}}
    )
    assert nothing.status_code == 409

    claude.reset()
    claude.enqueue(Reply.text("Understood, no database yet."))
    sent = await send(live.client, session_id, "never mind")
    assert sent["answers_tool_use_id"] is None
    await wait_for_event(live, session_id, "done", run_id=sent["run_id"])
    rows = await messages(live.client, session_id)
    assert rows[-1]["content"] == "Understood, no database yet."
    assert_history_pairs(rows)


async def test_v1_interrupt_while_waiting_ends_the_turn_and_the_session_is_idle(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    call = await ask_questions(live, claude, session_id)

    stopped = await live.client.post(f"/api/v1/sessions/{session_id}/interrupt")
    assert stopped.status_code == 204
    assert (await session(live.client, session_id))["status"] == "idle"
    _, result = _call_rows(await messages(live.client, session_id), call)
    assert result["content"].startswith("The user did not answer the questions")


async def test_a_shutdown_while_waiting_settles_the_question_as_not_answered(
    live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    async with live_app(live_settings) as first_run:
        team = await create_team(first_run, "Dana")
        session_id = await create_specialist(first_run, team, "Dana")
        call = await ask_questions(first_run, claude, session_id)
        await first_run.container.workers.shutdown()
        ended = await wait_for_event(first_run, session_id, "error")
        assert ended.data["code"] == "interrupted"
        rows = await messages(first_run.client, session_id)
    _, result = _call_rows(rows, call)
    assert result["content"] == (
        "The user did not answer the questions (interrupted by server shutdown)."
    )


async def test_a_crash_while_waiting_settles_the_question_at_start_up_and_the_session_resumes(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = UUID(await create_specialist(live, team, "Dana"))
    async with live.container.unit_of_work() as uow:  # what kill -9 while waiting leaves
        waiting = await uow.sessions.get_for_update(session_id)
        assert waiting is not None
        await uow.messages.append(Message.user(session_id, "set up the service"))
        waiting.start()
        await uow.messages.append(
            Message.tool_use(session_id, "toolu_asked", "AskUserQuestion", QUESTIONS, "run-1")
        )
        waiting.begin_tool()
        waiting.wait()
        await uow.commit()

    await live.container.start()

    recovered = await session(live.client, str(session_id))
    assert recovered["status"] == "error"
    rows = await messages(live.client, str(session_id))
    assert rows[-1]["content"] == (
        "The user did not answer the questions (interrupted by server restart)."
    )
    claude.enqueue(Reply.text("Asking again later."))
    sent = await send(live.client, str(session_id), "My answers:\n\n**Database:** SQLite")
    assert sent["answers_tool_use_id"] is None  # no turn waits: an ordinary message
    await wait_for_event(live, str(session_id), "done", run_id=sent["run_id"])
    assert (await session(live.client, str(session_id)))["status"] == "idle"
    assert_history_pairs(await messages(live.client, str(session_id)))
