"""The ``kumiai`` command: serve, database migrations, doctor."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from kumiai import __version__
from kumiai.core.config import Settings, get_settings, load_settings
from kumiai.core.exceptions import KumiAIError
from kumiai.core.logging import configure_logging
from kumiai.infrastructure.database import embedded
from kumiai.infrastructure.database.engine import Database, describe_url
from kumiai.infrastructure.database.migrations import runner
from kumiai.infrastructure.home_lock import HomeLock

app = typer.Typer(
    help="KumiAI: run a team of Claude agents on your own projects.", no_args_is_help=True
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console(stderr=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        return load_settings()
    except KumiAIError as error:
        raise _fail(error.message, 2) from None


@contextmanager
def _database_url(settings: Settings) -> Iterator[str]:
    """The configured URL, or the embedded server's (started here, stopped on exit)."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    server = embedded.EmbeddedPostgres(settings.pgdata_dir)
    try:
        yield server.start()
    finally:
        server.stop()


def _ensure_reachable(url: str) -> str:
    async def check() -> str:
        database = Database(url, pool_size=1, max_overflow=0)
        try:
            return await database.ensure_reachable()
        finally:
            await database.dispose()

    return asyncio.run(check())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 7892).")] = None,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
) -> None:
    """Run the HTTP server; start the embedded PostgreSQL unless a URL is configured."""
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    lock = HomeLock(settings.home)
    try:
        lock.acquire()
        with _database_url(settings) as url:
            _ensure_reachable(url)
            runner.upgrade(url)
            if settings.uses_embedded_database:
                os.environ["KUMIAI_EMBEDDED_DATABASE_URL"] = url
            get_settings.cache_clear()
            _run_uvicorn(
                "kumiai.main:create_app_from_environment",
                factory=True,
                host=host or settings.host,
                port=port or settings.port,
                reload=reload,
                log_config=None,
                timeout_graceful_shutdown=5,
            )
    except KumiAIError as error:
        raise _fail(error.message) from None
    finally:
        lock.release()


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _run_uvicorn(app_path: str, **options: object) -> None:
    """Run uvicorn so that SIGINT and SIGTERM both unwind through our cleanup.

    Uvicorn re-raises the signal it caught once it has shut down; with a Python
    handler installed that becomes an exception, so the embedded server and the
    home lock are released instead of the process dying on the spot.
    """
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(app_path, **options)  # type: ignore[arg-type]


def _run_with_database(action: str, revision: str) -> None:
    settings = _settings()
    try:
        with _database_url(settings) as url:
            _ensure_reachable(url)
            if action == "upgrade":
                runner.upgrade(url, revision)
            else:
                runner.downgrade(url, revision)
            console.print(f"database {action}d to {revision}")
    except KumiAIError as error:
        raise _fail(error.message) from None


@db_app.command()
def upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    _run_with_database("upgrade", revision)


@db_app.command()
def downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Revert migrations down to REVISION (default: one step; 'base' removes everything)."""
    _run_with_database("downgrade", revision)


@db_app.command()
def current() -> None:
    """Print the database's current revision and the newest one this version ships."""
    settings = _settings()
    try:
        with _database_url(settings) as url:
            _ensure_reachable(url)
            revision = asyncio.run(_current_revision(url))
    except KumiAIError as error:
        raise _fail(error.message) from None
    typer.echo(f"current: {revision or 'none (empty database)'}")
    typer.echo(f"head:    {runner.head_revision()}")


async def _current_revision(url: str) -> str | None:
    database = Database(url, pool_size=1, max_overflow=0)
    try:
        async with database.engine.connect() as connection:
            return await runner.current_revision(connection)
    finally:
        await database.dispose()


@app.command()
def doctor() -> None:
    """Print the effective configuration, database reachability and credential status."""
    settings = _settings()
    table = Table(title=f"KumiAI {__version__}", show_header=False)
    for key, value in _config_rows(settings):
        table.add_row(key, value)
    table.add_row("database", _database_status(settings))
    Console().print(table)


def _config_rows(settings: Settings) -> list[tuple[str, str]]:
    folders = [(name, settings.home / name) for name in ("characters", "skills", "projects")]
    rows = [
        ("home", f"{settings.home} ({'exists' if settings.home.exists() else 'missing'})"),
        *[
            (f"  {name}", f"{path} ({'exists' if path.exists() else 'missing'})")
            for name, path in folders
        ],
        ("listen", f"{settings.host}:{settings.port}"),
        (
            "database url",
            describe_url(settings.database_url)
            if settings.database_url
            else f"embedded PostgreSQL in {settings.pgdata_dir}",
        ),
        ("log", f"{settings.log_level} ({settings.log_format})"),
        ("cors origins", ", ".join(settings.cors_origins)),
        ("api token", "set" if settings.api_token else "not set"),
        (
            "claude credentials",
            "configured"
            if settings.claude_configured
            else "not configured (set ANTHROPIC_API_KEY)",
        ),
        ("claude base url", settings.anthropic_base_url or "default"),
        ("default model", settings.default_model),
    ]
    return rows


def _database_status(settings: Settings) -> str:
    try:
        with _database_url(settings) as url:
            version = _ensure_reachable(url)
            revision = asyncio.run(_current_revision(url))
    except KumiAIError as error:
        return f"unreachable: {error.message}"
    schema = revision or "empty"
    return f"reachable, PostgreSQL {version}, schema {schema} (head {runner.head_revision()})"


def main() -> None:
    app()
