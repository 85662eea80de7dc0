"""The v1 wire shapes of sessions, messages, queues and attachments (V1_CONTRACT §4.5,
§4.6, §4.10), and how the application's views become them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from kumiai.application.dtos.messages import ChatPage, MessageView
from kumiai.application.dtos.projects import CharacterRef
from kumiai.application.dtos.sessions import AgentRef, SessionContext, SessionView
from kumiai.domain.value_objects import (
    CliBackend,
    KanbanStage,
    MessageRole,
    SessionStatus,
    SessionType,
)

MAX_QUERY_CHARS = 1_000_000
MAX_DESCRIPTION_CHARS = 10_000

# --- sessions ------------------------------------------------------------------------------


class V1Session(BaseModel):
    id: UUID
    session_type: SessionType
    agent_id: str | None = Field(description="The character's slug; null for an assistant.")
    project_id: UUID | None
    task_id: UUID | None = Field(description="The task the session works on; null if none.")
    cli_backend: CliBackend = Field(description="The agent CLI the session runs on.")
    status: SessionStatus
    kanban_stage: str | None = Field(description="``context.kanban_stage``; null is backlog.")
    context: dict[str, Any]
    started_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    instance_id: UUID = Field(description="``id`` again, read by the launch call.")
    role: SessionType = Field(description="``session_type`` again, read by the launch call.")

    @classmethod
    def of(cls, session: SessionView, agents: Mapping[UUID, AgentRef]) -> V1Session:
        agent = agents.get(session.character_id) if session.character_id else None
        stage = session.context.get("kanban_stage")
        return cls(
            id=session.id,
            session_type=session.session_type,
            agent_id=agent.slug if agent else None,
            project_id=session.project_id,
            task_id=session.task_id,
            cli_backend=session.cli_backend,
            status=session.status,
            # The raw value: the board hides stages it does not know, as it always did.
            kanban_stage=stage if isinstance(stage, str) else None,
            context=session.context,
            started_at=session.started_at,
            created_at=session.created_at,
            updated_at=session.updated_at,
            instance_id=session.id,
            role=session.session_type,
        )


class CreateSession(BaseModel):
    agent_id: CharacterRef | None = None
    project_id: UUID | None = None
    session_type: SessionType = SessionType.SPECIALIST
    task_id: UUID | None = Field(default=None, description="A live task of `project_id`.")
    context: SessionContext | None = None


class LaunchSession(BaseModel):
    """The assistant launch of the Skills and Agents pages; unknown keys are ignored."""

    role: Literal["assistant", "agent_assistant", "skill_assistant"]
    session_description: str = Field(default="", max_length=MAX_DESCRIPTION_CHARS)
    project_path: str = Field(default="", description="Empty: the server picks the folder.")
    project_id: UUID | None = None
    kanban_stage: KanbanStage | None = None
    auto_start: StrictBool = Field(
        default=False, description="Send the description as a first message."
    )


class StageChange(BaseModel):
    stage: KanbanStage


class UserQuery(BaseModel):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    stream: StrictBool = True


class Enqueued(BaseModel):
    message_id: UUID
    run_id: UUID
    queued: bool


class QueueStatus(BaseModel):
    queue_size: int
    is_processing: bool


# --- messages ------------------------------------------------------------------------------

V1Role = Literal["user", "assistant", "tool", "system"]


class ToolResult(BaseModel):
    content: str
    is_error: bool


class V1Message(BaseModel):
    id: UUID
    role: V1Role
    content: str
    timestamp: datetime | None
    agent_id: str | None
    agent_name: str | None
    from_instance_id: UUID | None
    response_id: str | None
    tool_name: str | None = None
    tool_args: dict[str, Any] | None = None
    tool_result: ToolResult | None = None
    tool_error: bool | None = None
    sequence: int


class MessagePage(BaseModel):
    items: list[V1Message]
    next_cursor: str | None
    has_more: bool

    @classmethod
    def of(cls, page: ChatPage) -> MessagePage:
        return cls(
            items=[_message(row, page) for row in page.items],
            next_cursor=page.next_cursor,
            has_more=page.next_cursor is not None,
        )


def _message(row: MessageView, page: ChatPage) -> V1Message:
    if row.role is MessageRole.USER:
        sender = page.senders.get(row.sender_session_id) if row.sender_session_id else None
        return _base(row, "user", sender.slug if sender else None, row.sender_name)
    if row.role is MessageRole.SYSTEM:
        # KumiAI's own notes (a corrective note on a retry): no agent wrote them.
        return _base(row, "system", None, None)
    agent = page.agent
    speaker = (agent.slug if agent else None, agent.name if agent else row.sender_name)
    call = row.metadata.get("tool_use")
    if not isinstance(call, dict):
        return _base(row, "assistant", *speaker)
    answer = page.results.get(row.tool_use_id or "")
    result = ToolResult(content=answer.content, is_error=_is_error(answer)) if answer else None
    return _base(
        row,
        "tool",
        *speaker,
        tool_name=call.get("name"),
        tool_args=call.get("input") if isinstance(call.get("input"), dict) else {},
        tool_result=result,
        tool_error=result.is_error if result else None,
    )


def _base(
    row: MessageView, role: V1Role, agent_id: str | None, name: str | None, **tool: Any
) -> V1Message:
    return V1Message(
        id=row.id,
        role=role,
        content=row.content,
        timestamp=row.created_at,
        agent_id=agent_id,
        agent_name=name,
        # Only a message routed from another session names its origin.
        from_instance_id=row.sender_session_id if role == "user" else None,
        response_id=row.response_id,
        sequence=row.sequence,
        **tool,
    )


def _is_error(result: MessageView) -> bool:
    return result.metadata.get("is_error") is True


# --- attachments and files -----------------------------------------------------------------


class _FromService(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PreparedFile(_FromService):
    id: str = Field(description="URL-safe.")
    name: str = Field(description="The original file name, unchanged.")
    size: int
    type: str = Field(validation_alias="media_type", description="MIME type.")
    expires_at: datetime


class CommittedFile(_FromService):
    id: str
    name: str
    path: str = Field(description="Absolute; also the `file_path` of the file endpoints.")
    size: int
    type: str = Field(validation_alias="media_type", description="MIME type.")


class FileError(_FromService):
    name: str
    error: str


class Prepared(_FromService):
    prepared: list[PreparedFile]
    errors: list[FileError]


class Committed(_FromService):
    committed: list[CommittedFile]
    errors: list[FileError]


class CommitFiles(BaseModel):
    file_ids: list[str] = Field(max_length=100)


class FileContent(_FromService):
    content: str
    path: str
    readonly: bool


class FileWrite(BaseModel):
    file_path: str = Field(min_length=1, max_length=4096)
    content: str
