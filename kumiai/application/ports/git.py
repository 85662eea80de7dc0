"""The port to git: shallow clones of the repositories skills are imported from.

The adapter (``kumiai.infrastructure.git``) runs the ``git`` command off the event
loop with a time and size limit, never runs hooks or asks for credentials, and
reports every failure as a ``KumiAIError`` that names the problem.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol


class GitRepositories(Protocol):
    async def remote_refs(self, url: str) -> list[str]:
        """The names of the remote's branches and tags, e.g. ``main``, ``v1.0``."""
        ...

    def checkout(self, url: str, branch: str | None, path: str) -> AbstractAsyncContextManager[str]:
        """Clone the tip of ``branch`` (the default branch when None) into a temporary
        folder and yield the absolute path of ``path`` inside it ('' for the root).

        The folder is removed when the context exits. A missing branch or folder, an
        unreachable repository, a clone that takes too long or a missing ``git`` is a
        ``ValidationError``; a repository above the size limit is a
        ``PayloadTooLargeError``. A root folder is named after the repository.
        """
        ...
