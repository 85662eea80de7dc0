"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cache

from fastapi import Depends, FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import BaseRoute

from kumiai import __version__
from kumiai.api import health, v1, v2
from kumiai.api.middleware.errors import install_error_handlers
from kumiai.api.middleware.request_guard import RequestGuardMiddleware
from kumiai.api.openapi import install_openapi
from kumiai.api.routing import include_flat, index_routes
from kumiai.api.unsafe_text import reject_unsafe_text
from kumiai.composition import Container, build_container, open_database
from kumiai.core.config import Settings, get_settings
from kumiai.core.exceptions import ConfigurationError
from kumiai.core.logging import configure_logging, get_logger

logger = get_logger(__name__)


def _database_url(settings: Settings) -> str:
    url = settings.database_url or settings.embedded_database_url
    if url is None:
        raise ConfigurationError(
            "no database: set KUMIAI_DATABASE_URL or start the server with `kumiai serve`"
        )
    return url


def create_app(
    settings: Settings | None = None,
    container: Container | None = None,
    *,
    database_url: Callable[[], str] | None = None,
) -> FastAPI:
    """Build the app. Tests pass their own container; `kumiai serve` passes neither, and
    builds the app while its database starts: ``database_url`` is asked at start-up."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = container is None
        app.state.container = container or build_container(
            settings,
            open_database(settings, database_url() if database_url else _database_url(settings)),
        )
        if own:
            await app.state.container.start()
            _freeze_startup_objects()
        logger.info("kumiai_started", version=__version__)
        try:
            yield
        finally:
            if own:
                await app.state.container.aclose()
            logger.info("kumiai_stopped")

    app = FastAPI(
        title="KumiAI",
        version=__version__,
        summary="Run a team of Claude agents on your own projects.",
        lifespan=lifespan,
    )
    if container is not None:
        app.state.container = container
    install_error_handlers(app)
    app.router.routes.extend(_path_operations())
    index_routes(app)
    _install_middleware(app, settings)
    install_openapi(app)
    return app


@cache
def _path_operations() -> tuple[BaseRoute, ...]:
    """Every path operation of the API, built once per process and shared by every app.

    Building them (a dependency tree and pydantic adapters per route) is most of what
    ``create_app`` costs: the server builds one app, but the test suite builds one per
    test, and built for each app they made the API tests three times as slow. A route
    keeps no state of its app, so apps share them; they are built on a scratch app with
    the dependency every operation has. (``app.dependency_overrides`` would not reach
    them; KumiAI uses none.)
    """
    scratch = FastAPI(dependencies=[Depends(reject_unsafe_text)])
    before = len(scratch.router.routes)
    include_flat(scratch, [("", health.router), *v1.routers, *v2.routers])
    return tuple(scratch.router.routes[before:])


def _freeze_startup_objects() -> None:
    """Move what start-up built (modules, the app, the SDKs: some 300,000 objects) out of
    the collector's reach. They live as long as the process, and every full collection
    walked them all: a 100-400 ms stop of every request in flight, measured as the read
    p99 under load (bench/http.py). Freezing is constant-time; collecting first would
    cost that pause once more, at start-up."""
    gc.freeze()


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    # Added innermost first: CORS ends up outermost so every response, errors
    # included, carries its headers.
    token = settings.api_token.get_secret_value() if settings.api_token else None
    app.add_middleware(
        RequestGuardMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_timeout=settings.body_timeout,
        api_token=token,
        allowed_origins=settings.cors_origins,
    )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts)
    # The web client sends credentials (`credentials: 'include'` on enqueue and stream),
    # so the origins are explicit (settings refuse a wildcard) and credentials allowed.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Content-Type", "Accept", "Authorization", "Last-Event-ID", "X-Request-ID"],
        expose_headers=["X-Request-ID"],
    )


def create_app_from_environment() -> FastAPI:
    """Entry point for uvicorn's factory mode (used by `kumiai serve`)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
