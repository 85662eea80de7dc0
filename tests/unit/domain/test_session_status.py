"""The session state machine table, checked pair by pair against SPEC section 4."""

from __future__ import annotations

from itertools import product

import pytest

from kumiai.domain.value_objects import ALLOWED_TRANSITIONS, SessionStatus

S = SessionStatus

# Written out independently of the implementation so a change to the table fails here.
EXPECTED: dict[SessionStatus, set[SessionStatus]] = {
    S.INITIALIZING: {S.IDLE, S.ERROR, S.CANCELLED},
    S.IDLE: {S.THINKING, S.COMPLETED, S.CANCELLED, S.ERROR},
    S.THINKING: {S.WORKING, S.WAITING, S.IDLE, S.ERROR, S.CANCELLED},
    S.WORKING: {S.THINKING, S.WAITING, S.IDLE, S.ERROR, S.CANCELLED},
    S.WAITING: {S.THINKING, S.IDLE, S.CANCELLED, S.ERROR},
    S.COMPLETED: {S.IDLE},
    S.ERROR: {S.IDLE},
    S.CANCELLED: {S.IDLE},
}


def test_statuses_are_the_eight_database_values_in_order() -> None:
    assert [str(status) for status in SessionStatus] == [
        "initializing",
        "idle",
        "thinking",
        "working",
        "waiting",
        "completed",
        "error",
        "cancelled",
    ]


def test_table_has_a_row_for_every_status() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(SessionStatus)


@pytest.mark.parametrize(("current", "target"), list(product(SessionStatus, repeat=2)))
def test_move_is_allowed_exactly_when_the_spec_lists_it(
    current: SessionStatus, target: SessionStatus
) -> None:
    assert current.can_move_to(target) is (target in EXPECTED[current])


@pytest.mark.parametrize("current", list(SessionStatus))
def test_allowed_moves_are_sorted_strings(current: SessionStatus) -> None:
    moves = current.allowed_moves()

    assert moves == sorted(str(status) for status in EXPECTED[current])
    assert all(type(move) is str for move in moves)


def test_no_status_may_move_to_itself() -> None:
    assert not any(status.can_move_to(status) for status in SessionStatus)


def test_table_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        ALLOWED_TRANSITIONS[S.IDLE] = frozenset()  # type: ignore[index]


@pytest.mark.parametrize("status", list(SessionStatus))
def test_running_statuses_are_thinking_working_and_waiting(status: SessionStatus) -> None:
    assert status.is_running is (status in {S.THINKING, S.WORKING, S.WAITING})


@pytest.mark.parametrize("status", list(SessionStatus))
def test_terminal_statuses_are_completed_error_and_cancelled(status: SessionStatus) -> None:
    assert status.is_terminal is (status in {S.COMPLETED, S.ERROR, S.CANCELLED})


def test_terminal_statuses_can_only_be_left_towards_idle() -> None:
    for status in SessionStatus:
        if status.is_terminal:
            assert status.allowed_moves() == ["idle"]
