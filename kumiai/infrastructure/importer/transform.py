"""Stage 2: turn a v1 export into v2 rows (an :class:`ImportPlan`).

v1 UUIDs are kept for projects, sessions, messages and activity rows, which is what
makes a re-run find its own rows. Every value that cannot go in unchanged is repaired
or mapped and reported; rows are never dropped silently. ``docs/MIGRATION_GUIDE.md``
has the full mapping table.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kumiai.domain.entities.user_profile import default_settings
from kumiai.domain.value_objects.cli_backend import CliBackend
from kumiai.domain.value_objects.event_type import EventType
from kumiai.domain.value_objects.session_status import SessionStatus
from kumiai.domain.value_objects.session_type import SessionType
from kumiai.infrastructure.filesystem.home import HomeLayout
from kumiai.infrastructure.importer.definitions import DefinitionPlanner
from kumiai.infrastructure.importer.entries import Action
from kumiai.infrastructure.importer.legacy import (
    INTERRUPTED_BY_MIGRATION,
    KNOWN_COLUMNS,
    RUNNING_STATUSES,
    SESSION_TYPES,
    STATUSES,
    as_text,
    clean_json,
    clean_text,
    closest_event_type,
    derived_uuid,
    parse_json,
    parse_timestamp,
    stable_uuid,
)
from kumiai.infrastructure.importer.messages import MessagePlanner, message_order_key
from kumiai.infrastructure.importer.plan import ImportPlan, Row
from kumiai.infrastructure.importer.report import ImportReport
from kumiai.infrastructure.importer.rows import RowReader, find_planned
from kumiai.infrastructure.importer.sqlite_export import KNOWN_TABLES, V1Export
from kumiai.infrastructure.importer.tasks import TaskPlanner

UNTITLED_PROJECT = "Untitled project"


def build_plan(
    export: V1Export, layout: HomeLayout, report: ImportReport, now: datetime | None = None
) -> ImportPlan:
    """Transform ``export`` into rows for the v2 schema, reporting every repair."""
    return PlanBuilder(export, layout, report, now or datetime.now(UTC)).build()


class PlanBuilder:
    def __init__(
        self, export: V1Export, layout: HomeLayout, report: ImportReport, now: datetime
    ) -> None:
        self._export = export
        self._report = report
        self._now = now
        self._plan = ImportPlan()
        self._read = RowReader(report, now)
        self._definitions = DefinitionPlanner(
            self._plan, report, layout=layout, source_home=Path(export.source_home), now=now
        )
        self._projects: dict[str, Row] = {}  # raw v1 id -> row
        self._project_ids: dict[uuid.UUID, Row] = {}
        self._sessions: dict[str, Row] = {}  # raw v1 id -> row
        self._session_ids: dict[uuid.UUID, Row] = {}
        self._seen: dict[str, set[uuid.UUID]] = defaultdict(set)  # ids given out per table
        self._tasks = TaskPlanner(self._plan, report, self._read, self._seen["tasks"])
        self._agent_names = _agent_names(export.rows("messages"))

    def build(self) -> ImportPlan:
        self._report_export_problems()
        self._definitions.add_skills(self._export.skills)
        self._definitions.add_characters(self._export.agents)
        self._add_projects()
        self._add_tasks()
        self._add_sessions()
        self._add_messages()
        self._add_session_files()
        self._link_pms()
        self._add_activity()
        self._add_profile()
        self._report_other_tables()
        self._report_unknown_columns()
        return self._plan

    # ------------------------------------------------------------ stage 1 problems

    def _report_export_problems(self) -> None:
        for problem in self._export.problems:
            self._report.add(
                problem.table, problem.row_id, problem.action, problem.reason, **problem.detail
            )

    # ------------------------------------------------------------ projects

    def _add_projects(self) -> None:
        rows = self._export.rows("projects")
        self._report.counts["projects"].source = len(rows)
        live_paths: dict[str, str] = {}
        for raw in sorted(rows, key=_creation_key):
            row = self._project_row(raw)
            if row is None:
                continue
            self._dedupe_live_path(row, live_paths)
            self._plan.projects.append(row)
            self._report.counts["projects"].planned += 1

    def _project_row(self, raw: dict[str, Any]) -> Row | None:
        project_id = self._read.row_id("projects", raw, self._seen["projects"])
        if project_id is None:
            return None
        key = str(project_id)
        created = self._read.timestamp("projects", key, raw, "created_at", self._now)
        row: Row = {
            "id": project_id,
            "name": self._read.required_text("projects", key, raw, "name", UNTITLED_PROJECT),
            "description": self._read.optional_text("projects", key, raw, "description"),
            "path": self._read.required_text(
                "projects", key, raw, "path", f"{self._export.source_home}/projects/{key}"
            ),
            "pm_character_id": None,
            "pm_session_id": None,
            "team_character_ids": self._team("projects", key, raw.get("team_member_ids")),
            "archived_at": None,
            "created_at": created,
            "updated_at": self._read.timestamp("projects", key, raw, "updated_at", created),
            "deleted_at": self._read.optional_timestamp("projects", key, raw, "deleted_at"),
            "_v1": raw,
        }
        self._projects[str(raw.get("id"))] = row
        self._project_ids[project_id] = row
        return row

    def _dedupe_live_path(self, row: Row, live_paths: dict[str, str]) -> None:
        if row["deleted_at"] is not None:
            return
        holder = live_paths.get(row["path"])
        if holder is None:
            live_paths[row["path"]] = str(row["id"])
            return
        # v2 allows one live project per path; the older project keeps it.
        row["deleted_at"] = self._now
        self._report.add(
            "projects",
            row["id"],
            Action.REPAIRED,
            f"path {row['path']!r} is already used by live project {holder}: imported as "
            "soft-deleted",
        )

    def _team(self, table: str, key: str, raw: object) -> list[uuid.UUID]:
        parsed = parse_json(raw)
        if parsed.problem or not isinstance(parsed.value, list | type(None)):
            self._report.add(
                table,
                key,
                Action.REPAIRED,
                f"team_member_ids is not a JSON list ({parsed.problem or 'wrong type'}): "
                "imported with no team",
                raw=as_text(raw),
            )
            return []
        team: list[uuid.UUID] = []
        for member in parsed.value or []:
            character = self._character_for(member, f"the team of project {key}")
            if character is None:
                self._report.add(
                    table, key, Action.REPAIRED, f"dropped team member {member!r}: not an agent id"
                )
            elif character not in team:
                team.append(character)
        return team

    # ------------------------------------------------------------ tasks

    def _add_tasks(self) -> None:
        rows = self._export.rows("tasks")
        self._report.counts["tasks"].source = len(rows)
        for raw in sorted(rows, key=_creation_key):
            project = find_planned(
                raw.get("project_id"), "projects", self._projects, self._project_ids
            )
            self._tasks.add(raw, project)

    # ------------------------------------------------------------ sessions

    def _add_sessions(self) -> None:
        rows = self._export.rows("sessions")
        self._report.counts["sessions"].source = len(rows)
        for raw in sorted(rows, key=_creation_key):
            row = self._session_row(raw)
            if row is not None:
                self._plan.sessions.append(row)
                self._report.counts["sessions"].planned += 1

    def _session_row(self, raw: dict[str, Any]) -> Row | None:
        session_id = self._read.row_id("sessions", raw, self._seen["sessions"])
        if session_id is None:
            return None
        key = str(session_id)
        context = self._read.json_object("sessions", key, "context", raw.get("context"))
        status, error_message = self._status(key, raw, context)
        created = self._read.timestamp("sessions", key, raw, "created_at", self._now)
        project_id = self._session_project(key, raw, context)
        row: Row = {
            "id": session_id,
            "character_id": self._character_for(raw.get("agent_id"), f"session {key}"),
            "project_id": project_id,
            "task_id": self._tasks.binding(key, raw.get("task_id"), project_id, context),
            "session_type": self._session_type(key, raw, context),
            "cli_backend": self._cli_backend(key, raw, context),
            "status": status,
            "claude_session_id": as_text(raw.get("claude_session_id")),
            "context": context,
            "error_message": error_message,
            "next_sequence": 0,
            "started_at": None,
            "created_at": created,
            "updated_at": self._read.timestamp("sessions", key, raw, "updated_at", created),
            "deleted_at": self._read.optional_timestamp("sessions", key, raw, "deleted_at"),
        }
        self._require_character_and_project(row, raw)
        self._sessions[str(raw.get("id"))] = row
        self._session_ids[session_id] = row
        return row

    def _session_type(self, key: str, raw: dict[str, Any], context: dict[str, Any]) -> SessionType:
        value = as_text(raw.get("session_type")) or ""
        session_type = SESSION_TYPES.get(value.strip().lower())
        if session_type is not None:
            return session_type
        context["v1_session_type"] = value
        self._report.add(
            "sessions",
            key,
            Action.MAPPED,
            f"unknown session type {value!r}: imported as 'assistant'",
        )
        return SessionType.ASSISTANT

    def _cli_backend(self, key: str, raw: dict[str, Any], context: dict[str, Any]) -> CliBackend:
        """The session's agent CLI (2026-03 homes); ``claude`` where v1 had none."""
        value = as_text(raw.get("cli_backend"))
        if value is None or value == "":
            return CliBackend.CLAUDE
        try:
            return CliBackend(value)
        except ValueError:
            context["v1_cli_backend"] = value
        self._report.add(
            "sessions", key, Action.MAPPED, f"unknown cli_backend {value!r}: imported as 'claude'"
        )
        return CliBackend.CLAUDE

    def _status(
        self, key: str, raw: dict[str, Any], context: dict[str, Any]
    ) -> tuple[SessionStatus, str | None]:
        value = as_text(raw.get("status")) or ""
        error_message = self._read.optional_text("sessions", key, raw, "error_message")
        normalised = value.strip().lower()
        if normalised in STATUSES:
            status = STATUSES[normalised]
            if status.value != value:
                self._report.mapped("sessions", "status", value, status.value, key)
            return status, error_message
        if error_message:
            context["v1_error_message"] = error_message
        if normalised in RUNNING_STATUSES:
            self._report.mapped("sessions", "status", value, SessionStatus.ERROR.value, key)
            return SessionStatus.ERROR, INTERRUPTED_BY_MIGRATION
        context["v1_status"] = value
        self._report.add(
            "sessions", key, Action.MAPPED, f"unknown status {value!r}: imported as 'error'"
        )
        return SessionStatus.ERROR, f"unknown v1 status {value!r}"

    def _session_project(
        self, key: str, raw: dict[str, Any], context: dict[str, Any]
    ) -> uuid.UUID | None:
        project_raw = raw.get("project_id")
        if project_raw is None or project_raw == "":
            return None
        project = find_planned(project_raw, "projects", self._projects, self._project_ids)
        if project is not None:
            return uuid.UUID(str(project["id"]))
        context["v1_project_id"] = str(project_raw)
        self._report.add(
            "sessions",
            key,
            Action.REPAIRED,
            f"project {project_raw} does not exist: imported without a project",
        )
        return None

    def _require_character_and_project(self, row: Row, raw: dict[str, Any]) -> None:
        """v2 requires a character and a project for PM and specialist sessions."""
        if row["session_type"].is_assistant:
            return
        missing = [
            name
            for name, value in (("agent", row["character_id"]), ("project", row["project_id"]))
            if value is None
        ]
        if not missing:
            return
        row["context"]["v1_session_type"] = row["session_type"].value
        self._report.add(
            "sessions",
            row["id"],
            Action.REPAIRED,
            f"{row['session_type'].value} session without {' or '.join(missing)}: "
            "imported as an 'assistant' session",
            v1_agent_id=as_text(raw.get("agent_id")),
        )
        row["session_type"] = SessionType.ASSISTANT

    def _character_for(self, agent_id: object, referenced_by: str) -> uuid.UUID | None:
        """The character of a v1 agent id; '' and NULL mean no agent."""
        if not isinstance(agent_id, str) or not agent_id:
            return None
        known = self._definitions.index.characters.get(agent_id)
        if known is not None:
            return known
        return self._definitions.add_placeholder(
            agent_id, self._agent_names.get(agent_id), referenced_by
        )

    def _placeholder_session(self, raw_id: str, reason: str) -> Row:
        """A session for rows (messages, files) whose v1 session does not exist."""
        session_id = stable_uuid(raw_id, "sessions") or derived_uuid("sessions", "missing")
        row: Row = {
            "id": session_id,
            "character_id": None,
            "project_id": None,
            "task_id": None,
            "session_type": SessionType.ASSISTANT,
            "cli_backend": CliBackend.CLAUDE,
            "status": SessionStatus.COMPLETED,
            "claude_session_id": None,
            "context": {
                "description": f"Recovered from missing v1 session {raw_id}",
                "v1_session_id": raw_id,
            },
            "error_message": None,
            "next_sequence": 0,
            "started_at": None,
            "created_at": self._now,
            "updated_at": self._now,
            "deleted_at": None,
        }
        self._sessions[raw_id] = row
        self._session_ids[session_id] = row
        self._seen["sessions"].add(session_id)
        self._plan.sessions.append(row)
        self._report.counts["sessions"].planned += 1
        self._report.counts["sessions"].added += 1
        self._report.add(
            "sessions",
            session_id,
            Action.REPAIRED,
            f"{reason} refer to missing session {raw_id!r}: created an assistant session "
            "to hold them",
            v1_session_id=raw_id,
        )
        return row

    def _session_of(self, raw_id: object, referenced_by: str) -> Row:
        found = find_planned(raw_id, "sessions", self._sessions, self._session_ids)
        return found or self._placeholder_session(
            "" if raw_id is None else str(raw_id), referenced_by
        )

    # ------------------------------------------------------------ messages

    def _add_messages(self) -> None:
        rows = self._export.rows("messages")
        self._report.counts["messages"].source = len(rows)
        grouped: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
        for raw in rows:
            session = self._session_of(raw.get("session_id"), "messages")
            grouped[session["id"]].append(raw)
        planner = MessagePlanner(self._report, self._read)
        for session_id, raws in grouped.items():
            session = self._session_ids[session_id]
            pairs = planner.plan_session(session, sorted(raws, key=message_order_key))
            self._plan.messages.extend(row for _, row in pairs)
            self._plan.expected[session_id] = [
                _content_text(source.get("content")) for source, _ in pairs
            ]
        self._report.counts["messages"].planned = len(self._plan.messages)

    # ------------------------------------------------------------ session files

    def _add_session_files(self) -> None:
        """v2 has no attachments table: each file's metadata goes into its session's
        ``context["v1_files"]``; the files themselves stay in the project folder."""
        rows = self._export.rows("session_files")
        self._report.counts["session_files"].source = len(rows)
        for raw in sorted(rows, key=_creation_key):
            session = self._session_of(raw.get("session_id"), "session files")
            entry = {key: value for key, value in raw.items() if key not in {"extracted_content"}}
            session["context"].setdefault("v1_files", []).append(clean_json(entry))
            self._report.counts["session_files"].planned += 1

    # ------------------------------------------------------------ PM links

    def _link_pms(self) -> None:
        """Keep a project's PM only when both its agent and its PM session check out."""
        for project in self._plan.projects:
            raw = project.pop("_v1")
            agent_raw, session_raw = raw.get("pm_agent_id"), raw.get("pm_session_id")
            if not agent_raw and not session_raw:
                continue
            session = self._sessions.get(str(session_raw)) if session_raw else None
            problem = self._pm_problem(project, session)
            if problem is not None or session is None:
                self._report.add(
                    "projects",
                    project["id"],
                    Action.REPAIRED,
                    f"PM not kept: {problem}",
                    pm_agent_id=as_text(agent_raw),
                    pm_session_id=as_text(session_raw),
                )
                continue
            self._plan.pm_links[project["id"]] = (session["character_id"], session["id"])

    @staticmethod
    def _pm_problem(project: Row, session: Row | None) -> str | None:
        if session is None:
            return "the PM session does not exist"
        if session["project_id"] != project["id"]:
            return "the PM session belongs to another project"
        if session["session_type"] != SessionType.PM:
            return f"the PM session is a {session['session_type'].value} session"
        if session["character_id"] is None:
            return "the PM session has no agent"
        return None

    # ------------------------------------------------------------ activity

    def _add_activity(self) -> None:
        rows = self._export.rows("activity_logs")
        self._report.counts["activity_logs"].source = len(rows)
        for raw in sorted(rows, key=_creation_key):
            row = self._activity_row(raw)
            if row is not None:
                self._plan.activity_logs.append(row)
                self._report.counts["activity_logs"].planned += 1

    def _activity_row(self, raw: dict[str, Any]) -> Row | None:
        activity_id = self._read.row_id("activity_logs", raw, self._seen["activity_logs"])
        if activity_id is None:
            return None
        key = str(activity_id)
        data = self._read.json_object("activity_logs", key, "event_data", raw.get("event_data"))
        session_id = self._activity_session(key, raw.get("session_id"), data)
        row: Row = {
            "id": activity_id,
            "session_id": session_id,
            "project_id": self._activity_project(session_id, data),
            "event_type": self._event_type(key, raw.get("event_type"), data),
            "event_data": data,
            "created_at": self._read.timestamp("activity_logs", key, raw, "created_at", self._now),
        }
        return row

    def _event_type(self, key: str, raw: object, data: dict[str, Any]) -> EventType:
        value = as_text(raw) or ""
        try:
            event_type = EventType(value)
        except ValueError:
            event_type = closest_event_type(value)
        else:
            if event_type not in {EventType.IMPORT_COMPLETED, EventType.IMPORT_UNDONE}:
                return event_type
        data["v1_event_type"] = value
        self._report.add(
            "activity_logs",
            key,
            Action.MAPPED,
            f"unknown event type {value!r}: imported as {event_type.value!r}",
        )
        return event_type

    def _activity_session(self, key: str, raw: object, data: dict[str, Any]) -> uuid.UUID | None:
        if raw is None or raw == "":
            return None
        session = self._sessions.get(str(raw))
        if session is not None:
            return uuid.UUID(str(session["id"]))
        data["v1_session_id"] = str(raw)
        self._report.add(
            "activity_logs",
            key,
            Action.REPAIRED,
            f"session {raw} does not exist: kept without a session link",
        )
        return None

    def _activity_project(self, session_id: uuid.UUID | None, data: dict[str, Any]) -> Any:
        if session_id is not None:
            return self._session_ids[session_id]["project_id"]
        project = self._projects.get(str(data.get("project_id")))
        return project["id"] if project else None

    # ------------------------------------------------------------ profile

    def _add_profile(self) -> None:
        rows = sorted(
            self._export.rows("user_profiles"),
            key=lambda raw: parse_timestamp(raw.get("updated_at")) or self._now,
            reverse=True,
        )
        self._report.counts["user_profiles"].source = len(rows)
        if not rows:
            return
        newest, *others = rows
        for other in others:
            self._report.add(
                "user_profiles",
                other.get("id"),
                Action.SKIPPED,
                "v2 keeps one profile: the most recently updated v1 profile was imported",
            )
        key = str(newest.get("id"))
        settings = self._read.json_object("user_profiles", key, "settings", newest.get("settings"))
        created = self._read.timestamp("user_profiles", key, newest, "created_at", self._now)
        self._plan.profile = {
            "id": stable_uuid(newest.get("id"), "user_profiles") or uuid.uuid4(),
            "settings": profile_settings(settings),
            "created_at": created,
            "updated_at": self._read.timestamp("user_profiles", key, newest, "updated_at", created),
        }
        self._report.counts["user_profiles"].planned = 1

    # ------------------------------------------------------------ other tables

    def _report_other_tables(self) -> None:
        for table, rows in self._export.tables.items():
            if table == "alembic_version":
                for row in rows:
                    self._report.add(
                        table,
                        as_text(row.get("version_num")),
                        Action.SKIPPED,
                        "v1 schema version marker, not user data",
                    )
                self._report.counts[table].source = len(rows)
            elif table not in KNOWN_TABLES:
                self._report.counts[table].source = len(rows)
                self._report.add(
                    table,
                    None,
                    Action.SKIPPED,
                    f"unknown table with {len(rows)} rows: not imported (kept in export.json)",
                )
                self._report.counts[table].not_imported = len(rows)

    def _report_unknown_columns(self) -> None:
        """A column the importer does not read is named in the report, never dropped
        silently (its values are in export.json)."""
        for table, known in KNOWN_COLUMNS.items():
            rows = self._export.rows(table)
            columns = dict.fromkeys(column for row in rows for column in row)
            for column in columns:
                if column in known:
                    continue
                filled = sum(1 for row in rows if row.get(column) not in (None, ""))
                self._report.add(
                    f"{table}.{column}",
                    None,
                    Action.SKIPPED,
                    f"unknown column {column!r} of {table} ({filled} of {len(rows)} rows have "
                    "a value): not imported (kept in export.json)",
                    values=_value_counts(rows, column),
                )


def _value_counts(rows: list[dict[str, Any]], column: str, most: int = 10) -> dict[str, int]:
    """How often the column's most common values occur, for the report."""
    counts = Counter(as_text(row.get(column)) or "" for row in rows)
    return dict(counts.most_common(most))


def profile_settings(v1_settings: dict[str, Any]) -> dict[str, Any]:
    """v1 ``onboarding_*`` keys become v2's ``onboarding`` section; other keys are kept
    as client preferences."""
    settings = default_settings()
    remaining = dict(v1_settings)
    if "onboarding_completed" in remaining:
        settings["onboarding"]["completed"] = remaining.pop("onboarding_completed") is True
    if "onboarding_team" in remaining:
        team = remaining.pop("onboarding_team")
        settings["onboarding"]["team"] = team if isinstance(team, str) else None
    settings["preferences"] = remaining
    return settings


def _agent_names(messages: Iterable[dict[str, Any]]) -> dict[str, str]:
    """The display name v1 recorded for each agent id, for placeholder characters."""
    names: dict[str, str] = {}
    for message in messages:
        agent_id, name = message.get("agent_id"), message.get("agent_name")
        if isinstance(agent_id, str) and agent_id and isinstance(name, str) and name.strip():
            names.setdefault(agent_id, name.strip())
    return names


def _creation_key(raw: dict[str, Any]) -> tuple[datetime, str]:
    created = parse_timestamp(raw.get("created_at")) or datetime.max.replace(tzinfo=UTC)
    return created, str(raw.get("id"))


def _content_text(content: object) -> str:
    # The same normalisation the message planner applies: NULL -> '' and no NUL chars.
    return clean_text(as_text(content) or "")
