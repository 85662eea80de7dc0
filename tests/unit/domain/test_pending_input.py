"""A pending input: checked like a user message when accepted, the same message later."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import PendingInput
from kumiai.domain.entities.pending_input import PREVIEW_CHARS
from kumiai.domain.value_objects import MessageRole, PendingInputState


def test_blank_input_is_refused_when_accepted_not_when_its_turn_starts() -> None:
    with pytest.raises(ValidationError) as raised:
        PendingInput.accept(uuid4(), "   ")
    assert raised.value.details == {"field": "content"}


def test_the_transcript_message_keeps_the_id_sender_and_metadata() -> None:
    session_id, sender = uuid4(), uuid4()
    item = PendingInput.accept(session_id, "report back", sender, "Pat", {"queued": True})
    message = item.to_message()
    assert message.id == item.id
    assert (message.session_id, message.role, message.content) == (
        session_id,
        MessageRole.USER,
        "report back",
    )
    assert (message.sender_session_id, message.sender_name) == (sender, "Pat")
    assert message.metadata == {"queued": True}
    assert message.metadata is not item.metadata


def test_dropping_records_why_and_when() -> None:
    item = PendingInput.accept(uuid4(), "never mind")
    now = datetime(2026, 11, 29, tzinfo=UTC)
    item.drop("cleared by interrupt", now)
    assert (item.state, item.drop_reason, item.dropped_at) == (
        PendingInputState.DROPPED,
        "cleared by interrupt",
        now,
    )


def test_the_preview_is_the_start_of_the_content() -> None:
    item = PendingInput.accept(uuid4(), "x" * (PREVIEW_CHARS + 10))
    assert item.preview == "x" * PREVIEW_CHARS
