"""The 2026-03 v1 fixture home: the schema of the current client's backend (82fdb30).

That backend added a ``tasks`` table and two session columns, ``task_id`` and
``cli_backend``, to the 2026-01 schema of ``kumiai-v1-home``. :func:`build_home` writes
a small home in that schema with every kind of task binding the original could leave
behind (it stored any ``task_id`` and left sessions pointing at deleted tasks), and
:func:`manifest` says what an import must make of it.

``tests/fixtures/kumiai-v1-home-2026-03`` and its manifest were written by
``python -m tests.support.v1_home_2026_03 tests/fixtures``; a test rebuilds the home
and compares it with the committed one, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

from tests.support.v1_homes import V1_SCHEMA, agent_md, insert_rows, skill_md

NAME = "kumiai-v1-home-2026-03"
ORIGINAL_HOME = "/home/kumi/.kumiai"
# The original's two migrations of 2026-03 both revise 20260130_0000: two heads.
ALEMBIC_VERSIONS = ("20260305_0000", "add_task_layer_20260308")

# What 82fdb30 added, as SQLAlchemy creates it on SQLite.
SCHEMA_2026_03 = """
CREATE TABLE tasks (
    id CHAR(36) NOT NULL PRIMARY KEY,
    project_id CHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    status VARCHAR(50) DEFAULT 'open' NOT NULL,
    created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL,
    updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL,
    deleted_at DATETIME,
    CONSTRAINT chk_tasks_name_not_empty CHECK (length(trim(name)) > 0),
    CONSTRAINT fk_tasks_project_id FOREIGN KEY(project_id) REFERENCES projects (id)
        ON DELETE CASCADE
);
CREATE INDEX idx_tasks_project_id ON tasks (project_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_tasks_status ON tasks (status) WHERE deleted_at IS NULL;
CREATE INDEX idx_tasks_deleted_at ON tasks (deleted_at);
ALTER TABLE sessions ADD COLUMN task_id CHAR(36) REFERENCES tasks (id) ON DELETE SET NULL;
ALTER TABLE sessions ADD COLUMN cli_backend VARCHAR(50) DEFAULT 'claude' NOT NULL;
CREATE INDEX idx_sessions_task_id ON sessions (task_id)
    WHERE task_id IS NOT NULL AND deleted_at IS NULL;
"""


def fixed_id(name: str) -> str:
    """A stable id, so the committed fixture and a rebuilt one are the same."""
    return str(uuid.uuid5(uuid.UUID("0b6a7f52-3c1d-5e8f-9a2b-4c6d8e0f1a3b"), name))


def _at(day: int, minute: int) -> str:
    return f"2026-03-{day:02d} 10:{minute:02d}:00.000000"


AGENTS = {
    "product-manager": agent_md("Product Manager", skills=["backend-dev"]),
    "backend-developer": agent_md("Backend Developer", skills=["backend-dev"]),
    # The original writes an agent's cli_backend only when it is not claude.
    "frontend-developer": agent_md("Frontend Developer", default_model="opus", cli_backend="codex"),
    "qa-tester": agent_md("QA Tester", cli_backend="cursor"),  # not a backend: repaired
}
SKILLS = {"backend-dev": skill_md("Backend Dev", "APIs and databases", tags=["backend"])}

CHECKOUT, LANDING = fixed_id("project:checkout"), fixed_id("project:landing")
PM_SESSION = fixed_id("session:pm")


def _projects() -> list[dict[str, Any]]:
    def project(key: str, name: str, folder: str, **values: Any) -> dict[str, Any]:
        return {
            "id": key,
            "name": name,
            "description": None,
            "pm_agent_id": None,
            "pm_session_id": None,
            "team_member_ids": "[]",
            "path": f"{ORIGINAL_HOME}/projects/{folder}",
            "created_at": _at(1, 0),
            "updated_at": _at(1, 0),
            "deleted_at": None,
            **values,
        }

    return [
        project(
            CHECKOUT,
            "Checkout Revamp",
            "checkout-revamp-1a2b3c4d",
            pm_agent_id="product-manager",
            pm_session_id=PM_SESSION,
            team_member_ids=json.dumps(["backend-developer", "frontend-developer"]),
        ),
        project(
            LANDING,
            "Landing Page",
            "landing-page-5e6f7a8b",
            team_member_ids=json.dumps(["frontend-developer"]),
        ),
    ]


# key: (project, name, description, status, deleted)
TASKS: dict[str, tuple[str, str, str | None, str, bool]] = {
    "cards": (CHECKOUT, "Card payments", "Visa and Mastercard through the PSP", "open", False),
    "paypal": (CHECKOUT, "PayPal", None, "in_progress", False),
    "receipts": (CHECKOUT, "Receipt emails", "Send a receipt after payment", "done", False),
    "spike": (CHECKOUT, "Old spike", None, "archived", False),
    "abandoned": (CHECKOUT, "Abandoned idea", None, "open", True),
    "hero": (LANDING, "Hero section", "日本語のコピーも ✓", "open", False),
}


def _tasks() -> list[dict[str, Any]]:
    rows = []
    for minute, (key, (project, name, description, status, deleted)) in enumerate(TASKS.items()):
        rows.append(
            {
                "id": fixed_id(f"task:{key}"),
                "project_id": project,
                "name": name,
                "description": description,
                "status": status,
                "created_at": _at(2, minute),
                "updated_at": _at(3, minute),
                "deleted_at": _at(4, minute) if deleted else None,
            }
        )
    return rows


UNKNOWN_TASK = fixed_id("task:never-existed")

# key: (agent, project, type, task key or raw task id, cli_backend, deleted, expected task)
SESSIONS: dict[str, tuple[str, str | None, str, str | None, str, bool, str | None]] = {
    "pm": ("product-manager", CHECKOUT, "pm", None, "claude", False, None),
    "cards": ("backend-developer", CHECKOUT, "specialist", "cards", "claude", False, "cards"),
    "paypal": ("frontend-developer", CHECKOUT, "specialist", "paypal", "claude", False, "paypal"),
    # The original's defect: deleting a task left its sessions pointing at it.
    "orphaned": ("backend-developer", CHECKOUT, "specialist", "abandoned", "claude", False, None),
    "hero": ("frontend-developer", LANDING, "specialist", "hero", "codex", False, "hero"),
    # The original stored any task_id: another project's task, and one that never existed.
    "foreign": ("frontend-developer", LANDING, "specialist", "paypal", "gemini", False, None),
    "unknown": ("backend-developer", CHECKOUT, "specialist", UNKNOWN_TASK, "claude", False, None),
    "unassigned": ("backend-developer", CHECKOUT, "specialist", None, "claude", False, None),
    "retired": (
        "backend-developer",
        CHECKOUT,
        "specialist",
        "receipts",
        "claude",
        True,
        "receipts",
    ),
    "assistant": ("", None, "assistant", None, "claude", False, None),
}


def _task_ref(ref: str | None) -> str | None:
    if ref is None or ref not in TASKS:
        return ref
    return fixed_id(f"task:{ref}")


def _sessions() -> list[dict[str, Any]]:
    rows = []
    for minute, (key, (agent, project, kind, task, cli, deleted, _)) in enumerate(SESSIONS.items()):
        rows.append(
            {
                "id": PM_SESSION if key == "pm" else fixed_id(f"session:{key}"),
                "agent_id": agent,
                "project_id": project,
                "session_type": kind,
                "status": "idle",
                "claude_session_id": None,
                "context": json.dumps({"description": f"Work on {key}"}),
                "error_message": None,
                "created_at": _at(5, minute),
                "updated_at": _at(5, minute),
                "deleted_at": _at(6, minute) if deleted else None,
                "task_id": _task_ref(task),
                "cli_backend": cli,
            }
        )
    return rows


def _messages(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for number, session in enumerate(sessions):
        for sequence, (role, content) in enumerate(
            (("user", f"Please start on {session['id'][:8]}"), ("assistant", f"On it ({number}).")),
        ):
            rows.append(
                {
                    "id": fixed_id(f"message:{session['id']}:{sequence}"),
                    "session_id": session["id"],
                    "role": role,
                    "content": content,
                    "tool_use_id": None,
                    "sequence": sequence,
                    "metadata": "{}",
                    "created_at": _at(7, number),
                    "agent_id": None,
                    "agent_name": None,
                    "from_instance_id": None,
                    "response_id": None,
                }
            )
    return rows


def _other_rows() -> dict[str, list[dict[str, Any]]]:
    return {
        "activity_logs": [
            {
                "id": fixed_id("activity:created"),
                "session_id": PM_SESSION,
                "event_type": "session_created",
                "event_data": "{}",
                "created_at": "2026-03-05 10:00:00",
            }
        ],
        "user_profiles": [
            {
                "id": fixed_id("profile"),
                "settings": json.dumps({"onboarding_completed": True, "onboarding_team": "dev"}),
                "created_at": "2026-03-01 09:00:00",
                "updated_at": "2026-03-01 09:00:00",
            }
        ],
    }


def tables() -> dict[str, list[dict[str, Any]]]:
    """Every row of the home's ``kumiai.db``, by table."""
    sessions = _sessions()
    return {
        "projects": _projects(),
        "tasks": _tasks(),
        "sessions": sessions,
        "messages": _messages(sessions),
        **_other_rows(),
    }


def build_home(root: Path) -> Path:
    """Write the home (``kumiai.db``, agent and skill folders) at ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for kind, definitions, document in (
        ("agents", AGENTS, "CLAUDE.md"),
        ("skills", SKILLS, "SKILL.md"),
    ):
        for folder, text in definitions.items():
            (root / kind / folder).mkdir(parents=True, exist_ok=True)
            (root / kind / folder / document).write_text(text, encoding="utf-8")
    database = root / "kumiai.db"
    database.unlink(missing_ok=True)
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.executescript(V1_SCHEMA + SCHEMA_2026_03)
        connection.executemany(
            "INSERT INTO alembic_version VALUES (?)", [(version,) for version in ALEMBIC_VERSIONS]
        )
        for table, rows in tables().items():
            insert_rows(connection, table, rows)
    return root


def manifest() -> dict[str, Any]:
    """What the home holds and what an import must make of it."""
    rows = tables()
    return {
        "fixture": NAME,
        "format": "kumiai-v1-home",
        "schema": "2026-03 (TrustedAI-CO/kumiai 82fdb30)",
        "original_home": ORIGINAL_HOME,
        "alembic_versions": list(ALEMBIC_VERSIONS),
        "counts": {table: len(values) for table, values in rows.items()},
        "tasks": {
            fixed_id(f"task:{key}"): {
                "project_id": project,
                "name": name,
                "description": description,
                "status": status,
                "deleted": deleted,
            }
            for key, (project, name, description, status, deleted) in TASKS.items()
        },
        "sessions": {
            row["id"]: {
                "v1_task_id": row["task_id"],
                "cli_backend": row["cli_backend"],
                "expected_task_id": _task_ref(SESSIONS[key][6]),
            }
            for key, row in zip(SESSIONS, rows["sessions"], strict=True)
        },
        "bindings_dropped": {
            fixed_id(f"session:{key}"): reason
            for key, reason in (
                ("orphaned", "was deleted"),
                ("foreign", "belongs to another project"),
                ("unknown", "does not exist"),
            )
        },
    }


def main(fixtures: Path) -> None:
    home = fixtures / NAME
    build_home(home)
    text = json.dumps(manifest(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    (fixtures / f"{NAME}.manifest.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
