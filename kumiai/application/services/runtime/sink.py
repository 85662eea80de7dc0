"""The sink a turn streams into: each step is persisted, then announced.

Text deltas are published at once and kept in memory; the text of a block still
streaming is written at most once per flush interval (``StreamFlush``), silently, into
one row marked ``partial`` that grows in place, so a crash loses at most that interval
of what the user saw and the round trips of a turn grow with its blocks and seconds,
never its deltas. A block is announced once, when it completes (the same row, no
longer partial). Tool calls and results are persisted (and logged as
``tool_executed``) before their events go out, and the session moves thinking ->
working -> thinking around them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

from kumiai.application.ports.agent_runtime import RetryNotice, ToolCall, ToolOutcome, Usage
from kumiai.application.ports.events import StreamPublisher
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import record_session_activity
from kumiai.application.services.runtime.history.replay import SERVER_TOOL
from kumiai.application.services.runtime.payloads import message_payload
from kumiai.application.services.session_lifecycle import begin_tool, end_tool
from kumiai.core.logging import get_logger
from kumiai.domain.entities import Message, Session
from kumiai.domain.value_objects import EventType, MessageRole

logger = get_logger(__name__)

AfterTool = Callable[[Session, ToolCall, ToolOutcome], Awaitable[None]]

PARTIAL = "partial"
"""Metadata of an assistant row whose text block never finished (yet)."""


# How long a block's first delta may hold its turn back until it is written.
FIRST_WORDS_WAIT_SECONDS = 0.05


@dataclass(frozen=True)
class StreamFlush:
    """How often the text of a streaming block is written while it streams."""

    interval_seconds: float = 1.0
    rewrite_chars_per_second: int = 64_000
    """Each save rewrites the whole block so far: a block longer than this many
    characters is saved less often, so no block rewrites more than this per second."""

    def gap_after(self, saved_chars: int) -> float:
        """Seconds until the next save of a block that holds ``saved_chars`` now."""
        return self.interval_seconds * max(1.0, saved_chars / self.rewrite_chars_per_second)


@dataclass
class StreamingBlock:
    """A text block that has not finished: its pieces, and its row once flushed."""

    started: float
    pieces: list[str] = field(default_factory=list)
    row: Message | None = None
    """The row the streamed text was flushed into (``partial``), once it was."""
    flushed_at: float = 0.0
    gap: float = 0.0
    """Seconds from ``flushed_at`` to the next save."""

    def __post_init__(self) -> None:
        self.flushed_at = self.started

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass
class TurnState:
    """What the sink has seen so far; used to persist partial output on cancel or error."""

    streaming: dict[int, StreamingBlock] = field(default_factory=dict)
    """Each unfinished text block, joined only when flushed or when the turn ends early."""
    last_assistant_id: UUID | None = None
    last_text: str | None = None
    """The turn's last complete text block: its answer."""
    usage: Usage = field(default_factory=Usage)
    open_tools: int = 0


class PersistingSink:
    """Receives the turn from the runtime, persists it and publishes events."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        events: StreamPublisher,
        session: Session,
        run_id: UUID,
        sender_name: str | None,
        *,
        after_tool: AfterTool | None = None,
        flush: StreamFlush | None = None,
    ) -> None:
        self._uow = uow
        self._flush = flush or StreamFlush()
        self._flushing: asyncio.Future[None] | None = None
        self._events = events
        self._session = session
        self._after_tool = after_tool
        self._session_id = session.id
        self._run_id = run_id
        self._run = str(run_id)
        self._sender_name = sender_name
        self.state = TurnState()

    async def text_delta(self, block_index: int, text: str) -> None:
        # The hot path of a turn: one list append, one publish and a clock read; a write
        # started once per flush interval.
        now = time.monotonic()
        block = self.state.streaming.get(block_index)
        first = block is None
        if block is None:
            block = self.state.streaming[block_index] = StreamingBlock(
                now, gap=self._flush.interval_seconds
            )
        block.pieces.append(text)
        self._events.publish(
            self._session_id, "text_delta", run_id=self._run, block_index=block_index, text=text
        )
        if first:
            # A block's first words go out before the rest of a burst that arrived with
            # them is handled: the turn waits (briefly) until they are written, which
            # delivers them to this process's streams, and then lets the streams send.
            await self._events.flush_within(FIRST_WORDS_WAIT_SECONDS)
            await asyncio.sleep(0)
        if now - block.flushed_at >= block.gap and (
            self._flushing is None or self._flushing.done()
        ):
            block.flushed_at = now
            # In the background, one at a time: the stream never waits on the database.
            # A task of its own, so a cancel never leaves it unknown whether the row was
            # written: the block's end and the settle wait for it.
            self._flushing = asyncio.ensure_future(self._save_streaming(block))

    async def _save_streaming(self, block: StreamingBlock) -> None:
        """Write what the block streamed so far, so a crash keeps it; announce nothing."""
        text = block.text
        block.gap = self._flush.gap_after(len(text))
        try:
            async with self._uow() as uow:
                if block.row is None:
                    row = Message.assistant_text(
                        self._session_id, text, self._run, sender_name=self._sender_name
                    )
                    row.metadata = {PARTIAL: True}
                    await uow.messages.append(row)
                else:
                    row = block.row
                    await uow.messages.rewrite_text(row.id, text, partial=True)
                await uow.commit()
        except Exception as error:  # the text is still in memory: the next flush retries
            logger.warning(
                "stream_flush_failed", session_id=str(self._session_id), error=str(error)
            )
            return
        row.content = text
        block.row = row

    async def text_done(self, block_index: int, text: str) -> None:
        block = self.state.streaming.pop(block_index, None)
        self.state.last_text = text
        if block is not None and self._flushing is not None:
            await self._flushing
        if block is None or block.row is None:
            message = Message.assistant_text(
                self._session_id, text, self._run, sender_name=self._sender_name
            )
            await self._append(message, "text_done", block_index=block_index)
            return
        # Flushed while it streamed: the same row, now whole, is announced once.
        row = block.row
        row.content = text
        row.metadata = {key: value for key, value in row.metadata.items() if key != PARTIAL}
        async with self._uow() as uow:
            await uow.messages.rewrite_text(row.id, text, partial=False)
            self._announce(uow, row, "text_done", block_index=block_index)
            await uow.commit()
        self.state.last_assistant_id = row.id

    async def save_unfinished(self, uow: UnitOfWork) -> None:
        """The turn ended early: keep the text of every unfinished block (``partial``),
        in the row it was flushed into, if it was, else in a new one."""
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        for _, block in sorted(self.state.streaming.items()):
            text = block.text
            if block.row is not None:
                await uow.messages.rewrite_text(block.row.id, text, partial=True)
            elif text.strip():
                message = Message.assistant_text(
                    self._session_id, text, self._run, sender_name=self._sender_name
                )
                message.metadata = {PARTIAL: True}
                await uow.messages.append(message)

    async def tool_use(self, call: ToolCall) -> None:
        message = Message.tool_use(
            self._session_id,
            call.id,
            call.name,
            call.input,
            self._run,
            sender_name=self._sender_name,
        )
        if call.server_side:
            # Replayed as text in later turns: the API's own blocks are not kept.
            message.metadata = {**message.metadata, SERVER_TOOL: True}
        await self._append(
            message,
            "tool_use",
            status_move=begin_tool,
            tool_use_id=call.id,
            tool_name=call.name,
            tool_input=call.input,
        )
        self.state.open_tools += 1

    async def tool_result(self, call: ToolCall, outcome: ToolOutcome) -> None:
        self.state.open_tools = max(0, self.state.open_tools - 1)
        message = Message.tool_result(
            self._session_id, call.id, outcome.content, outcome.is_error, self._run
        )
        await self._append(
            message,
            "tool_result",
            status_move=end_tool if self.state.open_tools == 0 else None,
            executed=(call, outcome),
            tool_use_id=call.id,
            content=outcome.content,
            is_error=outcome.is_error,
        )
        if self._after_tool is not None:
            await self._after_tool(self._session, call, outcome)

    async def usage(self, usage: Usage, stop_reason: str | None) -> None:
        self.state.usage = self.state.usage + usage
        data = {"run_id": self._run, "usage": usage_dict(usage), "stop_reason": stop_reason}
        if self.state.last_assistant_id is None:
            self._events.publish(self._session_id, "usage", **data)
            return
        async with self._uow() as uow:
            await uow.messages.merge_metadata(
                self.state.last_assistant_id, {"usage": usage_dict(usage)}
            )
            uow.publish(self._session_id, "usage", **data)
            await uow.commit()

    async def retry(self, notice: RetryNotice) -> None:
        corrective_message = notice.corrective_message
        data = {
            "run_id": self._run,
            "attempt": notice.attempt,
            "max_retries": notice.max_retries,
            "error_type": notice.error_type,
            "corrective_message": corrective_message,
        }
        if corrective_message is None:
            self._events.publish(self._session_id, "retry", **data)
            return
        # The note the model is given stays in the transcript, shown but never replayed.
        note = Message.system(self._session_id, corrective_message)
        async with self._uow() as uow:
            await uow.messages.append(note)
            payload = message_payload(note)
            uow.publish(self._session_id, "message_created", run_id=self._run, message=payload)
            uow.publish(self._session_id, "retry", **data)
            await uow.commit()

    async def _append(
        self,
        message: Message,
        event_type: str,
        *,
        status_move: StatusMove | None = None,
        executed: tuple[ToolCall, ToolOutcome] | None = None,
        **data: Any,
    ) -> None:
        """Persist one row; announce it (``message_created``, then ``event_type``), and
        any status it moves the session to, once it is committed."""
        async with self._uow() as uow:
            await uow.messages.append(message)
            if executed is not None:
                call, outcome = executed
                await record_session_activity(
                    uow,
                    EventType.TOOL_EXECUTED,
                    self._session,
                    tool_name=call.name,
                    tool_use_id=call.id,
                    is_error=outcome.is_error,
                )
            self._announce(uow, message, event_type, **data)
            if status_move is not None:
                await status_move(uow, self._session_id, self._run_id)
            await uow.commit()
        if message.role is MessageRole.ASSISTANT:
            self.state.last_assistant_id = message.id

    def _announce(self, uow: UnitOfWork, message: Message, event_type: str, **data: Any) -> None:
        """``message_created``, then ``event_type``, once the unit of work commits."""
        payload = message_payload(message)
        uow.publish(self._session_id, "message_created", run_id=self._run, message=payload)
        uow.publish(self._session_id, event_type, run_id=self._run, message=payload, **data)


StatusMove = Callable[[UnitOfWork, UUID, UUID], Awaitable[None]]


def usage_dict(usage: Usage) -> dict[str, int]:
    """The token counts by field name, as events and message metadata carry them."""
    return asdict(usage)
