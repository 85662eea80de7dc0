"""Files of definition folders: main documents, extra files and the folder re-index."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from kumiai.application.dtos.base import View

# Room for a long prompt plus an avatar data URL in the front matter.
MAX_DOCUMENT_CHARS = 4_000_000
# Base64 grows data by a third, so this admits a file at the store's 10 MiB read cap.
MAX_FILE_CHARS = 14_000_000

FileEncoding = Literal["utf-8", "base64"]


class DocumentView(BaseModel):
    """The raw text of ``agent.md`` or ``SKILL.md`` and where it lives."""

    content: str
    path: str


class DocumentWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(max_length=MAX_DOCUMENT_CHARS)


class FileEntryView(View):
    path: str
    name: str
    size: int
    is_directory: bool
    modified_at: datetime


class FileContent(BaseModel):
    """A file's content: text as is, other bytes as base64 (see ``encoding``)."""

    path: str
    content: str
    size: int = Field(description="Size of the file in bytes.")
    encoding: FileEncoding

    @classmethod
    def of(cls, path: str, data: bytes) -> FileContent:
        try:
            return cls(path=path, content=data.decode("utf-8"), size=len(data), encoding="utf-8")
        except UnicodeDecodeError:
            encoded = base64.b64encode(data).decode("ascii")
            return cls(path=path, content=encoded, size=len(data), encoding="base64")


class FileWrite(BaseModel):
    """New file content: text, or bytes as base64 with ``encoding: "base64"``."""

    model_config = ConfigDict(extra="forbid")

    content: str = Field(max_length=MAX_FILE_CHARS)
    encoding: FileEncoding = "utf-8"

    _data: bytes = PrivateAttr(default=b"")

    @model_validator(mode="after")
    def _decode(self) -> Self:
        if self.encoding == "utf-8":
            self._data = self.content.encode("utf-8")
            return self
        try:
            self._data = base64.b64decode(self.content, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"content is not valid base64: {exc}") from None
        return self

    @property
    def data(self) -> bytes:
        """The bytes to write."""
        return self._data


class SkippedFolder(BaseModel):
    """A folder the re-index left alone, and why (bad front matter, name clash, ...)."""

    slug: str
    reason: str


class SyncCounts(BaseModel):
    """What a re-index changed for one kind of definition."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    skipped: list[SkippedFolder] = Field(default_factory=list)


class ReindexReport(BaseModel):
    skills: SyncCounts
    characters: SyncCounts
