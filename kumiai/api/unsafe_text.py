"""One check, for every endpoint, against text that PostgreSQL and the filesystem refuse.

A NUL character cannot be stored in a PostgreSQL ``text`` or ``jsonb`` value nor used in a
file name, and a lone UTF-16 surrogate (``"\\ud800"`` in JSON) cannot be encoded as UTF-8
at all. Both arrive through ordinary JSON escapes, query strings and path segments, and
used to surface as 500s deep inside a repository. This app-wide dependency rejects them
up front with a 422 that names the field.

It reads what FastAPI has already parsed: ``Request.json()`` and ``Request.form()`` are
cached by Starlette, so the body is not decoded a second time.
"""

from __future__ import annotations

import email.message
import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Form
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile

# Python's json module joins valid surrogate pairs into one character, so any surrogate
# code point left in a decoded string is unpaired.
UNSAFE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
UNSAFE_MESSAGE = "must not contain NUL characters or unpaired UTF-16 surrogates"

Location = tuple[str | int, ...]


def _printable(text: str) -> str:
    """A key or value as it may be echoed back: a response cannot encode a lone surrogate."""
    return UNSAFE_CHARACTERS.sub("\ufffd", text)


def unsafe_location(value: Any, location: Location) -> Location | None:
    """Where in a decoded JSON value the first unsafe string (a value or a key) sits."""
    if isinstance(value, str):
        return location if UNSAFE_CHARACTERS.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = (*location, _printable(str(key)))
            if isinstance(key, str) and UNSAFE_CHARACTERS.search(key):
                return inner
            found = unsafe_location(item, inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unsafe_location(item, (*location, index))
            if found is not None:
                return found
    return None


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type")
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def _body_location(request: Request) -> Location | None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return None
    if isinstance(route.body_field.field_info, Form):
        form = await request.form()
        for name, item in form.multi_items():
            text = (item.filename or "") if isinstance(item, UploadFile) else item
            if UNSAFE_CHARACTERS.search(name) or UNSAFE_CHARACTERS.search(text):
                return ("body", _printable(name))
        return None
    if not _is_json(request) or not await request.body():
        return None
    return unsafe_location(await request.json(), ("body",))


def _parameter_location(request: Request) -> Location | None:
    for name, value in request.query_params.multi_items():
        if UNSAFE_CHARACTERS.search(name) or UNSAFE_CHARACTERS.search(value):
            return ("query", _printable(name))
    for name, value in request.path_params.items():
        if isinstance(value, str) and UNSAFE_CHARACTERS.search(value):
            return ("path", name)
    return None


async def reject_unsafe_text(request: Request) -> None:
    """App-wide dependency: a 422 naming the first field that holds unsafe text."""
    location = _parameter_location(request) or await _body_location(request)
    if location is not None:
        raise RequestValidationError(
            [{"type": "unsafe_text", "loc": location, "msg": UNSAFE_MESSAGE, "input": None}]
        )
