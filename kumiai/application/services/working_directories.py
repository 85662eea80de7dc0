"""Where a session's agent works: its project's folder, or a folder of the server's own.

Kept apart from the turn machinery because the session services check client-given
folders against the same rules the turns use.
"""

from __future__ import annotations

import posixpath
from pathlib import PurePath

from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import Project, Session
from kumiai.domain.value_objects import SessionType

ASSISTANT_FOLDERS = {
    SessionType.SKILL_ASSISTANT: "skills",
    SessionType.AGENT_ASSISTANT: "characters",
    SessionType.ASSISTANT: "workspace",
}


class WorkingDirectories:
    """Where a session's file tools work: its project, or a folder for its kind.

    The server chooses: a client may name a folder (``context.project_path``) only
    inside one of the server's own folders for sessions without a project, the
    libraries and the workspace, so no request can hand an agent the rest of the disk.
    """

    def __init__(self, home: PurePath) -> None:
        self._home = home
        self._own_roots = [str(home / folder) for folder in sorted(set(ASSISTANT_FOLDERS.values()))]

    def allowed_roots(self, project: Project | None = None) -> list[str]:
        own = list(self._own_roots)
        return [project.path, *own] if project is not None else own

    def for_session(self, session: Session, project: Project | None) -> str:
        if project is not None:
            return project.path
        given = session.context.get("project_path")
        if isinstance(given, str) and given.strip() and self._inside(given, self._own_roots):
            return posixpath.normpath(given)
        # Anything else (an older or imported session, say) gets the server's folder.
        return str(self._home / ASSISTANT_FOLDERS.get(session.session_type, "workspace"))

    def check_client_path(self, given: object, project: Project | None) -> None:
        """422 unless ``given`` is an absolute folder inside an allowed root."""
        roots = self.allowed_roots(project)
        if isinstance(given, str) and self._inside(given, roots):
            return
        raise ValidationError(
            f"context.project_path must be an absolute folder inside {', '.join(roots)}",
            details={"field": "context.project_path", "allowed_roots": roots},
        )

    @staticmethod
    def _inside(given: str, roots: list[str]) -> bool:
        if "\x00" in given or not posixpath.isabs(given):
            return False
        # normpath folds ".." away, so "<root>/../../etc" is judged as "/etc". Compared
        # as strings, component by component (every turn asks: pure paths cost more).
        folder = posixpath.normpath(given)
        return any(_within(folder, posixpath.normpath(root)) for root in roots)


def _within(folder: str, root: str) -> bool:
    """Whether normalised ``folder`` is ``root`` or inside it."""
    return folder == root or folder.startswith(root if root.endswith("/") else root + "/")
