"""Chat attachments and the files of a session's working folder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as the user sent it: the original name and the bytes."""

    name: str
    data: bytes


class FileProblem(BaseModel):
    """Why one file of a batch was refused; the rest of the batch still goes through."""

    name: str
    error: str


class PreparedUpload(BaseModel):
    id: str
    name: str
    size: int
    media_type: str
    expires_at: datetime


class Attachment(BaseModel):
    """A committed upload; ``path`` is absolute, inside the session's working folder."""

    id: str
    name: str
    path: str
    size: int
    media_type: str


class PrepareOutcome(BaseModel):
    prepared: list[PreparedUpload]
    errors: list[FileProblem]


class CommitOutcome(BaseModel):
    committed: list[Attachment]
    errors: list[FileProblem]


class FileText(BaseModel):
    content: str
    path: str
    readonly: bool


@dataclass(frozen=True, slots=True)
class FileDownload:
    """Where a file to send lives, and how to label it."""

    path: str
    name: str
    media_type: str
