"""A session's files: staging and committing chat attachments, and the files the viewer
opens in the session's working folder.

Attachments are committed into ``.sessions/<session id>/attachments`` of the working
folder, so the agent's file tools and the viewer reach them with the same path.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from datetime import timedelta
from pathlib import PurePosixPath
from uuid import UUID

from kumiai.application.dtos.session_files import (
    Attachment,
    CommitOutcome,
    FileDownload,
    FileProblem,
    FileText,
    PreparedUpload,
    PrepareOutcome,
    Upload,
)
from kumiai.application.ports.files import ProjectFiles
from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.application.ports.uploads import StagedUpload, UploadStore
from kumiai.application.services.common import project_of, require_session, utcnow
from kumiai.application.services.working_directories import WorkingDirectories

STAGED_FOR = timedelta(hours=24)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_MEDIA_TYPE = "application/octet-stream"
# The client writes "FILE_ATTACHMENT::<name>::<size>::<path>" lines into the message, so
# these would break the attachment block it parses back out.
_BLOCK_BREAKERS = ("::", "\n", "\r")
_NOT_PLAIN = ("/", "\\", "\x00")


class SessionFileService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        uploads: UploadStore,
        files: ProjectFiles,
        directories: WorkingDirectories,
        *,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
    ) -> None:
        self._uow = uow
        self._uploads = uploads
        self._files = files
        self._directories = directories
        self._max_upload_bytes = max_upload_bytes

    # --- attachments ------------------------------------------------------------------

    async def prepare(self, session_id: UUID, uploads: Sequence[Upload]) -> PrepareOutcome:
        """Stage each acceptable file; refused files are reported, not raised."""
        await self._require_session(session_id)
        self._uploads.discard_staged_before(session_id, utcnow() - STAGED_FOR)
        outcome = PrepareOutcome(prepared=[], errors=[])
        for upload in uploads:
            problem = self._problem_with(upload)
            if problem is not None:
                outcome.errors.append(FileProblem(name=upload.name, error=problem))
                continue
            staged = self._uploads.stage(session_id, upload.name, upload.data)
            outcome.prepared.append(_prepared(staged))
        return outcome

    async def discard(self, session_id: UUID, upload_ids: Sequence[str]) -> None:
        await self._require_session(session_id)
        for upload_id in upload_ids:
            self._uploads.discard(session_id, upload_id)

    async def commit(self, session_id: UUID, upload_ids: Sequence[str]) -> CommitOutcome:
        """Move staged uploads into the working folder; unknown or expired ids are errors."""
        root = await self._working_dir(session_id)
        cutoff = utcnow() - STAGED_FOR
        folder = _attachments_folder(session_id)
        outcome = CommitOutcome(committed=[], errors=[])
        for upload_id in upload_ids:
            staged = self._uploads.get(session_id, upload_id)
            if staged is None or staged.staged_at < cutoff:
                outcome.errors.append(
                    FileProblem(name=upload_id, error="the upload expired; attach the file again")
                )
                continue
            filed = self._uploads.file_into(session_id, upload_id, root, folder)
            outcome.committed.append(
                Attachment(
                    id=upload_id,
                    name=filed.name,
                    path=filed.path,
                    size=filed.size,
                    media_type=_media_type(filed.name),
                )
            )
        return outcome

    def _problem_with(self, upload: Upload) -> str | None:
        name = upload.name
        if not name.strip():
            return "the file has no name"
        if any(breaker in name for breaker in _BLOCK_BREAKERS):
            return "file names must not contain '::' or line breaks"
        if any(part in name for part in _NOT_PLAIN) or name in {".", ".."}:
            return "not a plain file name"
        if not upload.data:
            return "the file is empty"
        if len(upload.data) > self._max_upload_bytes:
            return f"the file is larger than {self._max_upload_bytes // (1024 * 1024)} MB"
        return None

    # --- files of the working folder --------------------------------------------------

    async def read_text(self, session_id: UUID, file_path: str) -> FileText:
        data = self._files.read_file(await self._working_dir(session_id), file_path)
        # The viewer shows text; undecodable bytes become U+FFFD instead of failing.
        return FileText(
            content=data.decode("utf-8", errors="replace"), path=file_path, readonly=False
        )

    async def write_text(self, session_id: UUID, file_path: str, content: str) -> None:
        self._files.write_file(await self._working_dir(session_id), file_path, content.encode())

    async def delete(self, session_id: UUID, file_path: str) -> None:
        self._files.delete_file(await self._working_dir(session_id), file_path)

    async def download(self, session_id: UUID, file_path: str) -> FileDownload:
        path = self._uploads.locate(await self._working_dir(session_id), file_path)
        name = PurePosixPath(path).name
        return FileDownload(path=path, name=name, media_type=_media_type(name))

    async def _require_session(self, session_id: UUID) -> None:
        async with self._uow(read_only=True) as uow:
            await require_session(uow, session_id)

    async def _working_dir(self, session_id: UUID) -> str:
        """The folder the session's agent works in; 404 for an unknown session."""
        async with self._uow(read_only=True) as uow:
            session = await require_session(uow, session_id)
            return self._directories.for_session(session, await project_of(uow, session))


def _attachments_folder(session_id: UUID) -> str:
    return f".sessions/{session_id}/attachments"


def _media_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or DEFAULT_MEDIA_TYPE


def _prepared(staged: StagedUpload) -> PreparedUpload:
    return PreparedUpload(
        id=staged.id,
        name=staged.name,
        size=staged.size,
        media_type=_media_type(staged.name),
        expires_at=staged.staged_at + STAGED_FOR,
    )
