"""Turn a session's persisted messages into a history the Messages API accepts.

The API is strict: every ``tool_use`` must be answered by a ``tool_result`` in the very
next user message, text blocks may not be empty, and the conversation starts with the
user. Persisted rows don't always look like that: a message queued during a tool call
has a sequence between the call and its result, an imported or crashed session may
hold a call that was never answered, and older data may start with an assistant
greeting. This module repairs all of that while keeping every persisted word.

Calls the API ran itself (web search, web fetch) are replayed as the assistant's own
text: their original blocks are not kept, and a ``tool_use`` for a tool the request
does not define would be refused.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence, Set
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from kumiai.domain.entities import Message
from kumiai.domain.repositories import MessageRepository
from kumiai.domain.value_objects import MessageRole

Block = dict[str, Any]
ApiMessage = dict[str, Any]
Estimate = Callable[[ApiMessage], int]

DELIVERED_AFTER = "delivered_after"
SERVER_TOOL = "server_tool"
"""Metadata flag of a tool call the API ran itself (web search, web fetch)."""
CHARS_PER_TOKEN = 4
OPENING_PLACEHOLDER = "(conversation continues)"
TRIMMED_PLACEHOLDER = "(earlier messages were trimmed to fit the context window)"
UNANSWERED_RESULT = "Tool call was not completed."
ELIDED_OUTPUT = "[tool output elided to fit the context window: {chars} characters]"
FIRST_PAGE_ROWS = 200
NEW_ROWS_PAGE = 50
SESSIONS_KEPT = 32
ROW_OVERHEAD_CHARS = 30  # a block's keys, as estimate_tokens counts them


def replay_order(messages: Sequence[Message]) -> list[Message]:
    """Rows in the order the model experienced them.

    A message that waited in the queue reached the model when its turn started, not
    when it was sent; ``metadata["delivered_after"]`` records that point.
    """

    def key(message: Message) -> tuple[float, int]:
        delivered = message.metadata.get(DELIVERED_AFTER)
        position = float(delivered) + 0.5 if isinstance(delivered, int) else float(message.sequence)
        return position, message.sequence

    return sorted(messages, key=key)


def attributed_text(message: Message) -> str:
    """User text as the model sees it: messages from other agents say who sent them."""
    if message.sender_session_id is None and not message.sender_name:
        return message.content
    sender = message.sender_name or "another agent"
    origin = f" (session {message.sender_session_id})" if message.sender_session_id else ""
    return f"[Message from {sender}{origin}]\n{message.content}"


@dataclass
class _Builder:
    turns: list[tuple[str, list[Block]]] = field(default_factory=list)
    pending: dict[str, None] = field(default_factory=dict)
    deferred: list[Block] = field(default_factory=list)
    server_calls: dict[str, str] = field(default_factory=dict)

    def add(self, role: str, block: Block) -> None:
        if self.turns and self.turns[-1][0] == role:
            self.turns[-1][1].append(block)
        else:
            self.turns.append((role, [block]))

    def answer(self, tool_use_id: str, content: str, is_error: bool) -> None:
        self.pending.pop(tool_use_id, None)
        block = {"type": "tool_result", "tool_use_id": tool_use_id, "is_error": is_error}
        block["content"] = content or ("(error)" if is_error else "(no output)")
        self.add("user", block)
        if not self.pending:
            self._flush_deferred()

    def close_pending(self) -> None:
        for tool_use_id in list(self.pending):
            self.answer(tool_use_id, UNANSWERED_RESULT, True)
        self._flush_deferred()

    def _flush_deferred(self) -> None:
        for block in self.deferred:
            self.add("user", block)
        self.deferred.clear()


def to_api_messages(messages: Sequence[Message]) -> list[ApiMessage]:
    """The Anthropic ``messages`` list for the given rows (all of one session)."""
    builder = _Builder()
    for message in replay_order(messages):
        _add_row(builder, message)
    builder.close_pending()
    return _finalise(builder.turns)


def _add_row(builder: _Builder, message: Message) -> None:
    if message.role == MessageRole.USER:
        _add_user_text(builder, attributed_text(message))
    elif message.is_tool_use and message.metadata.get(SERVER_TOOL) is True:
        _add_server_call(builder, message)
    elif message.is_tool_result and message.tool_use_id in builder.server_calls:
        _add_server_result(builder, message)
    elif message.role == MessageRole.ASSISTANT and message.is_tool_use:
        _add_tool_use(builder, message)
    elif message.role == MessageRole.ASSISTANT and message.content.strip():
        builder.close_pending()
        builder.add("assistant", {"type": "text", "text": message.content})
    elif message.role == MessageRole.TOOL_RESULT and message.tool_use_id in builder.pending:
        builder.answer(message.tool_use_id, message.content, message.is_error)
    # System rows are display-only, and a result whose call is unknown cannot be replayed.


def _add_user_text(builder: _Builder, text: str) -> None:
    if not text.strip():
        return
    block = {"type": "text", "text": text}
    if builder.pending:
        builder.deferred.append(block)
    else:
        builder.add("user", block)


def _add_tool_use(builder: _Builder, message: Message) -> None:
    tool_use_id = message.tool_use_id or ""
    if builder.pending and builder.turns and builder.turns[-1][0] != "assistant":
        builder.close_pending()
    builder.add(
        "assistant",
        {
            "type": "tool_use",
            "id": tool_use_id,
            "name": message.tool_name or "unknown",
            "input": message.tool_input or {},
        },
    )
    builder.pending[tool_use_id] = None


def _add_server_call(builder: _Builder, message: Message) -> None:
    name = message.tool_name or "server tool"
    builder.server_calls[message.tool_use_id or ""] = name
    builder.close_pending()
    arguments = json.dumps(message.tool_input or {}, ensure_ascii=False)
    builder.add("assistant", {"type": "text", "text": f"[{name} {arguments}]"})


def _add_server_result(builder: _Builder, message: Message) -> None:
    name = builder.server_calls[message.tool_use_id or ""]
    heading = f"[{name} failed]" if message.is_error else f"[{name} result]"
    text = f"{heading}\n{message.content}" if message.content.strip() else heading
    builder.add("assistant", {"type": "text", "text": text})


def _finalise(turns: list[tuple[str, list[Block]]]) -> list[ApiMessage]:
    result: list[ApiMessage] = []
    call_order: dict[str, int] = {}
    for role, blocks in turns:
        result.append({"role": role, "content": _results_first(blocks, call_order)})
        call_order = {
            block["id"]: index for index, block in enumerate(blocks) if block["type"] == "tool_use"
        }
    if result and result[0]["role"] != "user":
        result.insert(0, _user_text(OPENING_PLACEHOLDER))
    return result


def _results_first(blocks: list[Block], call_order: dict[str, int] | None = None) -> list[Block]:
    """Tool results first (the API requires it), in the order the calls were made."""
    order = call_order or {}

    def key(block: Block) -> tuple[bool, int]:
        if block["type"] != "tool_result":
            return True, 0
        return False, order.get(block["tool_use_id"], len(order))

    return sorted(blocks, key=key)


def _user_text(text: str) -> ApiMessage:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def estimate_tokens(message: ApiMessage) -> int:
    """A rough size, for callers without a calibrated estimate."""
    return max(1, len(repr(message["content"])) // CHARS_PER_TOKEN)


def fit_to_budget(
    messages: list[ApiMessage],
    budget_tokens: int,
    estimate: Estimate = estimate_tokens,
    *,
    keep_last: int = 2,
) -> list[ApiMessage]:
    """Shrink a conversation to ``budget_tokens``: old tool outputs go first (they are
    most of a long session and the model has acted on them), then the oldest exchanges."""
    elided = elide_tool_outputs(messages, budget_tokens, estimate, keep_last=keep_last)
    return trim_to_budget(elided, budget_tokens, estimate)


def elide_tool_outputs(
    messages: list[ApiMessage],
    budget_tokens: int,
    estimate: Estimate = estimate_tokens,
    *,
    keep_last: int = 2,
) -> list[ApiMessage]:
    """Replace the oldest tool outputs by a short note until the messages fit.

    The newest ``keep_last`` messages stay whole: the model must see what its latest
    calls returned. The call/result pairing is untouched.
    """
    sizes = [estimate(message) for message in messages]
    total = sum(sizes)
    result = list(messages)
    for index in range(max(0, len(result) - keep_last)):
        if total <= budget_tokens:
            break
        elided = _without_tool_outputs(result[index])
        if elided is not None:
            size = estimate(elided)
            total += size - sizes[index]
            result[index] = elided
    return result


def _without_tool_outputs(message: ApiMessage) -> ApiMessage | None:
    """The message with its long tool results elided; None if there was nothing to elide."""
    if message["role"] != "user" or isinstance(message["content"], str):
        return None
    blocks, changed = [], False
    for block in message["content"]:
        size = _output_chars(block.get("content")) if block.get("type") == "tool_result" else 0
        if size > len(ELIDED_OUTPUT) + 40:
            blocks.append({**block, "content": ELIDED_OUTPUT.format(chars=size)})
            changed = True
        else:
            blocks.append(block)
    return {**message, "content": blocks} if changed else None


def _output_chars(content: object) -> int:
    if isinstance(content, str):
        return len(content)
    return len(repr(content)) if content else 0


def trim_to_budget(
    messages: list[ApiMessage], budget_tokens: int, estimate: Estimate = estimate_tokens
) -> list[ApiMessage]:
    """Drop the oldest messages until the rest fits, cutting only between whole turns.

    A cut may only land on a user message that carries no tool results, so no call is
    ever separated from its answer. When even the newest exchange is too big, the cut
    lands on the last such message: the newest exchange is always kept.
    """
    sizes = [estimate(message) for message in messages]
    if sum(sizes) <= budget_tokens:
        return messages
    return _cut(messages, sizes, budget_tokens, earliest=1)


def _cut(
    messages: list[ApiMessage], sizes: list[int], budget_tokens: int, *, earliest: int
) -> list[ApiMessage]:
    """``messages`` from the first clean start at or after ``earliest`` whose rest fits
    (else the last clean start), opened by the trimmed note; unchanged without one."""
    remaining = sum(sizes[earliest:])
    cut = None
    for index in range(earliest, len(messages)):
        if index > earliest:
            remaining -= sizes[index - 1]
        if _is_clean_start(messages[index]):
            cut = index
            if remaining <= budget_tokens:
                break
    if cut is None:
        return messages
    first, *rest = messages[cut:]
    note = {"type": "text", "text": TRIMMED_PLACEHOLDER}
    return [{"role": "user", "content": [note, *_content_blocks(first["content"])]}, *rest]


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
                else _cut(messages, sizes, budget_tokens, earliest=1)
            )
        elif total <= budget_tokens:
            return None
        else:
            # The whole history's trim passes over everything before (more than the
            # budget follows) and then runs exactly like this one.
            result = _cut(messages, sizes, budget_tokens, earliest=0)
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
        # now and with any rows to come, cuts there or later.
        following = 0
        for index in range(len(self.head) - 1, 0, -1):
            following += self.head_sizes[index]
            if following > budget_tokens and _is_clean_start(self.head[index]):
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

    builder = _Builder()
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
        _add_row(builder, message)


def _resets(message: Message) -> bool:
    """Rows replayed by first answering every open call (see ``_add_row``)."""
    if message.is_tool_use:
        return message.metadata.get(SERVER_TOOL) is True
    return message.role == MessageRole.ASSISTANT and bool(message.content.strip())


def _is_clean_start(message: ApiMessage) -> bool:
    return message["role"] == "user" and all(
        block["type"] != "tool_result" for block in _content_blocks(message["content"])
    )


def _content_blocks(content: str | list[Block]) -> list[Block]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


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
