"""The runtime -> v1 stream mapping (V1_CONTRACT §3.2), one rule at a time."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

import pytest

from kumiai.api.v1.stream_events import StreamMapper, V1Event
from kumiai.application.dtos.sessions import AgentRef
from kumiai.application.ports.events import SessionEvent
from kumiai.application.services.runtime.events import EventHub

DANA = AgentRef(slug="dana", name="Dana")
SESSION = uuid4()
RUN = str(uuid4())


@pytest.fixture
def hub() -> EventHub:
    return EventHub()


def _publish(hub: EventHub, event_type: str, **data: Any) -> SessionEvent:
    return hub.publish(SESSION, event_type, **data)


def _message(role: str, content: str = "", **fields: Any) -> dict[str, Any]:
    return {
        "id": str(uuid4()),
        "role": role,
        "content": content,
        "created_at": "2025-01-31T12:34:56.789000Z",
        "sender_session_id": None,
        "sender_name": None,
        **fields,
    }


def _queue(hub: EventHub, *previews: str, paused: bool = False) -> SessionEvent:
    messages = [
        {
            "message_id": str(uuid4()),
            "run_id": str(uuid4()),
            "content_preview": preview,
            "sender_name": None,
            "sender_session_id": None,
            "timestamp": "2025-01-31T12:00:00+00:00",
        }
        for preview in previews
    ]
    return _publish(hub, "queue_changed", size=len(messages), paused=paused, messages=messages)


def _one_turn(hub: EventHub) -> list[SessionEvent]:
    """What the runner publishes for one message: text, one tool call, more text, done."""
    tool_row = _message("assistant", sender_name="Dana", response_id=RUN)
    return [
        _publish(hub, "message_created", message=_message("user", "hello")),
        _queue(hub, "hello"),
        _queue(hub),
        _publish(hub, "status_changed", status="thinking", run_id=RUN),
        _publish(hub, "run_started", run_id=RUN, message_id=str(uuid4())),
        _publish(hub, "text_delta", run_id=RUN, block_index=0, text="Look"),
        _publish(hub, "message_created", run_id=RUN, message=_message("assistant", "Looking.")),
        _publish(
            hub, "text_done", run_id=RUN, block_index=0, message=_message("assistant", "Looking.")
        ),
        _publish(hub, "message_created", run_id=RUN, message=tool_row),
        _publish(
            hub,
            "tool_use",
            run_id=RUN,
            message=tool_row,
            tool_use_id="toolu_1",
            tool_name="Bash",
            tool_input={"command": "ls"},
        ),
        _publish(hub, "status_changed", status="working", run_id=RUN),
        _publish(hub, "message_created", run_id=RUN, message=_message("tool_result", "a.py")),
        _publish(
            hub,
            "tool_result",
            run_id=RUN,
            message=_message("tool_result", "a.py"),
            tool_use_id="toolu_1",
            content="a.py",
            is_error=False,
        ),
        _publish(hub, "status_changed", status="thinking", run_id=RUN),
        _publish(hub, "usage", run_id=RUN, usage={}, stop_reason="end_turn"),
        _publish(hub, "status_changed", status="idle", run_id=RUN),
        _publish(hub, "done", run_id=RUN, stop_reason="end_turn", usage={}),
    ]


def _map_all(mapper: StreamMapper, events: list[SessionEvent]) -> list[V1Event]:
    return [v1 for event in events for v1 in mapper.map(event)]


def test_one_turn_reads_as_the_sequence_the_client_handles_best(hub: EventHub) -> None:
    v1 = _map_all(StreamMapper(DANA, "e1"), _one_turn(hub))
    assert [(name, payload.get("status")) for name, payload in v1] == [
        ("user_message", None),
        ("queue_status", None),
        ("queue_status", None),
        ("session_status", "working"),
        ("content_block", None),
        ("tool_use", None),
        ("tool_complete", None),
        ("message_complete", None),
        ("session_status", "idle"),
    ]
    by_name = dict(v1)
    assert by_name["content_block"] | {"event_id": ""} == {
        "block_type": "text",
        "content": "Looking.",
        "response_id": RUN,
        "agent_id": "dana",
        "agent_name": "Dana",
        "event_id": "",
    }
    assert by_name["tool_use"]["tool_input"] == {"command": "ls"}
    assert by_name["tool_use"]["response_id"] == RUN
    assert by_name["tool_use"]["agent_id"] == "dana"
    assert by_name["tool_complete"]["result"] == "a.py"
    assert by_name["tool_complete"]["is_error"] is False
    assert by_name["message_complete"]["has_more_messages"] is False


def test_payloads_are_single_line_json_without_type_and_with_unique_event_ids(
    hub: EventHub,
) -> None:
    v1 = _map_all(StreamMapper(DANA, "e1"), _one_turn(hub))
    ids = [payload["event_id"] for _, payload in v1]
    assert len(ids) == len(set(ids))
    for _, payload in v1:
        assert "type" not in payload
        assert "\n" not in json.dumps(payload)


def test_event_ids_differ_between_server_runs(hub: EventHub) -> None:
    event = _publish(hub, "message_created", message=_message("user", "hi"))
    ((_, before),) = StreamMapper(None, "run1").map(event)
    ((_, after),) = StreamMapper(None, "run2").map(event)
    assert before["event_id"] != after["event_id"]
    assert event.event_id in before["event_id"]


def test_a_human_message_carries_no_agent_fields(hub: EventHub) -> None:
    event = _publish(hub, "message_created", message=_message("user", "hi"))
    mapper = StreamMapper(DANA, "e1")
    assert mapper.sender_to_look_up(event) is None
    ((name, payload),) = mapper.map(event)
    assert name == "user_message"
    assert set(payload) == {"message_id", "content", "timestamp", "event_id"}
    assert payload["content"] == "hi"


def test_a_message_from_another_session_names_its_agent_once_learned(hub: EventHub) -> None:
    pm_session = uuid4()
    routed = _message("user", "do it", sender_session_id=str(pm_session), sender_name="Pat")
    event = _publish(hub, "message_created", message=routed)
    mapper = StreamMapper(DANA, "e1")
    assert mapper.sender_to_look_up(event) == pm_session
    mapper.learn_sender(pm_session, AgentRef(slug="pat", name="Pat"))
    assert mapper.sender_to_look_up(event) is None
    ((_, payload),) = mapper.map(event)
    assert payload["agent_id"] == "pat"
    assert payload["agent_name"] == "Pat"
    assert payload["from_instance_id"] == str(pm_session)


def test_more_messages_follow_when_the_queue_holds_some_and_is_not_paused(hub: EventHub) -> None:
    mapper = StreamMapper(DANA, "e1")
    mapper.map(_queue(hub, "next one"))
    ((_, complete),) = mapper.map(_publish(hub, "done", run_id=RUN))
    assert complete["has_more_messages"] is True
    mapper.map(_queue(hub, "next one", paused=True))
    ((_, complete),) = mapper.map(_publish(hub, "cancelled", run_id=RUN, reason="x"))
    assert complete["has_more_messages"] is False


def test_the_queue_seen_at_connection_counts_too(hub: EventHub) -> None:
    mapper = StreamMapper(DANA, "e1", queue_size=2)
    ((_, complete),) = mapper.map(_publish(hub, "done", run_id=RUN))
    assert complete["has_more_messages"] is True


def test_a_failed_run_completes_then_shows_the_error_and_the_error_status(hub: EventHub) -> None:
    mapper = StreamMapper(DANA, "e1")
    mapper.map(_publish(hub, "status_changed", status="thinking", run_id=RUN))
    assert mapper.map(_publish(hub, "status_changed", status="error", run_id=RUN)) == []
    v1 = mapper.map(_publish(hub, "error", run_id=RUN, error="boom", code="x"))
    assert [(name, payload.get("error") or payload.get("status")) for name, payload in v1] == [
        ("message_complete", None),
        ("error", "boom"),
        ("session_status", "error"),
    ]


def test_a_cancelled_run_ends_idle(hub: EventHub) -> None:
    mapper = StreamMapper(DANA, "e1")
    mapper.map(_publish(hub, "status_changed", status="working", run_id=RUN))
    mapper.map(_publish(hub, "status_changed", status="cancelled", run_id=RUN))
    v1 = mapper.map(_publish(hub, "cancelled", run_id=RUN, reason="cancelled by the user"))
    assert [name for name, _ in v1] == ["message_complete", "session_status"]
    assert v1[1][1]["status"] == "idle"


def test_an_error_outside_a_run_still_completes_and_explains(hub: EventHub) -> None:
    v1 = StreamMapper(DANA, "e1").map(_publish(hub, "error", error="not configured", code="x"))
    assert [name for name, _ in v1] == ["message_complete", "error"]


def test_statuses_are_sent_only_when_they_change(hub: EventHub) -> None:
    mapper = StreamMapper(DANA, "e1")
    first = mapper.map(_publish(hub, "status_changed", status="thinking", run_id=RUN))
    again = mapper.map(_publish(hub, "status_changed", status="working", run_id=RUN))
    assert [payload["status"] for _, payload in first] == ["working"]
    assert again == []


def test_a_turn_waiting_for_the_users_answers_shows_idle_at_once_then_working_again(
    hub: EventHub,
) -> None:
    mapper = StreamMapper(DANA, "e1")
    mapper.map(_publish(hub, "status_changed", status="working", run_id=RUN))
    # The question is announced without its run, so the form is live while the turn waits.
    asked = mapper.map(_publish(hub, "status_changed", status="waiting"))
    answered = mapper.map(_publish(hub, "status_changed", status="thinking", run_id=RUN))
    assert [(name, payload["status"]) for name, payload in asked] == [("session_status", "idle")]
    assert [payload["status"] for _, payload in answered] == ["working"]


def test_unknown_statuses_and_runtime_only_events_are_ignored(hub: EventHub) -> None:
    mapper = StreamMapper(DANA, "e1")
    for event_type, data in [
        ("status_changed", {"status": "completed"}),
        ("run_started", {"run_id": RUN}),
        ("text_delta", {"run_id": RUN, "text": "x"}),
        ("usage", {"run_id": RUN}),
        ("reset", {"reason": "x"}),
        ("message_created", {"message": _message("assistant", "x")}),
    ]:
        assert mapper.map(_publish(hub, event_type, **data)) == []


def test_queue_status_lists_senders_with_the_user_as_default(hub: EventHub) -> None:
    sender = str(uuid4())
    item = {
        "message_id": "m",
        "run_id": "r",
        "content_preview": "from the PM",
        "sender_name": "Pat",
        "sender_session_id": sender,
        "timestamp": "t",
    }
    event = _publish(
        hub,
        "queue_changed",
        size=2,
        paused=False,
        messages=[
            item,
            {**item, "sender_name": None, "sender_session_id": None, "content_preview": "mine"},
        ],
    )
    ((_, payload),) = StreamMapper(DANA, "e1").map(event)
    assert payload["messages"] == [
        {
            "sender_name": "Pat",
            "sender_session_id": sender,
            "content_preview": "from the PM",
            "timestamp": "t",
        },
        {"sender_name": "User", "content_preview": "mine", "timestamp": "t"},
    ]


def test_tool_results_are_always_strings(hub: EventHub) -> None:
    event = _publish(hub, "tool_result", run_id=RUN, tool_use_id="t", content=None, is_error=True)
    ((_, payload),) = StreamMapper(DANA, "e1").map(event)
    assert payload["result"] == ""
    assert payload["is_error"] is True


def test_without_an_agent_the_message_sender_names_the_speaker(hub: EventHub) -> None:
    event = _publish(
        hub,
        "text_done",
        run_id=RUN,
        block_index=0,
        message=_message("assistant", "hi", sender_name="Helper"),
    )
    ((_, payload),) = StreamMapper(None, "e1").map(event)
    assert payload["agent_id"] is None
    assert payload["agent_name"] == "Helper"


def test_a_sender_session_id_is_a_uuid(hub: EventHub) -> None:
    sender = uuid4()
    event = _publish(
        hub,
        "message_created",
        message=_message("user", "x", sender_session_id=str(sender), sender_name="Pat"),
    )
    assert isinstance(StreamMapper(None, "e1").sender_to_look_up(event), UUID)


def test_a_definition_saved_by_an_assistant_becomes_auto_save(hub: EventHub) -> None:
    mapper = StreamMapper(None, "epoch")
    event = _publish(hub, "definition_saved", kind="skill", slug="release-notes")
    [(name, payload)] = mapper.map(event)
    assert name == "auto_save"
    assert payload["auto_save_type"] == "skill"
    assert payload["item_id"] == "release-notes"


def test_a_notification_becomes_user_notification_without_empty_fields(hub: EventHub) -> None:
    mapper = StreamMapper(DANA, "epoch")
    event = _publish(
        hub, "notification", title="Done", message="All green", priority="high", project_name=None
    )
    [(name, payload)] = mapper.map(event)
    assert name == "user_notification"
    assert {key: payload[key] for key in ("title", "message", "priority")} == {
        "title": "Done",
        "message": "All green",
        "priority": "high",
    }
    assert "project_name" not in payload


def test_a_retry_becomes_the_v1_retry_event_with_its_session(hub: EventHub) -> None:
    mapper = StreamMapper(DANA, "epoch")
    event = _publish(
        hub,
        "retry",
        run_id=RUN,
        attempt=1,
        max_retries=3,
        error_type="buffer_overflow",
        corrective_message="The tool output was too large; read the file in parts.",
    )

    assert mapper.map(event) == [
        (
            "retry",
            {
                "session_id": str(SESSION),
                "attempt": 1,
                "max_retries": 3,
                "error_type": "buffer_overflow",
                "corrective_message": "The tool output was too large; read the file in parts.",
                "event_id": f"epoch:{event.event_id}",
            },
        )
    ]


def test_a_retry_inside_a_run_leaves_the_turns_events_in_their_order(hub: EventHub) -> None:
    mapper = StreamMapper(DANA, "epoch")
    events = [
        _publish(hub, "status_changed", status="thinking", run_id=RUN),
        _publish(hub, "retry", run_id=RUN, attempt=1, max_retries=3, error_type="x"),
        _publish(hub, "status_changed", status="idle", run_id=RUN),
        _publish(hub, "done", run_id=RUN),
    ]

    names = [name for event in events for name, _ in mapper.map(event)]

    assert names == ["session_status", "retry", "message_complete", "session_status"]


def test_a_system_note_is_not_streamed_as_a_user_message(hub: EventHub) -> None:
    # The client shows system rows from the message list, which it reloads after the turn.
    event = _publish(hub, "message_created", message=_message("system", "Retrying."))
    assert StreamMapper(DANA, "epoch").map(event) == []


def _task_changed(hub: EventHub, change: str, fields: list[str]) -> SessionEvent:
    task_id, project_id = str(uuid4()), str(uuid4())
    task = {"id": task_id, "project_id": project_id, "status": "in_progress"}
    return _publish(
        hub,
        "task_changed",
        change=change,
        task_id=task_id,
        project_id=project_id,
        task=task,
        fields=fields,
        unbound_session_ids=[],
    )


def test_a_task_status_change_reads_as_the_task_status_event(hub: EventHub) -> None:
    event = _task_changed(hub, "updated", ["status"])
    ((name, payload),) = StreamMapper(DANA, "e1").map(event)
    assert name == "task_status"
    assert payload | {"event_id": ""} == {
        "task_id": event.data["task_id"],
        "status": "in_progress",
        "project_id": event.data["project_id"],
        "event_id": "",
    }


@pytest.mark.parametrize(("change", "fields"), [("updated", ["name"]), ("created", [])])
def test_other_task_changes_are_not_shown_on_the_v1_stream(
    hub: EventHub, change: str, fields: list[str]
) -> None:
    assert StreamMapper(DANA, "e1").map(_task_changed(hub, change, fields)) == []
