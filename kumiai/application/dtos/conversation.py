from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kumiai.application.dtos.base import View
from kumiai.domain.value_objects import PendingInputState


class SendMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=1_000_000)


class SentMessage(BaseModel):
    message_id: UUID = Field(
        description="The message's id; it enters the transcript with this id when its turn starts."
    )
    run_id: UUID = Field(description="The turn that will answer this message.")
    queued: bool = Field(description="True when the message waits behind another turn.")
    answers_tool_use_id: str | None = Field(
        default=None,
        description="Set when the message answered the agent's open AskUserQuestion call: "
        "it became that call's result (``message_id`` is the call's row, ``run_id`` the "
        "turn that goes on) instead of a new message.",
    )


class AnswerQuestions(BaseModel):
    """Answers to the agent's open ``AskUserQuestion`` call."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[str, str | list[str]] = Field(
        min_length=1,
        max_length=4,
        description="By question text: an option's label or the user's own words; a list "
        "of several for a multiSelect question.",
    )


class AnswersTaken(BaseModel):
    session_id: UUID
    tool_use_id: str = Field(description="The AskUserQuestion call the answers settle.")
    message_id: UUID = Field(description="The call's row in the transcript.")
    run_id: UUID = Field(description="The turn that goes on with the answers.")
    answers: dict[str, str] = Field(
        description='As the model gets them: by question text, several choices joined with ", ".'
    )


class QueuedItemView(View):
    message_id: UUID = Field(validation_alias="id")
    run_id: UUID
    content: str
    content_preview: str = Field(validation_alias="preview")
    sender_name: str | None
    sender_session_id: UUID | None
    state: PendingInputState
    drop_reason: str | None
    created_at: datetime | None
    dropped_at: datetime | None


class WaitingReason(StrEnum):
    """Why a session's waiting messages are not being answered yet."""

    SLOT = "slot"
    """Its next turn waits for a slot of its runtime (``runtime``): that runtime's cap of
    turns running at once is reached."""
    RUNNING_TURN = "running_turn"
    """They queue behind the session's running turn."""
    HELD = "held"
    """The queue is held after a cancel: a resume, or a new message, lets it go on."""
    PROJECT_ARCHIVED = "project_archived"
    """The session's project is archived: its queue waits for it to be unarchived."""
    STARTING = "starting"
    """Its next turn is starting now."""


class WaitingView(BaseModel):
    reason: WaitingReason
    runtime: str | None = Field(
        default=None,
        description="With `slot`: the runtime whose slot the next turn waits for (`anthropic`,"
        " `claude-code`, `codex`, `gemini`, `opencode`), or `server` for the server-wide cap.",
    )
    description: str = Field(description="The reason in words, for people.")


class QueueView(BaseModel):
    session_id: UUID
    running: QueuedItemView | None = Field(description="The message whose turn runs now.")
    size: int = Field(description="How many messages wait.")
    paused: bool = Field(
        description="True while the messages wait for the user to act: the session is cancelled"
        " (resume it, or send a message) or its project is archived (unarchive it)."
    )
    messages: list[QueuedItemView] = Field(description="The waiting messages, next first.")
    waiting: WaitingView | None = Field(
        default=None, description="Why the messages wait; null when none does."
    )
    dropped: list[QueuedItemView] = Field(
        description="The newest 50 messages taken off the queue, newest first; never answered."
    )
