"""The layout of the KumiAI home folder (``KUMIAI_HOME``, ``~/.kumiai`` by default)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class HomeLayout:
    """Names the folders inside the KumiAI home folder."""

    home: Path

    @property
    def characters_dir(self) -> Path:
        """One folder per character, each holding ``agent.md``."""
        return self.home / "characters"

    @property
    def skills_dir(self) -> Path:
        """One folder per skill, each holding ``SKILL.md``."""
        return self.home / "skills"

    @property
    def projects_dir(self) -> Path:
        """Default parent of project folders created without an explicit path."""
        return self.home / "projects"

    @property
    def mcp_servers_file(self) -> Path:
        """Optional list of MCP servers, in the format of Claude Code's ``.mcp.json``."""
        return self.home / "mcp_servers.json"

    @property
    def pgdata_dir(self) -> Path:
        """Data directory of the embedded PostgreSQL server."""
        return self.home / "pgdata"

    @property
    def uploads_dir(self) -> Path:
        """Staged chat attachments awaiting commit."""
        return self.home / "uploads"

    @property
    def imports_dir(self) -> Path:
        """Audit trails and backups written by ``kumiai import-v1``."""
        return self.home / "imports"
