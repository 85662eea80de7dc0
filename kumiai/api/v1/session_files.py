"""v1 session files: chat attachments and the file viewer (V1_CONTRACT §2.9, §4.10).

``file_path`` is relative to the session's working folder or absolute inside it; a
path that leads outside is a 400.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import File, Query, UploadFile, status
from fastapi.responses import FileResponse

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.v1.session_shapes import (
    CommitFiles,
    Committed,
    FileContent,
    FileWrite,
    Prepared,
)
from kumiai.application.dtos.session_files import Upload

router = FlatRouter(prefix="/sessions/{session_id}/files", tags=["v1 session files"])

FilePath = Annotated[str, Query(min_length=1, max_length=4096)]


@router.post("/prepare")
async def prepare_files(
    session_id: UUID, files: Annotated[list[UploadFile], File()], container: ContainerDep
) -> Prepared:
    """Stage uploads; a refused file is listed in ``errors`` (the request still succeeds)."""
    uploads = [Upload(name=file.filename or "", data=await file.read()) for file in files]
    return Prepared.model_validate(await container.session_files.prepare(session_id, uploads))


@router.delete("/prepare", status_code=status.HTTP_204_NO_CONTENT)
async def discard_files(
    session_id: UUID, file_ids: Annotated[list[str], Query()], container: ContainerDep
) -> None:
    await container.session_files.discard(session_id, file_ids)


@router.post("/commit")
async def commit_files(session_id: UUID, body: CommitFiles, container: ContainerDep) -> Committed:
    """Move staged uploads into the session's working folder, where the agent reads them."""
    return Committed.model_validate(await container.session_files.commit(session_id, body.file_ids))


@router.get("/content")
async def read_file(session_id: UUID, file_path: FilePath, container: ContainerDep) -> FileContent:
    return FileContent.model_validate(
        await container.session_files.read_text(session_id, file_path)
    )


@router.put("/content", status_code=status.HTTP_204_NO_CONTENT)
async def write_file(session_id: UUID, body: FileWrite, container: ContainerDep) -> None:
    await container.session_files.write_text(session_id, body.file_path, body.content)


@router.get("/download", response_class=FileResponse)
async def download_file(
    session_id: UUID, file_path: FilePath, container: ContainerDep
) -> FileResponse:
    """The raw bytes, typed and shown inline (thumbnails and the PDF viewer load them)."""
    found = await container.session_files.download(session_id, file_path)
    return FileResponse(
        found.path,
        media_type=found.media_type,
        filename=found.name,
        content_disposition_type="inline",
        headers={"X-Content-Type-Options": "nosniff"},
    )


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def delete_file(session_id: UUID, file_path: FilePath, container: ContainerDep) -> None:
    await container.session_files.delete(session_id, file_path)
