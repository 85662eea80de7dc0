"""The plain enumerations whose values are stored in the database."""

from __future__ import annotations

import pytest

from kumiai.domain.value_objects import EventType, KanbanStage, MessageRole, SessionType

T = SessionType


def test_session_types_match_the_database_enum() -> None:
    assert [str(kind) for kind in SessionType] == [
        "pm",
        "specialist",
        "assistant",
        "agent_assistant",
        "skill_assistant",
    ]


@pytest.mark.parametrize(
    ("kind", "is_assistant"),
    [
        (T.PM, False),
        (T.SPECIALIST, False),
        (T.ASSISTANT, True),
        (T.AGENT_ASSISTANT, True),
        (T.SKILL_ASSISTANT, True),
    ],
)
def test_only_assistant_kinds_may_run_without_project_or_character(
    kind: SessionType, is_assistant: bool
) -> None:
    assert kind.is_assistant is is_assistant
    assert kind.needs_project is not is_assistant
    assert kind.needs_character is not is_assistant


def test_message_roles_match_the_database_enum() -> None:
    assert [str(role) for role in MessageRole] == ["user", "assistant", "system", "tool_result"]


def test_kanban_stages_are_the_four_board_columns() -> None:
    assert [str(stage) for stage in KanbanStage] == ["backlog", "active", "waiting", "done"]


def test_enum_members_are_looked_up_by_their_stored_strings() -> None:
    assert EventType("pm_assigned") is EventType.PM_ASSIGNED
    assert SessionType("skill_assistant") is T.SKILL_ASSISTANT
