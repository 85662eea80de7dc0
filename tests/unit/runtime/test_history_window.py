"""A turn reads only its session's newest rows, and gets exactly the history it would
have got from all of them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from uuid import UUID, uuid4

import pytest

from kumiai.application.services.runtime.history import window as window_module
from kumiai.application.services.runtime.history.budget import TRIMMED_PLACEHOLDER, trim_to_budget
from kumiai.application.services.runtime.history.replay import ApiMessage, to_api_messages
from kumiai.application.services.runtime.history.window import (
    SessionHistories,
    recent_history,
    trim_window,
)
from kumiai.domain.entities import Message
from tests.factories.conversations import messy_session, numbered

SESSION = uuid4()


class ListMessages:
    """The part of the message repository a turn's history read uses, over a list."""

    def __init__(self, rows: list[Message]) -> None:
        self.rows = rows
        self.rows_read = 0

    async def newest(
        self,
        session_id: UUID,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
    ) -> list[Message]:
        below = [
            row
            for row in self.rows
            if (before is None or row.sequence < before) and (after is None or row.sequence > after)
        ]
        page = sorted(below, key=lambda row: row.sequence, reverse=True)[:limit]
        self.rows_read += len(page)
        return page

    async def tool_uses(self, session_id: UUID, tool_use_ids: Sequence[str]) -> list[Message]:
        wanted = set(tool_use_ids)
        calls = [row for row in self.rows if row.is_tool_use and row.tool_use_id in wanted]
        self.rows_read += len(calls)
        return calls


def _whole(rows: list[Message], budget: int) -> list[ApiMessage]:
    return trim_to_budget(to_api_messages(rows), budget)


@pytest.mark.parametrize("seed", range(60))
async def test_the_newest_rows_give_the_same_history_as_the_whole_session(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(window_module, "FIRST_PAGE_ROWS", 1 + seed % 7)  # many small pages
    rows = messy_session(SESSION, seed, turns=120)
    total = sum(len(repr(message["content"])) // 4 for message in to_api_messages(rows))
    for budget in (1, 50, 400, total // 3, total - 10, total + 10):
        repository = ListMessages(rows)

        loaded = await recent_history(repository, SESSION, budget)

        assert loaded == _whole(rows, budget), f"budget {budget}"


@pytest.mark.parametrize("seed", range(12))
def test_any_newest_rows_either_prove_the_history_or_ask_for_older_ones(seed: int) -> None:
    rows = messy_session(SESSION, 1_000 + seed, turns=40)
    for budget in (1, 100, 600):
        whole = _whole(rows, budget)
        for start in range(1, len(rows)):
            window = trim_window(rows[start:], budget, complete=False)
            if window is not None:
                assert window == whole, f"budget {budget}, rows from {start}"


async def test_a_long_session_is_read_only_as_far_back_as_the_budget_reaches() -> None:
    turns = []
    for index in range(5_000):
        turns.append(Message.user(SESSION, f"question {index} " + "word " * 30))
        turns.append(Message.tool_use(SESSION, f"t{index}", "Read", {"file": "a"}, "run"))
        turns.append(Message.tool_result(SESSION, f"t{index}", "output " * 60, False))
        turns.append(Message.assistant_text(SESSION, f"answer {index} " + "word " * 30, "run"))
    rows = numbered(turns)
    repository = ListMessages(rows)
    budget = 20_000  # about 1.5% of the session

    loaded = await recent_history(repository, SESSION, budget)

    assert loaded == _whole(rows, budget)
    assert loaded[0]["content"][0]["text"] == TRIMMED_PLACEHOLDER
    kept = len(loaded) * 2  # each message here holds two rows
    assert repository.rows_read < 2 * kept, (repository.rows_read, kept)


def _chat(exchanges: int) -> list[Message]:
    rows = []
    for index in range(exchanges):
        rows.append(Message.user(SESSION, f"question {index} " + "word " * 30))
        rows.append(Message.assistant_text(SESSION, f"answer {index} " + "word " * 30, "run"))
    return rows


async def test_a_stray_result_does_not_make_a_turn_read_the_whole_session() -> None:
    rows = numbered([*_chat(2_000), Message.tool_result(SESSION, "t-none", "from nowhere", False)])
    repository = ListMessages(rows)

    loaded = await recent_history(repository, SESSION, 5_000)

    assert loaded == _whole(rows, 5_000)
    assert repository.rows_read < len(rows) / 4


async def test_a_late_result_of_an_old_call_is_read_back_to_its_call() -> None:
    call = Message.tool_use(SESSION, "t-old", "Read", {}, "run")
    chat = _chat(2_000)
    late = Message.tool_result(SESSION, "t-old", "late " * 50, False)
    rows = numbered([*chat[:2_000], call, *chat[2_000:], late])
    repository = ListMessages(rows)

    loaded = await recent_history(repository, SESSION, 5_000)

    assert loaded == _whole(rows, 5_000)
    from_the_call = len(rows) - call.sequence
    assert from_the_call < repository.rows_read < from_the_call + 500


async def test_a_short_session_is_read_whole_and_left_untouched() -> None:
    rows = messy_session(SESSION, seed=1, turns=5)
    repository = ListMessages(rows)

    loaded = await recent_history(repository, SESSION, 1_000_000)

    assert loaded == to_api_messages(rows)
    assert repository.rows_read == len(rows)


def test_rows_that_start_inside_an_open_tool_call_are_not_enough() -> None:
    rows = numbered(
        [
            Message.user(SESSION, "go"),
            Message.tool_use(SESSION, "t1", "Read", {}, "run"),
            Message.tool_result(SESSION, "t1", "x" * 400, False),
            Message.user(SESSION, "next " * 100),
        ]
    )

    # From the result on, the rows cannot tell which call it answers.
    assert trim_window(rows[2:], 10, complete=False) is None
    assert trim_window(rows, 10, complete=True) == _whole(rows, 10)


def test_a_row_delivered_among_older_rows_needs_them() -> None:
    late = Message.user(SESSION, "late " * 100)
    late.metadata = {"delivered_after": 1}
    rows = numbered(
        [
            Message.user(SESSION, "a"),
            Message.assistant_text(SESSION, "b", "run"),
            Message.assistant_text(SESSION, "c " * 100, "run"),
            Message.user(SESSION, "d " * 100),
            late,
        ]
    )

    assert trim_window(rows[2:], 10, complete=False) is None


def test_rows_after_a_result_for_an_older_web_call_replay_alike_only_after_a_reset() -> None:
    def server(call_id: str) -> Message:
        call = Message.tool_use(SESSION, call_id, "WebSearch", {"q": "x"}, "run")
        call.metadata = {**call.metadata, "server_tool": True}
        return call

    def call(call_id: str) -> Message:
        return Message.tool_use(SESSION, call_id, "Read", {}, "run")

    def result(call_id: str) -> Message:
        return Message.tool_result(SESSION, call_id, "out", False)

    rows = numbered(
        [
            Message.user(SESSION, "q"),
            server("s1"),
            Message.assistant_text(SESSION, "x", "run"),  # the rows start here
            server("s2"),
            call("t9"),
            call("t10"),
            result("t9"),
            result("s1"),  # replayed as the assistant's text only with the older rows
            call("t11"),  # so only without them does this close t10
            result("t11"),
            result("s2"),
            Message.user(SESSION, "next"),  # ...and only with them is t10 still open here
            Message.assistant_text(SESSION, "answer " * 100, "run"),
        ]
    )

    window = trim_window(rows[2:], 10, complete=False)

    assert window is None or window == _whole(rows, 10)


@pytest.mark.parametrize("seed", range(12))
async def test_a_growing_session_read_only_where_it_grew_gives_the_same_history(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(window_module, "FIRST_PAGE_ROWS", 1 + seed % 5)
    every_row = messy_session(SESSION, 500 + seed, turns=150)
    budget = (50, 300, 2_000)[seed % 3]
    repository = ListMessages([])
    histories = SessionHistories()
    pick = random.Random(seed)
    grown = 0
    while grown < len(every_row):
        grown = min(len(every_row), grown + pick.randint(1, 12))
        repository.rows = every_row[:grown]
        repository.rows_read = 0

        loaded = await histories.load(repository, SESSION, budget)

        assert loaded == _whole(repository.rows, budget), f"{grown} rows"


async def test_a_turn_reads_only_the_rows_added_since_the_last_one() -> None:
    rows = numbered(_chat(2_000))
    repository = ListMessages(rows[:-2])
    histories = SessionHistories()
    await histories.load(repository, SESSION, 5_000)
    repository.rows = rows
    repository.rows_read = 0

    loaded = await histories.load(repository, SESSION, 5_000)

    assert loaded == _whole(rows, 5_000)
    assert repository.rows_read == 3  # the newest row seen before, and the two new ones


async def test_a_session_cleared_and_written_again_is_read_afresh() -> None:
    histories = SessionHistories()
    await histories.load(ListMessages(numbered(_chat(300))), SESSION, 2_000)
    again = numbered([Message.user(SESSION, f"new start {n} " + "word " * 30) for n in range(700)])

    loaded = await histories.load(ListMessages(again), SESSION, 2_000)

    assert loaded == _whole(again, 2_000)


async def test_a_new_row_delivered_among_older_rows_makes_the_window_read_again() -> None:
    rows = numbered(_chat(300))
    repository = ListMessages(list(rows))
    histories = SessionHistories()
    await histories.load(repository, SESSION, 2_000)
    late = Message.user(SESSION, "sent long ago")
    late.metadata = {"delivered_after": len(rows) - 10}
    late.sequence = len(rows)
    repository.rows = [*rows, late]

    loaded = await histories.load(repository, SESSION, 2_000)

    assert loaded == _whole(repository.rows, 2_000)


@pytest.mark.parametrize("seed", range(8))
async def test_a_claimed_message_added_to_the_rows_read_before_gives_the_same_history(
    seed: int,
) -> None:
    every_row = messy_session(SESSION, 900 + seed, turns=60)
    budget = (50, 400)[seed % 2]
    histories = SessionHistories()
    added = 0
    for grown in range(len(every_row) // 2, len(every_row)):
        repository = ListMessages(every_row[:grown])
        await histories.load(repository, SESSION, budget)
        repository.rows_read = 0

        extended = histories.extended(SESSION, budget, every_row[grown])

        # None only where the window must be read again (as load would read it).
        if extended is not None:
            assert extended == _whole(every_row[: grown + 1], budget), f"{grown} rows"
            added += 1
        assert repository.rows_read == 0
    assert added > (len(every_row) - len(every_row) // 2) * 3 // 4


async def test_a_claimed_message_the_read_already_found_is_not_added_twice() -> None:
    rows = numbered(_chat(300))
    histories = SessionHistories()
    await histories.load(ListMessages(rows), SESSION, 2_000)

    extended = histories.extended(SESSION, 2_000, rows[-1])

    assert extended == _whole(rows, 2_000)


async def test_a_claimed_message_after_rows_the_read_missed_is_left_to_a_full_read() -> None:
    rows = numbered(_chat(300))
    histories = SessionHistories()
    await histories.load(ListMessages(rows[:-3]), SESSION, 2_000)

    assert histories.extended(SESSION, 2_000, rows[-1]) is None
    # Nothing is kept of the session any more: the next load reads its window afresh.
    repository = ListMessages(rows)
    assert await histories.load(repository, SESSION, 2_000) == _whole(rows, 2_000)
    assert repository.rows_read > 3


async def test_a_claimed_message_of_a_session_nothing_was_read_of_is_left_to_a_full_read() -> None:
    message = Message.user(SESSION, "hello")
    message.sequence = 0

    assert SessionHistories().extended(SESSION, 2_000, message) is None
