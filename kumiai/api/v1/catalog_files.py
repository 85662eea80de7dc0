"""What the v1 file endpoints of agents, skills and projects share."""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import Query, Response

from kumiai.api.v1.catalog_shapes import MAX_PATH_CHARS
from kumiai.application.dtos.files import FileContent
from kumiai.core.exceptions import UnsupportedMediaTypeError

FilePath = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_PATH_CHARS,
        description="Relative to the folder, `/`-separated; leaving the folder is a 400.",
    ),
]


def text_of(file: FileContent) -> str:
    """A file's text for the client's editor or viewer.

    Binary content is refused (415) instead of being shown as base64 text, which the
    editor would save back over the file.
    """
    if file.encoding != "utf-8":
        raise UnsupportedMediaTypeError(
            f"{file.path} is not a text file", details={"path": file.path}
        )
    return file.content


def inline_file(data: bytes, path: str) -> Response:
    """Raw bytes with the type guessed from the name, for ``<img>``, the PDF viewer and
    downloads; the client names downloaded files itself."""
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return Response(content=data, media_type=media_type, headers={"Content-Disposition": "inline"})
