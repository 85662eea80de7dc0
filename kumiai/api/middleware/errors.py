"""The one place where exceptions become HTTP responses.

v2 (and everything outside v1) answers with the envelope
``{"error": {"code", "message", "details", "request_id"}}``. The v1 web client shows
the body text of a failed call verbatim, so under ``/api/v1`` the same errors are
rendered as ``{"detail": "<message>"}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_core import to_json
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from kumiai.core import exceptions as errors
from kumiai.core.logging import get_logger

logger = get_logger(__name__)

# Ordered from most to least specific: the first matching class wins.
STATUS_BY_ERROR: tuple[tuple[type[errors.KumiAIError], int], ...] = (
    (errors.PathNotAllowedError, 400),
    (errors.ValidationError, 422),
    (errors.AuthenticationError, 401),
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.PayloadTooLargeError, 413),
    (errors.UnsupportedMediaTypeError, 415),
    (errors.ServiceUnavailableError, 503),
    (errors.ConfigurationError, 500),
)

CODE_BY_HTTP_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "service_unavailable",
}


class ErrorJSONResponse(JSONResponse):
    """JSON rendered in one pass by pydantic's serializer.

    Details may hold UUIDs, datetimes or enums; ``to_json`` writes them directly
    (``str`` for anything it does not know), where ``jsonable_encoder`` plus
    ``json.dumps`` walked the body twice in Python on every error, 404s included.
    """

    def render(self, content: Any) -> bytes:
        return to_json(content, fallback=str)


def status_for(error: errors.KumiAIError) -> int:
    for error_class, status in STATUS_BY_ERROR:
        if isinstance(error, error_class):
            return status
    return 500


def error_response(
    path: str,
    status: int,
    code: str,
    message: str,
    *,
    details: Any = None,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Render an error in the shape the caller's API version expects."""
    if path.startswith("/api/v1/"):
        body: dict[str, Any] = {"detail": message}
    else:
        body = {
            "error": {
                "code": code,
                "message": message,
                "details": details if details is not None else {},
                "request_id": request_id,
            }
        }
    return ErrorJSONResponse(body, status_code=status, headers=headers)


def _path(request: Request) -> str:
    # Not request.url.path: building the URL object costs more than the whole 404.
    path: str = request.scope["path"]
    return path


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def _kumiai_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, errors.KumiAIError)
    status = status_for(error)
    if status >= 500:
        logger.error("request_failed", code=error.code, message=error.message)
    return error_response(
        _path(request),
        status,
        error.code,
        error.message,
        details=error.details,
        request_id=_request_id(request),
    )


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {
            "loc": list(problem.get("loc", ())),
            "msg": problem.get("msg", ""),
            "type": problem.get("type", ""),
        }
        for problem in error.errors()
    ]
    summary = "; ".join(
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in problems[:3]
    )
    return error_response(
        _path(request),
        422,
        "validation_error",
        f"invalid request: {summary}" if summary else "invalid request",
        details={"errors": problems},
        request_id=_request_id(request),
    )


def _allowed_methods(request: Request) -> str:
    """The methods of the resource the path names, as the OpenAPI document lists them.

    Starlette's 405 names only those of one route. The resource is the path template of
    the first route that matches the path ("/agents/search" before "/agents/{id}").
    """
    routes = [route for route in request.app.router.routes if isinstance(route, Route)]
    template = next(
        (
            route.path_format
            for route in routes
            if route.matches(request.scope)[0] is not Match.NONE
        ),
        None,
    )
    methods = {
        method
        for route in routes
        if route.path_format == template
        for method in route.methods or ()
    }
    return ", ".join(sorted(methods))


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    status = error.status_code
    headers = dict(error.headers or {})
    if status == 405:
        headers["Allow"] = _allowed_methods(request)
    if status == 400 and isinstance(error.__cause__, UnicodeDecodeError):
        # FastAPI gives 400 for a JSON body that is not UTF-8 but 422 for one that is not
        # JSON; both are malformed JSON, so both get the 422 of the latter.
        return await _validation_error(request, _malformed_json(error.__cause__))
    code = CODE_BY_HTTP_STATUS.get(status, "http_error")
    message = str(error.detail) if error.detail else code.replace("_", " ")
    return error_response(
        _path(request), status, code, message, request_id=_request_id(request), headers=headers
    )


def _malformed_json(cause: UnicodeDecodeError) -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "type": "json_invalid",
                "loc": ("body", cause.start),
                "msg": "JSON decode error",
                "ctx": {"error": "the body is not UTF-8"},
            }
        ]
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.KumiAIError, _kumiai_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
