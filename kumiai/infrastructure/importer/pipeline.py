"""``kumiai import-v1``: the five stages, run in order and logged.

1. export    read the v1 home read-only and write ``export.json`` (the audit trail)
2. transform build v2 rows and the report of every repair
3. import    write the rows in one transaction (progress bar over messages)
4. validate  compare the written rows with the source, still inside the transaction;
             then write the character and skill folders and commit (or roll back)
5. backup    copy the SQLite file next to the report, write ``report.json``/``report.txt``

A failed or dry run rolls back and writes no folders; the report is written either way.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.domain.value_objects.event_type import EventType
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.tables import activity_logs
from kumiai.infrastructure.filesystem.home import HomeLayout
from kumiai.infrastructure.importer.conflicts import OnConflict
from kumiai.infrastructure.importer.entries import Action
from kumiai.infrastructure.importer.errors import ImportValidationError
from kumiai.infrastructure.importer.folders import (
    folder_path,
    remove_folder,
    write_definition_folder,
)
from kumiai.infrastructure.importer.plan import ImportPlan
from kumiai.infrastructure.importer.report import ImportReport, Outcome
from kumiai.infrastructure.importer.sqlite_export import (
    DATABASE_FILE,
    V1Export,
    export_v1_home,
    load_export,
    save_export,
)
from kumiai.infrastructure.importer.transform import build_plan
from kumiai.infrastructure.importer.validate import validate_import
from kumiai.infrastructure.importer.writer import PlanWriter, Written

STAGES = 5
# Tables whose created ids the import_completed row lists, in the order undo deletes them.
RECORDED_TABLES = (
    "activity_logs",
    "sessions",
    "tasks",
    "projects",
    "characters",
    "skills",
    "user_profiles",
)


@dataclass(frozen=True, slots=True)
class ImportOptions:
    database_url: str
    home: Path  # the v2 home: character and skill folders, default report folder
    source: Path | None = None  # the v1 home
    from_json: Path | None = None
    report_path: Path | None = None
    dry_run: bool = False
    on_conflict: OnConflict = OnConflict.SKIP


@dataclass(frozen=True, slots=True)
class ImportResult:
    report: ImportReport
    report_json: Path
    report_txt: Path
    export_json: Path

    @property
    def ok(self) -> bool:
        return self.report.outcome is not Outcome.FAILED


class StageLog:
    """Numbered, timed stage lines on the console; timings also go into the report."""

    def __init__(self, console: Console, report: ImportReport) -> None:
        self.console = console
        self._report = report

    @contextmanager
    def stage(self, number: int, name: str) -> Iterator[None]:
        self.console.print(f"[bold][{number}/{STAGES}] {name}[/bold]")
        started = time.perf_counter()
        try:
            yield
        finally:
            self._report.stages[name] = time.perf_counter() - started

    def info(self, message: str, style: str = "") -> None:
        # Text, not markup: messages carry user data such as "[not json".
        self.console.print(Text(f"      {message}", style=style))


async def run_import(options: ImportOptions, console: Console | None = None) -> ImportResult:
    """Run all five stages. Raises ``ImportSourceError`` only when nothing could be read;
    after that, failures are recorded in the report (outcome ``failed``)."""
    import_id = str(uuid.uuid4())
    layout = HomeLayout(options.home)
    report = ImportReport(
        import_id=import_id,
        source_home=str(options.source or options.from_json),
        dry_run=options.dry_run,
        on_conflict=options.on_conflict.value,
    )
    log = StageLog(console or Console(stderr=True), report)
    with log.stage(1, "export"):
        export = _export(options)
        report.source_home = export.source_home
        directory, report_json = _output_paths(options.report_path, layout, import_id)
        export_json = directory / "export.json"
        save_export(export, export_json)
        report.files["export"] = str(export_json)
        log.info(_export_summary(export))
    with log.stage(2, "transform"):
        plan = build_plan(export, layout, report)
        log.info(
            f"{len(plan.messages)} messages, {len(plan.sessions)} sessions, "
            f"{len(plan.characters)} characters; {len(report.entries)} report entries"
        )
    await _import(options, layout, plan, report, log)
    with log.stage(5, "backup and report"):
        if report.outcome is not Outcome.FAILED:
            report.files["backup"] = _backup(_source_database(options, export), directory)
        report.finished_at = datetime.now(UTC)
        report_txt = report_json.with_suffix(".txt")
        report.files["report"] = str(report_json)
        report.write(report_json, report_txt)
        log.info(f"outcome: {report.outcome.value if report.outcome else '?'}")
        log.info(f"report: {report_txt}")
    return ImportResult(report, report_json, report_txt, export_json)


def _export(options: ImportOptions) -> V1Export:
    if options.from_json is not None:
        return load_export(options.from_json)
    if options.source is None:
        raise ValueError("ImportOptions needs a source home or an export file")
    return export_v1_home(options.source)


def _export_summary(export: V1Export) -> str:
    counts = ", ".join(f"{len(rows)} {table}" for table, rows in export.tables.items())
    return f"{counts}; {len(export.agents)} agent and {len(export.skills)} skill folders"


def _output_paths(
    report_path: Path | None, layout: HomeLayout, import_id: str
) -> tuple[Path, Path]:
    """The report folder and ``report.json``: ``--report`` names either the JSON file
    or a folder; by default ``$KUMIAI_HOME/imports/<import id>/``."""
    if report_path is None:
        directory = layout.imports_dir / import_id
        report_json = directory / "report.json"
    elif report_path.suffix.lower() == ".json":
        directory, report_json = report_path.parent, report_path
    else:
        directory, report_json = report_path, report_path / "report.json"
    directory.mkdir(parents=True, exist_ok=True)
    return directory, report_json


# ---------------------------------------------------------------- stages 3 and 4


@dataclass(frozen=True, slots=True)
class _Run:
    """What stages 3 and 4 share."""

    options: ImportOptions
    layout: HomeLayout
    report: ImportReport
    log: StageLog


async def _import(
    options: ImportOptions,
    layout: HomeLayout,
    plan: ImportPlan,
    report: ImportReport,
    log: StageLog,
) -> None:
    run = _Run(options, layout, report, log)
    database = Database(options.database_url, pool_size=1, max_overflow=0)
    try:
        async with database.engine.connect() as connection:
            await _import_in_transaction(connection, run, plan)
    except ImportValidationError as error:
        report.outcome = Outcome.FAILED
        report.error = error.message
        log.info(error.message, style="red")
    except Exception as error:
        # Whatever went wrong, the transaction is rolled back; the report must say so.
        report.outcome = Outcome.FAILED
        report.error = _describe(error)
        log.info(f"import failed, nothing was imported: {report.error}", style="red")
    finally:
        await database.dispose()


async def _import_in_transaction(connection: AsyncConnection, run: _Run, plan: ImportPlan) -> None:
    report, log = run.report, run.log
    async with connection.begin() as transaction:
        with log.stage(3, "import"):
            written = await _write(connection, run, plan)
        with log.stage(4, "validate"):
            differences = await validate_import(connection, plan, written, report)
            if differences:
                raise ImportValidationError(differences)
            log.info(f"ok: {report.validation['messages']} messages match the source")
        if run.options.dry_run:
            report.outcome = Outcome.DRY_RUN
            await transaction.rollback()
            return
        if not (report.changed_rows or written.folders_to_create or written.folders_to_update):
            report.outcome = Outcome.NOTHING_TO_DO
            await transaction.rollback()
            return
        created = _write_folders(run.layout, written, report)
        try:
            await _record_import(connection, run, written)
            await transaction.commit()
        except BaseException:
            for path in created:
                remove_folder(path)
            raise
        report.outcome = Outcome.COMMITTED


async def _write(connection: AsyncConnection, run: _Run, plan: ImportPlan) -> Written:
    columns = (
        TextColumn("      messages"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=run.log.console) as progress:
        task = progress.add_task("messages", total=len(plan.messages))
        writer = PlanWriter(
            connection,
            plan,
            run.report,
            layout=run.layout,
            on_conflict=run.options.on_conflict,
            now=datetime.now(UTC),
            on_messages=lambda count: progress.advance(task, count),
        )
        return await writer.write()


def _write_folders(layout: HomeLayout, written: Written, report: ImportReport) -> list[Path]:
    """Write character and skill folders; returns the ones created (for cleanup)."""
    created: list[Path] = []
    try:
        for folder in [*written.folders_to_create, *written.folders_to_update]:
            is_new = folder in written.folders_to_create
            path = folder_path(layout, folder)
            if is_new:
                created.append(path)
            for refused in write_definition_folder(layout, folder):
                report.add(
                    "files",
                    f"{path}/{refused}",
                    Action.SKIPPED,
                    "not copied: the path leaves the folder or replaces the main document",
                )
            report.folders["created" if is_new else "updated"].append(str(path))
    except BaseException:
        for path in created:
            remove_folder(path)
        raise
    return created


async def _record_import(connection: AsyncConnection, run: _Run, written: Written) -> None:
    """The ``import_completed`` row: everything ``--undo`` needs to remove this import."""
    report, layout = run.report, run.layout
    data: dict[str, Any] = {
        "import_id": report.import_id,
        "source_home": report.source_home,
        "on_conflict": run.options.on_conflict.value,
        "created": {
            table: [str(row_id) for row_id in written.inserted.get(table, [])]
            for table in RECORDED_TABLES
        },
        "updated": {
            table: [str(row_id) for row_id in written.updated.get(table, [])]
            for table in RECORDED_TABLES
        },
        "folders_created": [
            {"kind": folder.kind, "slug": folder.slug, "path": str(folder_path(layout, folder))}
            for folder in written.folders_to_create
        ],
        "profile_settings_before": written.profile_before,
        "counts": {table: counts.to_json() for table, counts in report.counts.items()},
    }
    await connection.execute(
        activity_logs.insert().values(
            id=uuid.UUID(report.import_id),
            event_type=EventType.IMPORT_COMPLETED,
            event_data=data,
        )
    )


def _describe(error: Exception) -> str:
    # Database errors carry the statement and every parameter; the driver's message is
    # the useful part.
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines() or [""]
    return f"{type(cause).__name__}: {lines[0]}"


# ---------------------------------------------------------------- stage 5


def _source_database(options: ImportOptions, export: V1Export) -> Path | None:
    if options.source is not None:
        return options.source / DATABASE_FILE
    recorded = export.database.get("path")
    return Path(recorded) if recorded else None


def _backup(database: Path | None, directory: Path) -> list[str]:
    """Copy the SQLite file (and a write-ahead log, if any) next to the report."""
    if database is None or not database.is_file():
        return []
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    copies = []
    for source in (database, database.with_name(database.name + "-wal")):
        if source.is_file():
            target = directory / f"{source.name}.{stamp}.bak"
            shutil.copy2(source, target)
            copies.append(str(target))
    return copies
