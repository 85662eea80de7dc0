"""Window: a turn's history read from the session's newest rows only.

Rows are read backwards, a page at a time, until they hold a *clean restart* (a user
turn from which the replay no longer depends on older rows) followed by more than the
budget: trimming from there gives exactly what trimming the whole history would. The
worker keeps each session's window between turns (:class:`SessionHistories`), so a
turn reads only the rows added since the last one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass, field
from uuid import UUID

from kumiai.application.services.runtime.history.budget import (
    CHARS_PER_TOKEN,
    cut,
    estimate_tokens,
    is_clean_start,
)
from kumiai.application.services.runtime.history.replay import (
    DELIVERED_AFTER,
    SERVER_TOOL,
    ApiMessage,
    ReplayBuilder,
    add_row,
    attributed_text,
    interruption_marker,
    replay_order,
    to_api_messages,
)
from kumiai.domain.entities import Message
from kumiai.domain.repositories import MessageRepository
from kumiai.domain.value_objects import MessageRole

FIRST_PAGE_ROWS = 200
NEW_ROWS_PAGE = 50
SESSIONS_KEPT = 32
ROW_OVERHEAD_CHARS = 30  # a block's keys, as estimate_tokens counts them


def trim_window(
    rows: Sequence[Message],
    budget_tokens: int,
    *,
    complete: bool,
    strays: Set[str] = frozenset(),
) -> list[ApiMessage] | None:
    """``trim_to_budget(to_api_messages(history), budget_tokens)`` from the newest rows.

    ``rows`` are the session's latest messages by sequence, all of them when
    ``complete``. The answer is exact, or None when the rows don't prove it yet and
    older ones are needed: the rows must hold a *clean restart* (a user message from
    which the replay no longer depends on anything older, see ``_clean_restarts``),
    and the conversation from there must alone exceed the budget, so that trimming
    the whole history would never keep anything before it. ``strays`` are results
    known to answer no call of the session at all (replay drops them).
    """
    window = HistoryWindow.of(rows, complete=complete, strays=strays)
    return window.trimmed(budget_tokens) if window is not None else None


@dataclass
class HistoryWindow:
    """A session's history from some point on, kept so that new rows are cheap to add.

    ``head`` holds the API messages of older rows, final (``recent[0]`` is a clean
    restart, so nothing after changes them); ``recent`` the newest rows, from that
    restart on, rebuilt with each new row. ``whole`` when ``head`` (or ``recent``)
    starts at the session's first row; otherwise at a clean start no trim of the whole
    history will ever cut before.
    """

    whole: bool
    strays: frozenset[str]
    recent: list[Message]
    head: list[ApiMessage] = field(default_factory=list)
    head_sizes: list[int] = field(default_factory=list)

    @classmethod
    def of(
        cls, rows: Sequence[Message], *, complete: bool, strays: Set[str] = frozenset()
    ) -> HistoryWindow | None:
        """The window of the session's newest ``rows`` (all of them when ``complete``),
        or None when they start inside something older rows would replay differently."""
        if complete:
            return cls(
                True, frozenset({*strays, *_results_without_calls(rows)}), replay_order(rows)
            )
        if not rows:
            return None
        oldest = min(message.sequence for message in rows)
        if any(_delivery_point(message, oldest) < oldest for message in rows):
            return None  # a row replays among older ones
        ordered = replay_order(rows)
        start = next(_clean_restarts(ordered, strays), None)
        return None if start is None else cls(False, frozenset(strays), ordered[start:])

    def trimmed(self, budget_tokens: int) -> list[ApiMessage] | None:
        """The history trimmed to the budget, or None when older rows are needed."""
        tail = to_api_messages(self.recent)
        messages = [*self.head, *tail]
        sizes = [*self.head_sizes, *(estimate_tokens(message) for message in tail)]
        total = sum(sizes)
        if self.whole:
            result = (
                messages
                if total <= budget_tokens
                else cut(messages, sizes, budget_tokens, earliest=1)
            )
        elif total <= budget_tokens:
            return None
        else:
            # The whole history's trim passes over everything before (more than the
            # budget follows) and then runs exactly like this one.
            result = cut(messages, sizes, budget_tokens, earliest=0)
        self._settle(budget_tokens)
        return result

    def add(self, rows: Sequence[Message]) -> bool:
        """Take newer rows in; False when they need older ones (a result for a call
        before the window, a row delivered before it): the window must be read again."""
        combined = replay_order([*self.recent, *rows])
        starts_alone = self.whole and not self.head
        if self.recent and combined[0] is not self.recent[0] and not starts_alone:
            return False
        unknown = _results_without_calls(combined) - self.strays
        if unknown and not starts_alone:
            return False
        self.strays |= unknown
        self.recent = combined
        return True

    def _settle(self, budget_tokens: int) -> None:
        """Move the rows before the last clean restart into ``head``, and drop the head
        messages no trim can keep any more."""
        restart = None
        for restart in _clean_restarts(self.recent, self.strays):  # noqa: B007
            pass
        if restart:
            moved = to_api_messages(self.recent[:restart])
            self.head += moved
            self.head_sizes += [estimate_tokens(message) for message in moved]
            self.recent = self.recent[restart:]
        # A clean start followed by more than the budget in the final head: every trim,
        # now and with any rows to come, cuts there or later. Searched from the front:
        # the head starts at such a start already (or at the session's first row), so a
        # turn walks only the messages its rows pushed past the budget, not the head.
        following = sum(self.head_sizes)
        last_over = 0  # the last message that, with those after it, exceeds the budget
        while (
            last_over + 1 < len(self.head)
            and following - self.head_sizes[last_over] > budget_tokens
        ):
            following -= self.head_sizes[last_over]
            last_over += 1
        for index in range(last_over, 0, -1):
            if is_clean_start(self.head[index]):
                del self.head[:index], self.head_sizes[:index]
                self.whole = False
                return


def _delivery_point(message: Message, default: int) -> int:
    delivered = message.metadata.get(DELIVERED_AFTER)
    return delivered if isinstance(delivered, int) else default


def _clean_restarts(ordered: Sequence[Message], strays: Set[str]) -> Iterator[int]:
    """The indexes from which ``to_api_messages`` of the rows alone equals the tail of
    ``to_api_messages`` of the whole history, whatever came before the rows.

    An assistant text or a web tool call answers every open call (``close_pending``),
    so after one replay is in the same state with or without older rows, as long as
    no later tool result answers a call the rows don't hold. From there, the first user
    text that starts a new turn while no call is open is a clean restart, provided no
    result from it on answers a call made before it.
    """
    calls: dict[str, int] = {}
    answered_from: list[int] = []  # per row: where the call a result answers is, or -1
    for index, message in enumerate(ordered):
        if message.is_tool_result and message.tool_use_id not in strays:
            answered_from.append(calls.get(message.tool_use_id or "", -1))
        else:
            if message.is_tool_use:
                calls.setdefault(message.tool_use_id or "", index)
            answered_from.append(index)
    # earliest[i]: the oldest call answered by a result at i or later.
    earliest = list(answered_from)
    for index in range(len(earliest) - 2, -1, -1):
        earliest[index] = min(earliest[index], earliest[index + 1])

    builder = ReplayBuilder()
    synced = False
    for index, message in enumerate(ordered):
        if (
            synced
            and earliest[index] >= index
            and message.role == MessageRole.USER
            and attributed_text(message).strip()
            and not builder.pending
            and builder.turns
            and builder.turns[-1][0] == "assistant"
        ):
            yield index
        # Past a result for an unknown call, replay may differ until the next reset.
        synced = (synced and answered_from[index] >= 0) or _resets(message)
        add_row(builder, message)


def _resets(message: Message) -> bool:
    """Rows replayed by first answering every open call (see ``_add_row``)."""
    if interruption_marker(message) is not None:
        return True
    if message.is_tool_use:
        return message.metadata.get(SERVER_TOOL) is True
    return message.role == MessageRole.ASSISTANT and bool(message.content.strip())


async def recent_history(
    messages: MessageRepository, session_id: UUID, budget_tokens: int
) -> list[ApiMessage]:
    """The session's history trimmed to ``budget_tokens``, reading only its newest rows.

    Exactly ``trim_to_budget(to_api_messages(<every row>), budget_tokens)``.
    """
    return (await _read_window(messages, session_id, budget_tokens))[0]


async def _read_window(
    messages: MessageRepository, session_id: UUID, budget_tokens: int
) -> tuple[list[ApiMessage], HistoryWindow, Message | None]:
    """Rows are read newest first, a page at a time, until a window of them proves the
    trimmed history: about a budget's worth of rows, however long the session."""
    newest_first: list[Message] = []
    chars = 0
    limit = FIRST_PAGE_ROWS
    wanted_chars = budget_tokens * CHARS_PER_TOKEN
    looked_up: set[str] = set()
    strays: set[str] = set()
    while True:
        before = newest_first[-1].sequence if newest_first else None
        page = await messages.newest(session_id, limit=limit, before=before)
        newest_first.extend(page)
        chars += sum(_row_chars(message) for message in page)
        complete = len(page) < limit
        if not complete and chars <= wanted_chars:
            # Enough rows of the size seen so far to pass the budget, and a quarter more.
            per_row = max(1, chars // len(newest_first))
            limit = max(FIRST_PAGE_ROWS, (wanted_chars - chars) // per_row * 5 // 4)
            continue
        rows = newest_first[::-1]
        limit = max(FIRST_PAGE_ROWS, len(newest_first) // 2)
        unknown = set() if complete else _results_without_calls(rows) - looked_up
        if unknown:
            # Results whose calls are older than the rows: a call that exists must be read.
            looked_up |= unknown
            calls = await messages.tool_uses(session_id, sorted(unknown))
            strays |= unknown - {call.tool_use_id for call in calls}
            if calls:
                limit = max(limit, rows[0].sequence - calls[0].sequence + FIRST_PAGE_ROWS)
                continue
        window = HistoryWindow.of(rows, complete=complete, strays=strays)
        trimmed = window.trimmed(budget_tokens) if window is not None else None
        if window is not None and trimmed is not None:
            return trimmed, window, (newest_first[0] if newest_first else None)


class SessionHistories:
    """What the worker already has of its sessions' histories: a turn reads only the
    rows added since the last one (and reads the window again when they need it).

    Rows are only ever appended to a session; the newest row the window saw must still
    be there, unchanged, or the session was cleared and the window is read afresh.
    """

    def __init__(self, sessions: int = SESSIONS_KEPT) -> None:
        self._sessions = sessions
        self._kept: OrderedDict[UUID, _Kept] = OrderedDict()

    async def load(
        self, messages: MessageRepository, session_id: UUID, budget_tokens: int
    ) -> list[ApiMessage]:
        """Exactly ``recent_history(messages, session_id, budget_tokens)``."""
        kept = self._kept.pop(session_id, None)
        if kept is not None and kept.budget == budget_tokens:
            trimmed = await kept.refresh(messages, session_id)
            if trimmed is not None:
                self._keep(session_id, kept)
                return trimmed
        trimmed, window, newest = await _read_window(messages, session_id, budget_tokens)
        self._keep(session_id, _Kept(budget_tokens, window, newest))
        return trimmed

    def extended(
        self, session_id: UUID, budget_tokens: int, message: Message
    ) -> list[ApiMessage] | None:
        """The trimmed history once ``message``, the turn's own, is added to the rows
        :meth:`load` last read, without reading again; None when those rows may not be
        all that came before it (the caller then loads the history).

        For a turn whose message was written after that read, under the session row's
        lock that orders every append (so ``message`` follows the newest row read), or
        just before it (so the read found it)."""
        kept = self._kept.pop(session_id, None)
        if kept is None or kept.budget != budget_tokens:
            return None
        newest = kept.newest
        if newest is None or newest.id != message.id:
            known = newest.sequence if newest is not None else -1
            if message.sequence != known + 1 or not kept.window.add([message]):
                return None
            kept.newest = message
        trimmed = kept.window.trimmed(budget_tokens)
        if trimmed is None:
            return None
        self._keep(session_id, kept)
        return trimmed

    def forget(self, session_id: UUID) -> None:
        """Drop what is kept of the session (a row it holds was changed in place)."""
        self._kept.pop(session_id, None)

    def _keep(self, session_id: UUID, kept: _Kept) -> None:
        self._kept[session_id] = kept
        while len(self._kept) > self._sessions:
            self._kept.popitem(last=False)


@dataclass
class _Kept:
    budget: int
    window: HistoryWindow
    newest: Message | None

    async def refresh(
        self, messages: MessageRepository, session_id: UUID
    ) -> list[ApiMessage] | None:
        """The trimmed history with the rows added since; None to read it afresh."""
        known = self.newest.sequence if self.newest is not None else -1
        newest_first: list[Message] = []
        while not newest_first or newest_first[-1].sequence > known:
            before = newest_first[-1].sequence if newest_first else None
            page = await messages.newest(
                session_id, limit=NEW_ROWS_PAGE, before=before, after=known - 1
            )
            newest_first.extend(page)
            if len(page) < NEW_ROWS_PAGE:
                break
        seen = [message for message in newest_first if message.sequence == known]
        if self.newest is not None and (not seen or seen[0].id != self.newest.id):
            return None  # cleared (and maybe written again) since
        added = [message for message in reversed(newest_first) if message.sequence > known]
        if added and not self.window.add(added):
            return None
        if added:
            self.newest = added[-1]
        return self.window.trimmed(self.budget)


def _results_without_calls(rows: Sequence[Message]) -> set[str]:
    calls = {message.tool_use_id for message in rows if message.is_tool_use}
    return {
        message.tool_use_id
        for message in rows
        if message.is_tool_result and message.tool_use_id and message.tool_use_id not in calls
    }


def _row_chars(message: Message) -> int:
    """About the characters a row adds to the API messages (cheaper than building them)."""
    call = message.tool_input
    return ROW_OVERHEAD_CHARS + len(message.content) + (len(repr(call)) if call else 0)
