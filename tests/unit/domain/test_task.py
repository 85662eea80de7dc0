"""The Task entity and its status: validation, partial updates, free moves, auto-start."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import Session, Task
from kumiai.domain.value_objects import SessionType, TaskStatus

NOW = datetime(2026, 3, 9, tzinfo=UTC)


def make(**overrides: object) -> Task:
    return Task.create(project_id=uuid4(), name="Ship the board", **overrides)  # type: ignore[arg-type]


def test_the_statuses_match_the_database_enum_in_order() -> None:
    assert [str(status) for status in TaskStatus] == ["open", "in_progress", "done", "archived"]


def test_a_new_task_is_open_with_its_text_stripped() -> None:
    task = Task.create(project_id=uuid4(), name="  Ship it  ", description="   ")
    assert task.status is TaskStatus.OPEN
    assert task.name == "Ship it"
    assert task.description is None
    assert not task.is_deleted


@pytest.mark.parametrize("name", ["", "   ", "\t\n", "x" * 256])
def test_a_blank_or_long_name_is_refused_naming_the_field(name: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Task.create(project_id=uuid4(), name=name)
    assert raised.value.details["field"] == "name"


def test_a_name_of_exactly_255_characters_is_accepted() -> None:
    assert len(Task.create(project_id=uuid4(), name="x" * 255).name) == 255


@pytest.mark.parametrize("source", list(TaskStatus))
@pytest.mark.parametrize("target", list(TaskStatus))
def test_any_status_may_follow_any_other(source: TaskStatus, target: TaskStatus) -> None:
    task = make()
    task.update(status=source)
    task.update(status=target)
    assert task.status is target


def test_update_changes_only_the_given_fields_and_reports_what_changed() -> None:
    task = make(description="first")
    changed = task.update(status=TaskStatus.DONE, name="Ship the board")
    assert changed == ["status"]
    assert task.description == "first"
    assert task.update(description=None) == ["description"]
    assert task.description is None
    assert task.update() == []


def test_a_refused_update_changes_nothing() -> None:
    task = make(description="keep me")
    with pytest.raises(ValidationError):
        task.update(name=" ", description="new", status=TaskStatus.DONE)
    assert (task.name, task.description, task.status) == (
        "Ship the board",
        "keep me",
        TaskStatus.OPEN,
    )


def test_start_moves_only_an_open_task_to_in_progress() -> None:
    task = make()
    assert task.start() is True
    assert task.status is TaskStatus.IN_PROGRESS
    assert task.start() is False
    for status in (TaskStatus.DONE, TaskStatus.ARCHIVED):
        task.update(status=status)
        assert task.start() is False
        assert task.status is status


def test_soft_delete_keeps_the_first_time() -> None:
    task = make()
    task.soft_delete(NOW)
    task.soft_delete(datetime(2030, 1, 1, tzinfo=UTC))
    assert task.deleted_at == NOW


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("open", TaskStatus.OPEN),
        (" In_Progress ", TaskStatus.IN_PROGRESS),
        ("DONE", TaskStatus.DONE),
    ],
)
def test_parse_accepts_any_letter_case(value: str, expected: TaskStatus) -> None:
    assert TaskStatus.parse(value) is expected


@pytest.mark.parametrize("value", ["", "doing", "in progress", "closed"])
def test_parse_refuses_an_unknown_status_listing_the_allowed_ones(value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        TaskStatus.parse(value, field="new_status")
    assert raised.value.details["field"] == "new_status"
    assert raised.value.details["allowed"] == ["open", "in_progress", "done", "archived"]


def test_a_session_bound_to_a_task_needs_a_project() -> None:
    with pytest.raises(ValidationError) as raised:
        Session.create(SessionType.ASSISTANT, task_id=uuid4())
    assert raised.value.details["field"] == "task_id"
    project_id, task_id = uuid4(), uuid4()
    bound = Session.create(SessionType.ASSISTANT, project_id=project_id, task_id=task_id)
    assert bound.task_id == task_id
