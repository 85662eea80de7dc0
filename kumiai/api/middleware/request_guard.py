"""Pure-ASGI request guards: request ids, cross-site writes, the API token, body limits,
content types.

They are plain ASGI (not ``BaseHTTPMiddleware``) so long SSE responses stream through
untouched. Anything that escapes the app below becomes an enveloped 500 here, inside
the CORS layer, so even unexpected failures stay readable by the browser.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException

from kumiai.api.middleware.errors import error_response
from kumiai.core.logging import bind_request_context, clear_request_context, get_logger

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = get_logger(__name__)

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
BODY_METHODS = {"POST", "PUT", "PATCH"}
# Methods that change state. A browser sends a bodiless or multipart POST from any web
# page without a CORS preflight, so CORS alone does not stop a foreign page from acting.
STATE_CHANGING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ACCEPTED_CONTENT_TYPES = ("application/json", "multipart/form-data")
OPEN_PATHS = ("/api/health", "/api/v2/health", "/docs", "/openapi.json", "/redoc")


class _BodyTooLarge(HTTPException):
    """An HTTPException so FastAPI's body parser re-raises it instead of a generic 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the {limit} byte limit")


class _BodyTimeout(HTTPException):
    """A client that stops sending before its Content-Length is done (slowloris)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body did not arrive within {seconds:g} seconds")


class RequestGuardMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_timeout: float,
        api_token: str | None,
        allowed_origins: list[str],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.api_token = api_token
        self.allowed_origins = frozenset(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = _request_id(headers)
        scope.setdefault("state", {})["request_id"] = request_id
        clear_request_context()
        bind_request_context(request_id=request_id, method=scope["method"], path=scope["path"])
        rejection = self._reject(scope, headers, request_id)
        if rejection is not None:
            await rejection(scope, receive, send)
            return
        await self._call_app(scope, receive, _with_request_id(send, request_id), request_id)

    def _reject(self, scope: Scope, headers: Headers, request_id: str) -> Any:
        path = scope["path"]
        if scope["method"] in STATE_CHANGING_METHODS and self._cross_site(headers):
            origin = headers.get("origin")
            return error_response(
                path,
                403,
                "cross_site_request",
                f"cross-site request refused: origin '{origin}' is not in KUMIAI_CORS_ORIGINS"
                if origin
                else "cross-site request refused: the browser marked it Sec-Fetch-Site: "
                "cross-site and it carries no allowed Origin",
                details={"origin": origin, "allowed_origins": sorted(self.allowed_origins)},
                request_id=request_id,
            )
        if self.api_token and not _token_ok(scope, headers, self.api_token):
            return error_response(
                path,
                401,
                "unauthorized",
                "missing or wrong API token",
                request_id=request_id,
                headers={"WWW-Authenticate": "Bearer"},
            )
        if scope["method"] not in BODY_METHODS or not _has_body(headers):
            return None
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return _too_large(path, self.max_body_bytes, request_id)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if not _accepted(content_type):
            return error_response(
                path,
                415,
                "unsupported_media_type",
                f"request bodies must be JSON (got '{content_type or 'no content type'}')",
                details={"accepted": list(ACCEPTED_CONTENT_TYPES)},
                request_id=request_id,
            )
        return None

    def _cross_site(self, headers: Headers) -> bool:
        """A browser request from a page whose origin is not allowed.

        An allowed Origin wins over ``Sec-Fetch-Site``: the desktop client on
        ``localhost`` calling ``127.0.0.1`` is "cross-site" to the browser but allowed.
        Requests with neither header (curl, scripts) are not browser requests.
        """
        origin = headers.get("origin")
        if origin is not None:
            return origin not in self.allowed_origins
        return headers.get("sec-fetch-site") == "cross-site"

    async def _call_app(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, self._limited(receive), tracking_send)
        except _BodyTooLarge:
            if not started:
                await _too_large(scope["path"], self.max_body_bytes, request_id)(
                    scope, receive, send
                )
        except Exception:
            logger.exception("unhandled_error")
            if not started:
                response = error_response(
                    scope["path"],
                    500,
                    "internal_error",
                    "internal server error",
                    request_id=request_id,
                )
                await response(scope, receive, send)

    def _limited(self, receive: Receive) -> Receive:
        """Bound the body's size, and the wait for each chunk until the body is complete.

        Once the body is in, later ``receive`` calls only wait for a disconnect (SSE
        streams do for hours), so they are not timed.
        """
        received = 0
        complete = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                raise _BodyTimeout(self.body_timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge(self.max_body_bytes)
                complete = not message.get("more_body", False)
            else:
                complete = True
            return message

        return limited_receive


def _request_id(headers: Headers) -> str:
    given = headers.get("x-request-id", "")
    return given if REQUEST_ID_PATTERN.match(given) else uuid.uuid4().hex


def _with_request_id(send: Send, request_id: str) -> Send:
    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
        await send(message)

    return send_with_id


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    return (length is not None and length != "0") or "transfer-encoding" in headers


def _accepted(content_type: str) -> bool:
    return content_type in ACCEPTED_CONTENT_TYPES or content_type.endswith("+json")


def _token_ok(scope: Scope, headers: Headers, token: str) -> bool:
    if scope["method"] == "OPTIONS" or scope["path"].startswith(OPEN_PATHS):
        return True
    supplied = headers.get("authorization", "").removeprefix("Bearer ").strip()
    supplied = supplied or headers.get("x-kumiai-token", "")
    return secrets.compare_digest(supplied.encode(), token.encode())


def _too_large(path: str, limit: int, request_id: str) -> Any:
    return error_response(
        path,
        413,
        "payload_too_large",
        f"request body is larger than the {limit} byte limit",
        details={"limit_bytes": limit},
        request_id=request_id,
    )
