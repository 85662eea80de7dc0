"""How requests find their endpoint: one flat route table, searched by literal prefix.

Since 0.137 FastAPI keeps included routers as a lazy tree and matches a request by
visiting every route of every router with per-route context switching, without
skipping routers whose prefix cannot match (fastapi/fastapi#16159). With ~130 routes
that made routing most of the cost of a cheap request, and of every 404 (which also
walks the table a second time looking for a trailing-slash redirect).

So the API packages list ``(prefix, router)`` pairs, their path operations are added
flat onto the app (``include_flat``, what ``include_router`` used to do), and
``RouteIndex``, first in the app's route table, tests each route's literal prefix (a
string comparison) before its regular expression. The flat routes stay in the table
after the index, so the OpenAPI document and ``url_path_for`` see them as usual.

The API modules declare their operations on a ``FlatRouter``, which records them
instead of building them: building a route (its dependency tree, a pydantic adapter
per parameter and response) is a good part of start-up, and ``include_flat`` builds
every route again on the app, so an ``APIRouter``'s routes would be built twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, get_type_hints

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

MATCHED_ROUTE = "kumiai.route"
KEY_SEGMENTS = 3

Routers = Sequence[tuple[str, APIRouter]]

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


class RecordedRoute(APIRoute):
    """A path operation as a ``FlatRouter`` declares it (the router's prefix, tags,
    dependencies and responses already merged in), left for ``include_flat`` to build.
    Only ``include_flat`` reads it: it is not a working route by itself."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        # No APIRoute.__init__: not building the route is the point.
        self.path = path
        self.endpoint = endpoint
        # The app's router sets its own.
        options.pop("dependency_overrides_provider", None)
        self.options = options

    def __repr__(self) -> str:
        return f"RecordedRoute(path={self.path!r}, endpoint={self.endpoint.__qualname__})"


class FlatRouter(APIRouter):
    """An ``APIRouter`` for ``include_flat``: its decorators record path operations
    instead of building them, so each route is built once, on the app."""

    def __init__(self, **options: Any) -> None:
        super().__init__(route_class=RecordedRoute, **options)


def bind_types(endpoint: Endpoint, **types: Any) -> Endpoint:
    """``endpoint`` with the type variables of its annotations bound to ``types``, by
    name: one endpoint written once for several kinds then shows FastAPI, and the
    OpenAPI document, the request and response models of the kind it serves."""
    hints = get_type_hints(endpoint, localns=types, include_extras=True)
    # get_type_hints spells ``None`` as NoneType, which FastAPI would take for a body.
    endpoint.__annotations__ = {
        name: None if hint is type(None) else hint for name, hint in hints.items()
    }
    return endpoint


def include_flat(app: FastAPI, routers: Iterable[tuple[str, APIRouter]]) -> None:
    """Add every path operation of ``routers`` to the app itself, under its prefix."""
    for prefix, router in routers:
        for route in router.routes:
            if isinstance(route, RecordedRoute):
                app.router.add_api_route(prefix + route.path, route.endpoint, **route.options)
                continue
            if not isinstance(route, APIRoute):
                raise TypeError(f"only path operations can be included flat, not {route!r}")
            app.router.add_api_route(
                prefix + route.path,
                route.endpoint,
                response_model=route.response_model,
                status_code=route.status_code,
                tags=route.tags,
                dependencies=route.dependencies,
                summary=route.summary,
                description=route.description,
                response_description=route.response_description,
                responses=route.responses,
                deprecated=route.deprecated,
                methods=route.methods,
                operation_id=route.operation_id,
                response_model_include=route.response_model_include,
                response_model_exclude=route.response_model_exclude,
                response_model_by_alias=route.response_model_by_alias,
                response_model_exclude_unset=route.response_model_exclude_unset,
                response_model_exclude_defaults=route.response_model_exclude_defaults,
                response_model_exclude_none=route.response_model_exclude_none,
                include_in_schema=route.include_in_schema,
                response_class=route.response_class,
                name=route.name,
                callbacks=route.callbacks,
                openapi_extra=route.openapi_extra,
                generate_unique_id_function=route.generate_unique_id_function,
            )


def index_routes(app: FastAPI) -> None:
    """Put a ``RouteIndex`` of the app's routes in front of them; call once, last."""
    app.router.routes.insert(0, RouteIndex(list(app.router.routes)))


class RouteIndex(BaseRoute):
    """The app's routes in their declared order, each behind its literal path prefix.

    The first route that matches fully wins, as in Starlette's router. A request that
    no route takes is claimed here and answered 404 at once, unless the path with its
    trailing slash toggled would match: then the router's own scan answers with its
    redirect.
    """

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        # Routes bucketed by the first KEY_SEGMENTS segments of their literal prefix;
        # routes with shorter prefixes may match anything, so every bucket has them too.
        keyed = [(*_literal_prefix(route), route) for route in routes]
        self._short = [(prefix, route) for prefix, key, route in keyed if key is None]
        self._buckets = {
            key: [(prefix, route) for prefix, other, route in keyed if other in (key, None)]
            for key in {key for _, key, _ in keyed if key is not None}
        }

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        match, child_scope = self._search(scope)
        if match is not Match.NONE:
            return match, child_scope
        if self._slash_twin_exists(scope):
            return Match.NONE, {}
        return Match.FULL, {MATCHED_ROUTE: None}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute | None = scope.get(MATCHED_ROUTE)
        if route is None:
            # What Starlette's router raises inside an app, so the error handlers
            # render it like any other 404.
            raise HTTPException(status_code=404)
        await route.handle(scope, receive, send)

    def _search(self, scope: Scope) -> tuple[Match, Scope]:
        path = _route_path(scope)
        segments = tuple(path.split("/", KEY_SEGMENTS + 1)[1 : KEY_SEGMENTS + 1])
        partial: tuple[Match, Scope] | None = None
        for prefix, route in self._buckets.get(segments, self._short):
            if not path.startswith(prefix):
                continue
            match, child_scope = route.matches(scope)
            if match is Match.NONE:
                continue
            child_scope[MATCHED_ROUTE] = route
            if match is Match.FULL:
                return match, child_scope
            if partial is None:
                partial = (match, child_scope)
        return partial or (Match.NONE, {})

    def _slash_twin_exists(self, scope: Scope) -> bool:
        path = scope["path"]
        if path == "/":
            return False
        twin = path[:-1] if path.endswith("/") else path + "/"
        match, _ = self._search({**scope, "path": twin})
        return match is not Match.NONE


def _literal_prefix(route: BaseRoute) -> tuple[str, tuple[str, ...] | None]:
    """The route's path before its first parameter, and that prefix's bucket key.

    The key is the first KEY_SEGMENTS whole segments, or None when there are fewer.
    A prefix cut at a parameter ends in a partial (or empty) segment, which is not
    whole; without parameters every segment is. Routes without a path ('') match
    wherever they are asked.
    """
    path = getattr(route, "path_format", None)
    if not isinstance(path, str):
        return "", None
    literal = path.split("{", 1)[0]
    segments = literal.split("/")[1:]
    whole = segments[:-1] if "{" in path else segments
    return literal, tuple(whole[:KEY_SEGMENTS]) if len(whole) >= KEY_SEGMENTS else None


def _route_path(scope: Scope) -> str:
    """The path routes match against: without the root path, as Starlette strips it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path
