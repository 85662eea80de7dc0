"""The Message entity and the conversation rules that keep a history replayable."""

from __future__ import annotations

from uuid import uuid4

import pytest

from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import (
    Message,
    synthetic_results_for,
    unanswered_tool_uses,
)
from kumiai.domain.value_objects import MessageRole

SESSION = uuid4()
OTHER_SESSION = uuid4()


def call(tool_use_id: str, session_id: object = SESSION) -> Message:
    return Message.tool_use(
        session_id,  # type: ignore[arg-type]
        tool_use_id,
        "Read",
        {"path": "README.md"},
        "resp-1",
    )


def result(tool_use_id: str, session_id: object = SESSION) -> Message:
    return Message.tool_result(session_id, tool_use_id, "ok", is_error=False)  # type: ignore[arg-type]


# --- constructors ----------------------------------------------------------------------------


def test_user_message_keeps_its_text_and_sender() -> None:
    sender = uuid4()

    message = Message.user(SESSION, "  hello  ", sender_session_id=sender, sender_name="PM")

    assert message.role is MessageRole.USER
    assert message.content == "  hello  "
    assert message.sender_session_id == sender
    assert message.sender_name == "PM"
    assert message.sequence == -1
    assert message.metadata == {}


@pytest.mark.parametrize("content", ["", "  \n\t"])
def test_user_message_must_not_be_blank(content: str) -> None:
    with pytest.raises(ValidationError):
        Message.user(SESSION, content)


def test_assistant_text_is_not_a_tool_call() -> None:
    message = Message.assistant_text(SESSION, "Done.", "resp-1", sender_name="Alice")

    assert message.role is MessageRole.ASSISTANT
    assert message.response_id == "resp-1"
    assert message.sender_name == "Alice"
    assert not message.is_tool_use
    assert message.tool_name is None
    assert message.tool_input is None
    assert not message.is_error


def test_tool_use_is_an_assistant_message_holding_the_call() -> None:
    tool_input = {"command": "ls"}

    message = Message.tool_use(
        SESSION, "toolu_1", "Bash", tool_input, "resp-1", sender_name="Alice"
    )

    assert message.role is MessageRole.ASSISTANT
    assert message.tool_use_id == "toolu_1"
    assert message.metadata == {
        "tool_use": {"id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}
    }
    assert message.is_tool_use
    assert message.tool_name == "Bash"
    assert message.tool_input == {"command": "ls"}
    assert message.tool_input is not tool_input
    assert message.sender_name == "Alice"


@pytest.mark.parametrize(("tool_use_id", "name"), [("", "Bash"), ("toolu_1", " ")])
def test_tool_use_needs_an_id_and_a_name(tool_use_id: str, name: str) -> None:
    with pytest.raises(ValidationError):
        Message.tool_use(SESSION, tool_use_id, name, {}, None)


@pytest.mark.parametrize("is_error", [True, False])
def test_tool_result_records_whether_the_tool_failed(is_error: bool) -> None:
    message = Message.tool_result(SESSION, "toolu_1", "output", is_error, response_id="r")

    assert message.role is MessageRole.TOOL_RESULT
    assert message.tool_use_id == "toolu_1"
    assert message.metadata == {"is_error": is_error}
    assert message.is_error is is_error
    assert not message.is_tool_use


def test_tool_result_needs_the_call_id() -> None:
    with pytest.raises(ValidationError):
        Message.tool_result(SESSION, " ", "output", is_error=False)


def test_system_message() -> None:
    message = Message.system(SESSION, "Session resumed")

    assert message.role is MessageRole.SYSTEM
    assert message.content == "Session resumed"


def test_malformed_tool_metadata_reads_as_absent() -> None:
    message = Message(
        session_id=SESSION,
        role=MessageRole.ASSISTANT,
        metadata={"tool_use": {"name": 7, "input": "not a dict"}},
    )

    assert message.is_tool_use
    assert message.tool_name is None
    assert message.tool_input is None


def test_error_flag_only_counts_on_tool_results() -> None:
    message = Message(session_id=SESSION, role=MessageRole.SYSTEM, metadata={"is_error": True})

    assert not message.is_error


# --- unanswered calls and synthetic results --------------------------------------------------


def test_calls_with_results_are_answered() -> None:
    history = [Message.user(SESSION, "hi"), call("t1"), result("t1")]

    assert unanswered_tool_uses(history) == []


def test_calls_without_results_are_unanswered_in_order() -> None:
    first, second = call("t1"), call("t3")
    history = [first, call("t2"), result("t2"), second, Message.system(SESSION, "x")]

    assert unanswered_tool_uses(history) == [first, second]


def test_assistant_text_carrying_a_call_id_is_not_a_call() -> None:
    stray = Message(session_id=SESSION, role=MessageRole.ASSISTANT, tool_use_id="t1")

    assert unanswered_tool_uses([stray]) == []


def test_a_result_before_its_call_does_not_answer_it() -> None:
    late_call = call("t1")

    assert unanswered_tool_uses([result("t1"), late_call]) == [late_call]


def test_a_result_only_answers_the_call_of_its_own_session() -> None:
    other = call("t1", OTHER_SESSION)

    assert unanswered_tool_uses([other, call("t1"), result("t1")]) == [other]


def test_synthetic_results_close_every_unanswered_call() -> None:
    history = [call("t1"), call("t2"), result("t2"), call("t3", OTHER_SESSION)]

    results = synthetic_results_for(history, "the turn was cancelled")

    assert [(r.session_id, r.tool_use_id) for r in results] == [
        (SESSION, "t1"),
        (OTHER_SESSION, "t3"),
    ]
    for synthetic in results:
        assert synthetic.role is MessageRole.TOOL_RESULT
        assert synthetic.is_error
        assert synthetic.metadata == {"is_error": True, "synthetic": True}
        assert synthetic.content == "Tool call was not completed: the turn was cancelled"


def test_history_with_synthetic_results_has_nothing_unanswered() -> None:
    history = [call("t1"), call("t2")]

    synthetic = synthetic_results_for(history, "crash")

    assert [result.tool_use_id for result in synthetic] == ["t1", "t2"]
    assert unanswered_tool_uses([*history, *synthetic]) == []


def test_no_synthetic_results_for_a_complete_history() -> None:
    assert synthetic_results_for([call("t1"), result("t1")], "crash") == []
