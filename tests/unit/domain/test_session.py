"""The Session entity: creation rules, business methods over the state machine, context."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from itertools import product
from uuid import UUID, uuid4

import pytest

from kumiai.core.exceptions import ConflictError, InvalidTransitionError, ValidationError
from kumiai.domain.entities import Session
from kumiai.domain.value_objects import KanbanStage, SessionStatus, SessionType

S = SessionStatus
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
LIVE = {S.INITIALIZING, S.IDLE, S.THINKING, S.WORKING, S.WAITING}

# Each business method: how to call it, the statuses it may start from, where it leads.
BUSINESS_METHODS: dict[str, tuple[Callable[[Session], None], set[SessionStatus], SessionStatus]] = {
    "mark_ready": (Session.mark_ready, {S.INITIALIZING}, S.IDLE),
    "start": (lambda s: s.start(NOW), {S.IDLE, S.WAITING}, S.THINKING),
    "begin_tool": (Session.begin_tool, {S.THINKING}, S.WORKING),
    "end_tool": (Session.end_tool, {S.WORKING}, S.THINKING),
    "wait": (Session.wait, {S.THINKING, S.WORKING}, S.WAITING),
    "finish_turn": (Session.finish_turn, {S.THINKING, S.WORKING, S.WAITING}, S.IDLE),
    "complete": (Session.complete, {S.IDLE}, S.COMPLETED),
    "fail": (lambda s: s.fail("boom"), LIVE, S.ERROR),
    "cancel": (Session.cancel, LIVE, S.CANCELLED),
    "resume": (Session.resume, {S.COMPLETED, S.ERROR, S.CANCELLED}, S.IDLE),
}


def session_in(status: SessionStatus, **fields: object) -> Session:
    return Session(session_type=SessionType.ASSISTANT, status=status, **fields)  # type: ignore[arg-type]


# --- creation --------------------------------------------------------------------------------


def test_new_session_starts_initializing_with_a_copy_of_its_context() -> None:
    context = {"description": "Fix the login bug"}
    project_id, character_id = uuid4(), uuid4()

    session = Session.create(SessionType.SPECIALIST, character_id, project_id, context)

    assert session.status is S.INITIALIZING
    assert session.character_id == character_id
    assert session.project_id == project_id
    assert session.context == context
    assert session.context is not context
    assert isinstance(session.id, UUID)
    assert session.next_sequence == 0
    assert session.started_at is None
    assert session.error_message is None


@pytest.mark.parametrize("kind", [SessionType.PM, SessionType.SPECIALIST])
def test_pm_and_specialist_sessions_need_a_project(kind: SessionType) -> None:
    with pytest.raises(ValidationError) as caught:
        Session.create(kind, character_id=uuid4(), project_id=None)

    assert caught.value.details["field"] == "project_id"


@pytest.mark.parametrize("kind", [SessionType.PM, SessionType.SPECIALIST])
def test_pm_and_specialist_sessions_need_a_character(kind: SessionType) -> None:
    with pytest.raises(ValidationError) as caught:
        Session.create(kind, character_id=None, project_id=uuid4())

    assert caught.value.details["field"] == "character_id"


@pytest.mark.parametrize(
    "kind", [SessionType.ASSISTANT, SessionType.AGENT_ASSISTANT, SessionType.SKILL_ASSISTANT]
)
def test_assistant_sessions_may_have_neither_project_nor_character(kind: SessionType) -> None:
    session = Session.create(kind)

    assert session.character_id is None
    assert session.project_id is None
    assert session.context == {}


def test_assistant_session_may_act_as_a_character_in_a_project() -> None:
    character_id, project_id = uuid4(), uuid4()

    session = Session.create(SessionType.ASSISTANT, character_id, project_id)

    assert (session.character_id, session.project_id) == (character_id, project_id)


# --- business methods, every source status ---------------------------------------------------


@pytest.mark.parametrize(("method", "source"), list(product(BUSINESS_METHODS, SessionStatus)))
def test_business_method_moves_only_from_its_legal_sources(
    method: str, source: SessionStatus
) -> None:
    call, legal_sources, target = BUSINESS_METHODS[method]
    session = session_in(source)

    if source in legal_sources:
        call(session)
        assert session.status is target
    else:
        with pytest.raises(InvalidTransitionError):
            call(session)
        assert session.status is source


@pytest.mark.parametrize(
    ("source", "target"),
    [(s, t) for s, t in product(SessionStatus, repeat=2) if s.can_move_to(t)],
)
def test_every_allowed_move_is_reachable_through_a_business_method(
    source: SessionStatus, target: SessionStatus
) -> None:
    assert any(
        source in sources and reached is target for _, sources, reached in BUSINESS_METHODS.values()
    )


def test_business_methods_never_go_beyond_the_table() -> None:
    for _, sources, target in BUSINESS_METHODS.values():
        assert all(source.can_move_to(target) for source in sources)


def test_a_new_session_can_be_marked_ready() -> None:
    session = Session.create(SessionType.ASSISTANT)

    session.mark_ready()

    assert session.status is S.IDLE


def test_thinking_session_can_begin_a_tool() -> None:
    session = session_in(S.THINKING)

    session.begin_tool()

    assert session.status is S.WORKING


def test_a_full_turn_with_a_tool_call_returns_to_idle() -> None:
    session = Session.create(SessionType.ASSISTANT)

    session.mark_ready()
    session.start(NOW)
    session.begin_tool()
    session.end_tool()
    session.wait()
    session.start()
    session.finish_turn()

    assert session.status is S.IDLE


def test_first_start_records_the_start_time() -> None:
    session = session_in(S.IDLE)

    session.start(NOW)

    assert session.started_at == NOW


def test_later_starts_keep_the_first_start_time() -> None:
    session = session_in(S.WAITING, started_at=NOW)

    session.start(datetime(2030, 1, 1, tzinfo=UTC))

    assert session.started_at == NOW


def test_start_without_a_time_leaves_started_at_unset() -> None:
    session = session_in(S.IDLE)

    session.start()

    assert session.started_at is None


def test_fail_keeps_the_reason() -> None:
    session = session_in(S.WORKING)

    session.fail("  Claude API returned 529  ")

    assert session.status is S.ERROR
    assert session.error_message == "Claude API returned 529"


def test_fail_with_a_blank_reason_still_records_an_error_message() -> None:
    session = session_in(S.THINKING)

    session.fail(" ")

    assert session.error_message == "unknown error"


def test_resume_clears_the_error_message() -> None:
    session = session_in(S.ERROR, error_message="crashed")

    session.resume()

    assert session.status is S.IDLE
    assert session.error_message is None


def test_a_failed_fail_does_not_overwrite_the_error_message() -> None:
    session = session_in(S.ERROR, error_message="first")

    with pytest.raises(InvalidTransitionError):
        session.fail("second")

    assert session.error_message == "first"


def test_invalid_transition_names_current_status_and_allowed_moves() -> None:
    session = session_in(S.COMPLETED)

    with pytest.raises(InvalidTransitionError) as caught:
        session.start()

    error = caught.value
    assert isinstance(error, ConflictError)
    assert error.code == "invalid_transition"
    assert error.details == {
        "current_status": "completed",
        "requested": "thinking",
        "allowed": ["idle"],
    }


def test_a_method_refused_by_its_narrower_sources_reports_the_table_moves() -> None:
    # initializing -> idle is in the table, but only mark_ready() may take it.
    session = session_in(S.INITIALIZING)

    with pytest.raises(InvalidTransitionError) as caught:
        session.finish_turn()

    assert caught.value.details["allowed"] == ["cancelled", "error", "idle"]


# --- context ---------------------------------------------------------------------------------


def test_kanban_stage_is_unset_by_default() -> None:
    assert session_in(S.IDLE).kanban_stage is None


@pytest.mark.parametrize("stage", list(KanbanStage))
def test_setting_the_kanban_stage_replaces_the_context_dict(stage: KanbanStage) -> None:
    session = session_in(S.IDLE, context={"description": "task"})
    before = session.context

    session.set_kanban_stage(stage)

    assert session.kanban_stage is stage
    assert session.context == {"description": "task", "kanban_stage": str(stage)}
    assert session.context is not before
    assert before == {"description": "task"}


@pytest.mark.parametrize("stored", ["in-progress", 3, ["done"], None])
def test_unknown_stored_kanban_stage_reads_as_unset(stored: object) -> None:
    assert session_in(S.IDLE, context={"kanban_stage": stored}).kanban_stage is None


@pytest.mark.parametrize(
    ("context", "description"),
    [
        ({"description": "Refactor", "task_description": "other"}, "Refactor"),
        ({"task_description": "Write tests"}, "Write tests"),
        ({"description": "  ", "task_description": "Write tests"}, "Write tests"),
        ({"description": 42}, None),
        ({}, None),
    ],
)
def test_description_prefers_description_then_task_description(
    context: dict[str, object], description: str | None
) -> None:
    assert session_in(S.IDLE, context=context).description == description


# --- soft delete -----------------------------------------------------------------------------


def test_soft_delete_marks_the_session_deleted_once() -> None:
    session = session_in(S.IDLE)
    assert not session.is_deleted

    session.soft_delete(NOW)
    session.soft_delete(datetime(2030, 1, 1, tzinfo=UTC))

    assert session.is_deleted
    assert session.deleted_at == NOW


def test_sessions_compare_by_identity() -> None:
    first = session_in(S.IDLE)
    twin = Session(id=first.id, session_type=first.session_type, status=first.status)

    assert first != twin
    assert len({first, twin}) == 2


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (SessionStatus.INITIALIZING, SessionStatus.IDLE),
        (SessionStatus.COMPLETED, SessionStatus.IDLE),
        (SessionStatus.ERROR, SessionStatus.IDLE),
        (SessionStatus.CANCELLED, SessionStatus.IDLE),
        (SessionStatus.IDLE, SessionStatus.IDLE),
        (SessionStatus.THINKING, SessionStatus.THINKING),
    ],
)
def test_reopen_brings_fresh_and_ended_sessions_to_idle_and_leaves_others(
    start: SessionStatus, expected: SessionStatus
) -> None:
    session = Session(session_type=SessionType.ASSISTANT, status=start)
    session.reopen()
    assert session.status is expected
