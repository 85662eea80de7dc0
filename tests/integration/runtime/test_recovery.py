"""After a crash, sessions caught mid-turn end in error, and can be resumed."""

from __future__ import annotations

from uuid import UUID

from kumiai.domain.entities import Message
from tests.integration.runtime.helpers import (
    assert_history_pairs,
    create_specialist,
    create_team,
    messages,
    send,
    session,
    wait_until_idle,
)
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic


async def _leave_working_with_an_open_tool_call(live: LiveApp, session_id: UUID) -> None:
    """What a crash during a tool call leaves behind in the database."""
    async with live.container.unit_of_work() as uow:  # simulating a crash
        stuck = await uow.sessions.get_for_update(session_id)
        assert stuck is not None
        await uow.messages.append(Message.user(session_id, "run the migration"))
        stuck.start()
        await uow.messages.append(
            Message.tool_use(session_id, "toolu_crash", "Bash", {"command": "make"}, "run-1")
        )
        stuck.begin_tool()
        await uow.commit()


async def test_a_session_stuck_working_after_a_restart_errors_then_resumes(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    await _leave_working_with_an_open_tool_call(live, UUID(session_id))

    await live.container.start()

    recovered = await session(live.client, session_id)
    assert recovered["status"] == "error"
    assert recovered["error_message"] == "interrupted by server restart"
    rows = await messages(live.client, session_id)
    assert rows[-1]["role"] == "tool_result" and rows[-1]["metadata"]["is_error"] is True
    assert_history_pairs(rows)

    resumed = await live.client.post(f"/api/v2/sessions/{session_id}/resume")
    assert resumed.json()["data"]["status"] == "idle"
    claude.enqueue(Reply.text("Picking up where we left off."))
    await send(live.client, session_id, "please continue")
    await wait_until_idle(live, session_id)
    assert (await session(live.client, session_id))["status"] == "idle"
    replayed = claude.requests[-1].messages
    assert [message["role"] for message in replayed] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert replayed[2]["content"][0]["tool_use_id"] == "toolu_crash"
    # The model is told the turn was cut, so it does not read the new message as the
    # answer to its call.
    assert replayed[3]["content"] == [
        {
            "type": "text",
            "text": "[Reply interrupted: the server stopped before this reply was finished]",
        }
    ]
