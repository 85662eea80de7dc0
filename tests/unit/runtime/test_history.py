"""Replaying persisted messages always yields a history the Messages API accepts."""

from __future__ import annotations

import itertools
from uuid import uuid4

from kumiai.application.services.runtime.history.budget import (
    TRIMMED_PLACEHOLDER,
    elide_tool_outputs,
    estimate_tokens,
    fit_to_budget,
    trim_to_budget,
)
from kumiai.application.services.runtime.history.replay import (
    OPENING_PLACEHOLDER,
    USER_INTERRUPT_MARKER,
    to_api_messages,
)
from kumiai.domain.entities import Message

SESSION = uuid4()


def _number(messages: list[Message]) -> list[Message]:
    for index, message in enumerate(messages):
        message.sequence = index
    return messages


def _user(text: str, **metadata: object) -> Message:
    message = Message.user(SESSION, text)
    message.metadata = dict(metadata)
    return message


def _text(text: str) -> Message:
    return Message.assistant_text(SESSION, text, "run")


def _call(tool_id: str) -> Message:
    return Message.tool_use(SESSION, tool_id, "Read", {"file_path": "a.txt"}, "run")


def _result(tool_id: str, content: str = "ok") -> Message:
    return Message.tool_result(SESSION, tool_id, content, False)


def _assert_valid(history: list[dict]) -> None:  # type: ignore[type-arg]
    assert history[0]["role"] == "user"
    for previous, current in itertools.pairwise(history):
        assert previous["role"] != current["role"], "roles must alternate"
    for index, message in enumerate(history):
        calls = [b["id"] for b in message["content"] if b["type"] == "tool_use"]
        if calls:
            answer = history[index + 1]["content"]
            assert [b["tool_use_id"] for b in answer if b["type"] == "tool_result"] == calls
            assert answer[0]["type"] == "tool_result"
        assert all(b.get("text", "x").strip() for b in message["content"])


def test_a_plain_conversation_alternates_roles() -> None:
    history = to_api_messages(_number([_user("hi"), _text("hello"), _user("bye")]))
    _assert_valid(history)
    assert [m["role"] for m in history] == ["user", "assistant", "user"]


def test_tool_calls_are_answered_in_the_next_user_message() -> None:
    rows = _number(
        [
            _user("go"),
            _text("reading"),
            _call("t1"),
            _call("t2"),
            _result("t1"),
            _result("t2"),
            _text("done"),
        ]
    )
    history = to_api_messages(rows)
    _assert_valid(history)
    assert [b["type"] for b in history[1]["content"]] == ["text", "tool_use", "tool_use"]


def test_a_message_queued_during_a_tool_call_is_replayed_after_its_result() -> None:
    rows = _number([_user("go"), _call("t1"), _user("also this"), _result("t1"), _text("ok")])
    history = to_api_messages(rows)
    _assert_valid(history)
    texts = [b.get("text") for m in history for b in m["content"] if b["type"] == "text"]
    assert texts == ["go", "also this", "ok"]


def test_a_delivered_queued_message_is_replayed_where_its_turn_began() -> None:
    rows = _number(
        [_user("first"), _user("second", delivered_after=3), _text("a1"), _text("a1 more")]
    )
    history = to_api_messages(rows)
    _assert_valid(history)
    assert history[-1]["content"][0]["text"] == "second"


def test_an_unanswered_call_gets_a_synthetic_error_result() -> None:
    history = to_api_messages(_number([_user("go"), _call("t1"), _user("hello?")]))
    _assert_valid(history)
    result = history[2]["content"][0]
    assert result["type"] == "tool_result" and result["is_error"] is True


def test_a_result_without_its_call_is_not_replayed() -> None:
    history = to_api_messages(_number([_user("go"), _result("ghost"), _text("ok")]))
    _assert_valid(history)
    assert all(b["type"] != "tool_result" for m in history for b in m["content"])


def test_a_history_that_starts_with_the_assistant_gets_an_opening_user_turn() -> None:
    history = to_api_messages(_number([_text("Welcome!"), _user("thanks")]))
    _assert_valid(history)
    assert history[0]["content"][0]["text"] == OPENING_PLACEHOLDER


def test_messages_from_other_agents_name_their_sender() -> None:
    message = Message.user(SESSION, "status?", sender_session_id=uuid4(), sender_name="PM")
    history = to_api_messages(_number([message]))
    assert history[0]["content"][0]["text"].startswith("[Message from PM")


def test_empty_text_and_system_rows_are_skipped() -> None:
    history = to_api_messages(
        _number([_user("go"), _text("   "), Message.system(SESSION, "x"), _text("fine")])
    )
    _assert_valid(history)
    assert len(history) == 2


def test_a_system_note_inside_a_tool_call_leaves_the_call_and_its_result_together() -> None:
    # Where a runtime retrying a failed call would write its corrective note.
    note = Message.system(SESSION, "The output was too large; read the file in parts.")
    rows = _number([_user("go"), _call("t1"), note, _result("t1", "partial"), _text("ok")])

    history = to_api_messages(rows)

    _assert_valid(history)
    assert history == [
        {"role": "user", "content": [{"type": "text", "text": "go"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "a.txt"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "is_error": False,
                    "content": "partial",
                }
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
    ]


def test_trimming_keeps_pairs_and_the_newest_message() -> None:
    rows = []
    for index in range(40):
        rows += [
            _user(f"question {index} " + "x" * 400),
            _call(f"t{index}"),
            _result(f"t{index}", "y" * 400),
            _text(f"answer {index}"),
        ]
    history = to_api_messages(_number([*rows, _user("latest")]))
    trimmed = trim_to_budget(history, budget_tokens=2000)
    _assert_valid(trimmed)
    assert len(trimmed) < len(history)
    assert trimmed[0]["content"][0]["text"] == TRIMMED_PLACEHOLDER
    assert trimmed[-1]["content"][-1]["text"] == "latest"


def test_a_history_within_budget_is_untouched() -> None:
    history = to_api_messages(_number([_user("hi")]))
    assert trim_to_budget(history, budget_tokens=10_000) == history


def test_results_follow_the_order_of_their_calls_even_when_some_were_never_answered() -> None:
    rows = _number([_user("go"), _call("a1"), _call("a2"), _call("b"), _result("b"), _text("ok")])
    history = to_api_messages(rows)
    _assert_valid(history)
    assert [block["tool_use_id"] for block in history[2]["content"]] == ["a1", "a2", "b"]


def _server_call(tool_id: str, name: str = "WebSearch") -> Message:
    message = Message.tool_use(SESSION, tool_id, name, {"query": "kumiai"}, "run")
    message.metadata = {**message.metadata, "server_tool": True}
    return message


def test_web_tool_calls_are_replayed_as_the_assistants_own_text() -> None:
    rows = _number(
        [
            _user("search"),
            _server_call("s1"),
            _result("s1", "KumiAI — https://kumiai.example"),
            _text("Found it; now reading."),
            _call("t1"),
            _result("t1"),
            _text("done"),
        ]
    )

    history = to_api_messages(rows)

    _assert_valid(history)
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert [b["type"] for b in history[1]["content"]] == ["text", "text", "text", "tool_use"]
    assert history[1]["content"][0]["text"] == '[WebSearch {"query": "kumiai"}]'
    assert history[1]["content"][1]["text"] == (
        "[WebSearch result]\nKumiAI — https://kumiai.example"
    )


def test_a_failed_or_unanswered_web_tool_call_stays_valid() -> None:
    failed = Message.tool_result(SESSION, "s1", "web_fetch failed: url_not_accessible", True)
    rows = _number([_user("fetch"), _server_call("s1", "WebFetch"), failed, _server_call("s2")])

    history = to_api_messages(rows)

    _assert_valid(history)
    texts = [block["text"] for block in history[1]["content"]]
    assert texts[1] == "[WebFetch failed]\nweb_fetch failed: url_not_accessible"
    assert texts[2] == '[WebSearch {"query": "kumiai"}]'


def _tool_session(outputs: int, size: int) -> list[dict]:  # type: ignore[type-arg]
    """One turn: the user's request, then ``outputs`` calls each answered by ``size`` chars."""
    rows = [_user("go")]
    for index in range(outputs):
        rows += [_call(f"t{index}"), _result(f"t{index}", str(index) * size)]
    return to_api_messages(_number(rows))


def _total(history: list[dict]) -> int:  # type: ignore[type-arg]
    return sum(estimate_tokens(message) for message in history)


def test_old_tool_outputs_are_elided_first_and_the_latest_stays_whole() -> None:
    history = _tool_session(outputs=6, size=4_000)
    elided = elide_tool_outputs(history, budget_tokens=_total(history) // 2)
    _assert_valid(elided)
    assert _total(elided) <= _total(history) // 2
    results = [
        m["content"][0]["content"] for m in elided if m["content"][0]["type"] == "tool_result"
    ]
    assert results[0].startswith("[tool output elided to fit the context window: 4000 characters")
    assert results[-1] == "5" * 4_000
    assert [m["role"] for m in elided] == [m["role"] for m in history]


def test_eliding_stops_as_soon_as_the_history_fits() -> None:
    history = _tool_session(outputs=6, size=4_000)
    elided = elide_tool_outputs(history, budget_tokens=_total(history) - 100)
    results = [
        m["content"][0]["content"] for m in elided if m["content"][0]["type"] == "tool_result"
    ]
    assert sum(result.startswith("[tool output elided") for result in results) == 1


def test_a_cut_never_separates_a_call_from_its_result_even_when_nothing_fits() -> None:
    history = _tool_session(outputs=3, size=4_000)
    assert trim_to_budget(history, budget_tokens=10) == history
    earlier = to_api_messages(_number([_user("before"), _text("sure")]))
    trimmed = trim_to_budget(earlier + history, budget_tokens=10)
    _assert_valid(trimmed)
    assert trimmed[0]["content"][0]["text"] == TRIMMED_PLACEHOLDER
    assert trimmed[0]["content"][1]["text"] == "go"


def test_fitting_a_long_turn_elides_then_drops_earlier_exchanges() -> None:
    earlier = to_api_messages(_number([_user("old question " * 500), _text("old answer " * 500)]))
    history = earlier + _tool_session(outputs=4, size=4_000)
    fitted = fit_to_budget(history, budget_tokens=2_500, keep_last=2)
    _assert_valid(fitted)
    assert _total(fitted) <= 2_500
    assert fitted[0]["content"][0]["text"] == TRIMMED_PLACEHOLDER
    assert fitted[-1]["content"][0]["content"] == "3" * 4_000


def test_string_contents_can_be_trimmed() -> None:
    history = [
        {"role": "user", "content": "first " * 1_000},
        {"role": "assistant", "content": "reply " * 1_000},
        {"role": "user", "content": "latest"},
    ]
    trimmed = trim_to_budget(history, budget_tokens=50)
    assert trimmed == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": TRIMMED_PLACEHOLDER},
                {"type": "text", "text": "latest"},
            ],
        }
    ]


def _interrupted(message: Message, by: str, reason: str = "why") -> Message:
    message.metadata = {**message.metadata, "interrupted": {"by": by, "reason": reason}}
    return message


def test_a_request_stopped_before_any_answer_is_followed_by_the_users_interrupt() -> None:
    history = to_api_messages(
        _number([_user("first"), _interrupted(_user("stop me"), "user"), _user("next")])
    )

    _assert_valid(history)
    assert [(m["role"], [b["text"] for b in m["content"]]) for m in history[1:]] == [
        ("assistant", [USER_INTERRUPT_MARKER]),
        ("user", ["next"]),
    ]
    assert history[0]["content"][-1]["text"] == "stop me"


def test_a_partial_reply_cut_by_a_crash_reads_as_cut() -> None:
    partial = _interrupted(_text("half a th"), "server")

    history = to_api_messages(_number([_user("go"), partial, _user("again")]))

    assert history[1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "half a th"},
            {
                "type": "text",
                "text": "[Reply interrupted: the server stopped before this reply was finished]",
            },
        ],
    }


def test_a_turn_ended_by_an_error_after_a_tool_call_says_which_error() -> None:
    rows = [_user("go"), _call("t1"), _interrupted(_result("t1", "cancelled"), "error", "boom")]

    history = to_api_messages(_number([*rows, _user("again")]))

    _assert_valid(history)
    assert history[-2] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "[Reply interrupted by an error: boom]"}],
    }
