"""The ``git`` command, for importing skills from repositories."""

from kumiai.infrastructure.git.cli import GitCli

__all__ = ["GitCli"]
