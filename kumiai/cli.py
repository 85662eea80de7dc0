"""The ``kumiai`` command: serve, database migrations, doctor, import-v1.

Start-up time matters here (``kumiai serve`` on a fresh home should answer within
seconds), so this module imports only what every command needs before it starts the
embedded PostgreSQL; SQLAlchemy, Alembic, uvicorn, the importer and the composition
root are imported by the commands that use them, while PostgreSQL starts or after.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from kumiai import __version__
from kumiai.core.config import Settings, get_settings, load_settings
from kumiai.core.exceptions import KumiAIError
from kumiai.core.logging import configure_logging
from kumiai.infrastructure.database import embedded
from kumiai.infrastructure.importer import OnConflict

if TYPE_CHECKING:
    from kumiai.application.services.models import ResolvedModel
    from kumiai.infrastructure.importer import UndoResult

APP_MODULE = "kumiai.main"
# pg_advisory_lock key under which a starting server migrates ("kumiai" in ASCII).
MIGRATION_LOCK = 0x6B756D6961

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
    from kumiai.infrastructure.database.engine import Database  # noqa: PLC0415

    async def check() -> str:
        database = Database(url, pool_size=1, max_overflow=0)
        try:
            return await database.ensure_reachable()
        finally:
            await database.dispose()

    return asyncio.run(check())


def _prepare_database(url: str) -> None:
    """Check that the database answers and upgrade it to head, unless it is there.

    A database at head costs one query: Alembic (its import, its script directory, its
    environment and engine) only runs when a migration is pending. Servers starting
    together on one database migrate one at a time, under an advisory lock.
    """
    from sqlalchemy import text  # noqa: PLC0415

    from kumiai.infrastructure.database.engine import Database  # noqa: PLC0415
    from kumiai.infrastructure.database.migrations import runner  # noqa: PLC0415

    async def prepare() -> None:
        database = Database(url, pool_size=1, max_overflow=0)
        try:
            await database.ensure_reachable()
            async with database.engine.connect() as connection:
                if not await runner.pending(connection):
                    return
                lock = {"key": MIGRATION_LOCK}
                await connection.execute(text("SELECT pg_advisory_lock(:key)"), lock)
                try:
                    if await runner.pending(connection):  # unless another server just did
                        await runner.upgrade_on(connection)
                        await connection.commit()
                finally:
                    await connection.execute(text("SELECT pg_advisory_unlock(:key)"), lock)
        finally:
            await database.dispose()

    asyncio.run(prepare())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 7892).")] = None,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes serving the port (default 1).")
    ] = 1,
) -> None:
    """Run the HTTP server; start the embedded PostgreSQL unless a URL is configured.

    Any number of servers may share one database and home (other ports or hosts, or
    ``--workers``): each process holds a lease, and a session's turns run in one of them.
    """
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    host, port = host or settings.host, port or settings.port
    _ensure_port_free(host, port)
    if reload and workers > 1:
        raise _fail("--reload serves from one process: drop --workers or --reload", 2)
    try:
        url_ready: Future[str] = Future()
        # --reload and --workers serve from worker processes, which build the app from the
        # environment.
        in_process = not reload and workers == 1
        building = _build_app_in_background(settings, url_ready.result) if in_process else None
        with _database_url(settings) as url:
            # The app is built (it asks for the URL only once it serves) before this
            # thread imports SQLAlchemy to migrate: two threads importing one package at
            # once can meet it half-initialised ("partially initialized module").
            app = building.result() if building else f"{APP_MODULE}:create_app_from_environment"
            _prepare_database(url)
            if settings.uses_embedded_database:
                os.environ["KUMIAI_EMBEDDED_DATABASE_URL"] = url
            get_settings.cache_clear()
            url_ready.set_result(url)
            _run_uvicorn(
                app,
                factory=building is None,
                host=host,
                port=port,
                reload=reload,
                workers=workers,
                log_config=None,
                timeout_graceful_shutdown=5,
            )
    except KumiAIError as error:
        raise _fail(error.message) from None


def _build_app_in_background(settings: Settings, database_url: Callable[[], str]) -> Future[Any]:
    """Import and build the app (over a second of CPU) while PostgreSQL starts, which
    mostly waits on initdb and pg_ctl; the app asks for the database URL when it starts
    serving, after the database is up and migrated."""
    built: Future[Any] = Future()

    def build() -> None:
        try:
            main = importlib.import_module(APP_MODULE)
            built.set_result(main.create_app(settings, database_url=database_url))
        except BaseException as error:  # handed to the main thread by built.result()
            built.set_exception(error)

    threading.Thread(target=build, name="build-app", daemon=True).start()
    return built


def _ensure_port_free(host: str, port: int) -> None:
    """Fail on one line before PostgreSQL starts, rather than after, when the port is taken."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as error:
        raise _fail(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    family, kind, protocol, _, address = addresses[0]
    with socket.socket(family, kind, protocol) as probe:
        # As uvicorn does, so a port left in TIME_WAIT by a previous run counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise _fail(
                    f"port {port} on {host} is already in use: stop what listens there "
                    "or choose another port with --port or KUMIAI_PORT"
                ) from None
            raise _fail(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _run_uvicorn(app_path: str, **options: object) -> None:
    """Run uvicorn so that SIGINT and SIGTERM both unwind through our cleanup.

    Uvicorn re-raises the signal it caught once it has shut down; with a Python
    handler installed that becomes an exception, so the embedded server and the
    home lock are released instead of the process dying on the spot.
    """
    import uvicorn  # noqa: PLC0415

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(app_path, **options)  # type: ignore[arg-type]


def _run_with_database(action: str, revision: str) -> None:
    from kumiai.infrastructure.database.migrations import runner  # noqa: PLC0415

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
    from kumiai.infrastructure.database.migrations import runner  # noqa: PLC0415

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
    from kumiai.infrastructure.database.engine import Database  # noqa: PLC0415
    from kumiai.infrastructure.database.migrations import runner  # noqa: PLC0415

    database = Database(url, pool_size=1, max_overflow=0)
    try:
        async with database.engine.connect() as connection:
            return await runner.current_revision(connection)
    finally:
        await database.dispose()


@app.command()
def doctor() -> None:
    """Print the effective configuration, database reachability and credential status."""
    from rich.table import Table  # noqa: PLC0415

    settings = _settings()
    table = Table(title=f"KumiAI {__version__}", show_header=False)
    for key, value in _config_rows(settings):
        table.add_row(key, value)
    table.add_row("database", _database_status(settings))
    table.add_row("model", _model_status(settings))
    for name, status in _cli_statuses(settings):
        table.add_row(f"{name} cli", status)
    Console().print(table)


def _config_rows(settings: Settings) -> list[tuple[str, str]]:
    from kumiai.infrastructure.database.engine import describe_url  # noqa: PLC0415

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
        ("agent runtime", _runtime_status(settings)),
        ("claude base url", settings.anthropic_base_url or "default"),
    ]
    return rows


def _runtime_status(settings: Settings) -> str:
    from kumiai.infrastructure.runtime_selection import select_runtime  # noqa: PLC0415

    selection = select_runtime(settings)
    active = selection.active or "none (sending messages answers 503)"
    return f"{active} [KUMIAI_RUNTIME={selection.requested}]: {selection.reason}"


def _model_status(settings: Settings) -> str:
    """The model a turn uses by default, resolved the way the server resolves it."""
    from kumiai.composition import model_resolver  # noqa: PLC0415

    async def resolve() -> ResolvedModel:
        models = model_resolver(settings)
        try:
            return await models.resolve()
        finally:
            await models.aclose()

    model = asyncio.run(resolve())
    if model.source == "model_list":
        return f"{model.id} (newest '{model.requested}' in the API's model list)"
    if model.source == "fallback":
        return f"{model.id} (built-in table for '{model.requested}': {model.problem})"
    return f"{model.id} (as configured)"


def _cli_statuses(settings: Settings) -> list[tuple[str, str]]:
    """Each backend's CLI as the server finds it: where, how found, which version, and
    whether its agents can take part in a team (KumiAI's orchestration tools)."""
    from kumiai.application.ports.cli_backends import ORCHESTRATING_BACKENDS  # noqa: PLC0415
    from kumiai.composition import cli_discovery  # noqa: PLC0415

    rows = []
    for cli in asyncio.run(cli_discovery(settings).find_all()):
        if cli.path is None:
            status = f"not found: {cli.problem}"
        else:
            version = cli.version or f"version unknown: {cli.problem}"
            status = f"{cli.path} ({cli.source}), {version}"
        if cli.name not in ORCHESTRATING_BACKENDS:
            status += "; its agents cannot call KumiAI's orchestration tools"
        rows.append((cli.name, status))
    return rows


def _database_status(settings: Settings) -> str:
    from kumiai.infrastructure.database.migrations import runner  # noqa: PLC0415

    try:
        with _database_url(settings) as url:
            version = _ensure_reachable(url)
            revision = asyncio.run(_current_revision(url))
    except KumiAIError as error:
        return f"unreachable: {error.message}"
    schema = revision or "empty"
    return f"reachable, PostgreSQL {version}, schema {schema} (head {runner.head_revision()})"


@app.command("import-v1")
def import_v1(
    *,
    source: Annotated[
        Path | None, typer.Option("--from", help="The v1 home folder (the one with kumiai.db).")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL URL (default: KUMIAI_DATABASE_URL, else the embedded one)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Run every stage, then roll back; only the report is written.")
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option(help="Report file (.json) or folder; default $KUMIAI_HOME/imports/<id>/."),
    ] = None,
    on_conflict: Annotated[
        OnConflict, typer.Option(help="Rows that already exist: leave them or overwrite them.")
    ] = OnConflict.SKIP,
    from_json: Annotated[
        Path | None, typer.Option(help="Import from the export.json of an earlier run.")
    ] = None,
    undo: Annotated[
        str | None,
        typer.Option(metavar="IMPORT_ID", help="Remove exactly what that import added."),
    ] = None,
) -> None:
    """Import a KumiAI v1 home (SQLite) into PostgreSQL and $KUMIAI_HOME."""
    from kumiai.infrastructure.database.migrations import runner  # noqa: PLC0415
    from kumiai.infrastructure.importer import ImportOptions, run_import, undo_import  # noqa: PLC0415
    from kumiai.infrastructure.importer.sqlite_export import v1_database_path  # noqa: PLC0415

    settings = _settings()
    if undo is None and from_json is None and source is None:
        raise _fail("give --from HOME, --from-json EXPORT.json or --undo IMPORT_ID", 2)
    try:
        if source is not None and from_json is None and undo is None:
            v1_database_path(source)  # fail before starting a database server
        with _import_database_url(settings, database_url) as url:
            _ensure_reachable(url)
            runner.upgrade(url)
            if undo is not None:
                _print_undo(asyncio.run(undo_import(url, undo)))
                return
            options = ImportOptions(
                database_url=url,
                home=settings.home,
                source=source,
                from_json=from_json,
                report_path=report,
                dry_run=dry_run,
                on_conflict=on_conflict,
            )
            result = asyncio.run(run_import(options, console))
    except KumiAIError as error:
        # escape(): paths and v1 values may contain "[...]", which rich reads as markup.
        raise _fail(escape(error.message)) from None
    outcome = result.report.outcome.value if result.report.outcome else "unfinished"
    typer.echo(f"import {result.report.import_id}: {outcome}")
    typer.echo(f"report: {result.report_txt}")
    if not result.ok:
        raise _fail(escape(result.report.error or "the import failed"))


@contextmanager
def _import_database_url(settings: Settings, url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with _database_url(settings) as configured:
        yield configured


def _print_undo(result: UndoResult) -> None:
    if result.already_undone:
        typer.echo(f"import {result.import_id} was already undone; nothing changed")
        return
    deleted = ", ".join(f"{count} {table}" for table, count in result.deleted.items())
    typer.echo(f"undid import {result.import_id}: deleted {deleted}")
    if result.profile_restored:
        typer.echo("restored the profile settings from before the import")
    for table, ids in result.kept.items():
        for row_id in ids:
            typer.echo(f"kept {table} {row_id}: v2 data created after the import uses it")
    typer.echo(f"removed {len(result.folders_removed)} folders")


def main() -> None:
    app()
