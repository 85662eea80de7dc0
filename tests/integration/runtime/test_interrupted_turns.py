"""A turn that ended early says so to the model: its next request never reads the
interrupted message and the new one as a single user turn."""

from __future__ import annotations

from tests.integration.runtime.conftest import BOTH_RUNTIMES
from tests.integration.runtime.helpers import (
    messages,
    send,
    wait_for_event,
    wait_for_status,
    wait_until_idle,
)
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, conversation_read

USER_STOP = "[Request interrupted by user]"


@BOTH_RUNTIMES
async def test_a_request_cancelled_before_any_text_reads_as_interrupted_by_the_user(
    live: LiveApp, claude: ScriptedAnthropic, session_id: str
) -> None:
    asked = len(claude.requests)
    # The reply opens, then hangs before its first word.
    claude.enqueue(Reply.text("never said", chunks=1).hang(after_events=2, timeout=60))
    sent = await send(live.client, session_id, "stop me")
    await wait_for_event(live, session_id, "run_started", run_id=sent["run_id"])
    await claude.wait_for_requests_async(asked + 1, timeout=30)

    await live.client.post(f"/api/v2/sessions/{session_id}/cancel")
    await wait_for_status(live.client, session_id, "cancelled")
    rows = await messages(live.client, session_id)
    assert rows[-1]["content"] == "stop me"
    assert rows[-1]["metadata"]["interrupted"]["by"] == "user"

    claude.enqueue(Reply.text("Something else, then."))
    await send(live.client, session_id, "do something else")
    await wait_until_idle(live, session_id)

    assert conversation_read(claude.requests[-1].messages)[-3:] == [
        ("user", "stop me"),
        ("assistant", USER_STOP),
        ("user", "do something else"),
    ]


# On the API runtime only: the marker comes from the stored row, whatever the runtime; a
# cut turn reaching Claude Code as a marked transcript is the cancelled test's two-runtime
# case, and Claude Code failing a turn with the API's reason is test_claude_code's.
async def test_a_turn_that_ended_in_error_reads_as_cut_by_that_error(
    live: LiveApp, claude: ScriptedAnthropic, session_id: str
) -> None:
    claude.enqueue(Reply.error(400, message="scripted refusal"))
    await send(live.client, session_id, "fail please")
    await wait_for_status(live.client, session_id, "error")

    claude.reset()
    claude.enqueue(Reply.text("Better now."))
    await send(live.client, session_id, "try again")
    await wait_until_idle(live, session_id)

    read = conversation_read(claude.requests[-1].messages)
    assert read[-3][0:2] == ("user", "fail please")
    assert read[-2][0] == "assistant"
    assert read[-2][1].startswith("[Reply interrupted by an error:")
    assert "scripted refusal" in read[-2][1]
    assert read[-1] == ("user", "try again")


async def test_a_v1_interrupt_during_a_reply_keeps_its_text_and_reads_as_the_users_stop(
    live: LiveApp, claude: ScriptedAnthropic, session_id: str
) -> None:
    asked = len(claude.requests)
    claude.enqueue(Reply.hang("Let me think", timeout=60))
    sent = await send(live.client, session_id, "think hard")
    await wait_for_event(live, session_id, "text_delta", run_id=sent["run_id"])
    await claude.wait_for_requests_async(asked + 1, timeout=30)

    response = await live.client.post(f"/api/v1/sessions/{session_id}/interrupt")
    assert response.status_code == 204
    await wait_for_event(live, session_id, "cancelled", run_id=sent["run_id"])
    claude.enqueue(Reply.text("Fine."))
    await send(live.client, session_id, "never mind")
    await wait_until_idle(live, session_id)

    read = conversation_read(claude.requests[-1].messages)
    partial = read[-3]
    assert partial[0] == "assistant" and "Let me think".startswith(partial[1])
    assert read[-4:] == [
        ("user", "think hard"),
        partial,
        ("assistant", USER_STOP),
        ("user", "never mind"),
    ]
