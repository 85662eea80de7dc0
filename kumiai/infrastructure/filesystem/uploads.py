"""Chat attachments on disk, implementing ``kumiai.application.ports.uploads``.

A staged upload is ``<uploads>/<session id>/<upload id>/<original name>``: one folder per
upload keeps the original name intact and lets two uploads share a name. Committing
moves the file into the session's working folder.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from uuid import UUID

from kumiai.application.ports.uploads import FiledUpload, StagedUpload
from kumiai.core.exceptions import NotFoundError, PathNotAllowedError
from kumiai.infrastructure.filesystem.paths import confine

_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


class UploadFolderStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def stage(self, session_id: UUID, name: str, data: bytes) -> StagedUpload:
        upload_id = uuid.uuid4().hex
        folder = self._session_folder(session_id) / upload_id
        target = confine(folder, name)
        folder.mkdir(parents=True)
        try:
            target.write_bytes(data)
        except BaseException:
            # A half-staged upload would be listed by nothing and removed by no one.
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return StagedUpload(id=upload_id, name=name, size=len(data), staged_at=_modified(folder))

    def get(self, session_id: UUID, upload_id: str) -> StagedUpload | None:
        staged = self._staged_file(session_id, upload_id)
        if staged is None:
            return None
        return StagedUpload(
            id=upload_id,
            name=staged.name,
            size=staged.stat().st_size,
            staged_at=_modified(staged.parent),
        )

    def discard(self, session_id: UUID, upload_id: str) -> None:
        if _UPLOAD_ID.match(upload_id):
            shutil.rmtree(self._session_folder(session_id) / upload_id, ignore_errors=True)

    def discard_staged_before(self, session_id: UUID, cutoff: datetime) -> None:
        folder = self._session_folder(session_id)
        if not folder.is_dir():
            return
        for upload in folder.iterdir():
            if upload.is_dir() and _modified(upload) < cutoff:
                shutil.rmtree(upload, ignore_errors=True)

    def file_into(self, session_id: UUID, upload_id: str, root: str, folder: str) -> FiledUpload:
        source = self._staged_file(session_id, upload_id)
        if source is None:
            raise NotFoundError("upload", upload_id)
        target_folder = confine(_absolute(root), folder)
        target_folder.mkdir(parents=True, exist_ok=True)
        target = _claim_free_name(target_folder, source.name)
        size = source.stat().st_size
        shutil.move(source, target)
        shutil.rmtree(source.parent, ignore_errors=True)
        return FiledUpload(name=target.name, path=str(target), size=size)

    def locate(self, root: str, path: str) -> str:
        target = confine(_absolute(root), path, allow_absolute=True)
        if not target.is_file():
            raise NotFoundError("file", path)
        return str(target)

    def _session_folder(self, session_id: UUID) -> Path:
        return self._root / str(session_id)

    def _staged_file(self, session_id: UUID, upload_id: str) -> Path | None:
        if not _UPLOAD_ID.match(upload_id):
            return None
        folder = self._session_folder(session_id) / upload_id
        files = [entry for entry in folder.iterdir() if entry.is_file()] if folder.is_dir() else []
        return files[0] if len(files) == 1 else None


def _absolute(root: str) -> Path:
    path = Path(root)
    # A relative folder would depend on the server's working directory.
    if not path.is_absolute():
        raise PathNotAllowedError(f"working folder must be absolute: {root!r}")
    return path


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _claim_free_name(folder: Path, name: str) -> Path:
    """``name``, else ``stem_1.ext``, ``stem_2.ext``, ...; created empty (exclusively) so a
    concurrent commit of the same name cannot pick it too."""
    pure = PurePosixPath(name)
    candidate, number = folder / name, 0
    while True:
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            number += 1
            candidate = folder / f"{pure.stem}_{number}{pure.suffix}"
            continue
        return candidate
