"""The OpenAPI document, completed with the errors every operation really answers.

Endpoints declare the errors that depend on what they do (``responses=errors(404, 409)``).
The ones that follow from the app's plumbing are added here, once, for every operation:

- 404 when its path names a resource (``/projects/{project_id}``);
- 400 when it works on files (``/files``, ``/docs/``): a path that leaves its folder
  or a name too long for the filesystem is ``path_not_allowed``;
- 422 when it takes parameters or a body (validation, unsafe text);
- 413 and 415 when it takes a body (the request guard's size and media-type checks);
- 503 everywhere (the database may be down).

Error bodies have the shape of the caller's API version (see ``middleware.errors``):
``{"detail": "..."}`` under ``/api/v1``, the error envelope elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from kumiai.api.v2.responses import DESCRIPTIONS

ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"
V1_ERROR_REF = "#/components/schemas/V1Error"
# FastAPI's default 422 schema, replaced by our own shapes.
FASTAPI_VALIDATION_REF = "#/components/schemas/HTTPValidationError"

V1_ERROR_SCHEMA = {
    "title": "V1Error",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string", "title": "Detail"}},
}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _implied_statuses(path: str, operation: dict[str, Any]) -> list[int]:
    statuses = [503]
    if "/files" in path or "/docs/" in path:
        statuses.append(400)
    parameters = operation.get("parameters", [])
    if any(parameter["in"] == "path" for parameter in parameters):
        statuses.append(404)
    if parameters or "requestBody" in operation:
        statuses.append(422)
    if "requestBody" in operation:
        statuses += [413, 415]
    return statuses


def _complete_operation(path: str, operation: dict[str, Any]) -> None:
    error_ref = V1_ERROR_REF if path.startswith("/api/v1/") else ENVELOPE_REF
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in _implied_statuses(path, operation):
        responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
    for code, response in responses.items():
        if int(code) < 400:
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None or schema.get("$ref") in (ENVELOPE_REF, FASTAPI_VALIDATION_REF):
            response["content"] = {"application/json": {"schema": {"$ref": error_ref}}}


def complete_document(document: dict[str, Any]) -> dict[str, Any]:
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                _complete_operation(path, item[method])
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["V1Error"] = V1_ERROR_SCHEMA
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document (built once, on first request)."""
    default_openapi: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_document(default_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
