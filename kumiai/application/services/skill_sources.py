"""Where a skill import comes from: a folder on this machine or a git repository.

``parse_skill_source`` turns what the user typed into a :class:`LocalSource` or a
:class:`GitSource` without touching the disk or the network. GitHub page links
(``https://github.com/<owner>/<repo>/tree/<branch>/<path>``) become the repository's
clone URL plus the branch and the folder; any other git URL is cloned as given, with
the branch and folder passed separately.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from kumiai.core.exceptions import ValidationError
from kumiai.core.logging import redact_text

# git:// and ssh:// carry no credentials prompt; http(s) is the common case. file:// is
# for tests and local mirrors only, because it reads any repository on this machine.
NETWORK_SCHEMES = ("https", "http", "git", "ssh")
FILE_SCHEME = "file"

_GITHUB_HOSTS = {"github.com", "www.github.com"}
# "user@host:path", git's short form of an ssh URL.
_SCP_LIKE = re.compile(r"^(?P<user>\w[\w.-]*)@(?P<host>\w[\w.-]*):(?P<path>(?!/)\S+)$")
_SCHEME = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://", re.I)
_BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[\w./+@-]+(?<![./])$")


@dataclass(frozen=True)
class LocalSource:
    """An absolute folder on this machine."""

    folder: str


@dataclass(frozen=True)
class GitSource:
    """A repository to clone, the branch (None: the remote's default) and a subfolder.

    ``tree`` holds the segments after GitHub's ``/tree/`` when the link has more than
    one: a branch name may contain slashes, so where the branch ends and the folder
    begins is only known once the remote's branch names are (see ``split_tree``).
    """

    url: str
    branch: str | None = None
    path: str = ""
    tree: tuple[str, ...] = ()


SkillSource = LocalSource | GitSource


def parse_skill_source(
    source: str,
    *,
    branch: str | None = None,
    path: str | None = None,
    allow_file_urls: bool = False,
) -> SkillSource:
    """Read ``source`` as a folder path, a GitHub link or a git URL.

    ``branch`` and ``path`` name the branch and the subfolder of a git source; for a
    GitHub ``/tree/`` link they must agree with the link or be left out.
    """
    text = source.strip()
    if not text or any(char.isspace() or ord(char) < 32 for char in text):
        raise _bad_source(source, "it is empty or contains spaces or control characters")
    chosen_branch = _branch(branch)
    chosen_path = _subfolder(path or "")
    if _is_local(text):
        if chosen_branch is not None or chosen_path:
            raise ValidationError(
                "branch and path only apply to git URLs; give the skill's folder itself",
                details={"field": "source", "value": redact_text(source)},
            )
        return LocalSource(_local_folder(text))
    git = _git_source(text, allow_file_urls)
    return _with_overrides(git, chosen_branch, chosen_path, source)


def split_tree(source: GitSource, refs: Collection[str]) -> GitSource:
    """Settle where the branch ends in a GitHub ``/tree/`` link, given the remote's refs.

    The longest leading run of segments naming a branch or tag wins, so
    ``feature/x/skills/pdf`` with a branch ``feature/x`` is that branch's ``skills/pdf``.
    With no match the first segment is taken as the branch, and the clone reports it
    as missing.
    """
    tree = source.tree
    if not tree:
        return source
    end = next(
        (end for end in range(len(tree), 0, -1) if "/".join(tree[:end]) in refs),
        1,
    )
    branch, path = "/".join(tree[:end]), "/".join(tree[end:])
    return GitSource(source.url, branch=_branch(branch), path=_subfolder(path))


def _is_local(text: str) -> bool:
    if _SCHEME.match(text) or _SCP_LIKE.match(text):
        return False
    return not text.lower().startswith(("github.com/", "www.github.com/"))


def _local_folder(text: str) -> str:
    folder = os.path.expanduser(text)
    # A relative path would depend on the server's working directory.
    if not os.path.isabs(folder):
        raise ValidationError(
            f"the source must be a git URL or an absolute folder path: {text!r}",
            details={"field": "source", "value": text},
        )
    return os.path.normpath(folder)


def _git_source(text: str, allow_file_urls: bool) -> GitSource:
    scp = _SCP_LIKE.match(text)
    if scp is not None:
        # git@github.com:owner/repo.git is ssh://git@github.com/owner/repo.git.
        return GitSource(f"ssh://{scp['user']}@{scp['host']}/{scp['path']}")
    if _SCHEME.match(text) is None:
        text = f"https://{text}"  # github.com/owner/repo, as people often paste it
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    allowed = (*NETWORK_SCHEMES, FILE_SCHEME) if allow_file_urls else NETWORK_SCHEMES
    if scheme not in allowed:
        names = ", ".join(f"{name}://" for name in allowed)
        raise _bad_source(text, f"only {names} URLs can be imported")
    if scheme == FILE_SCHEME:
        if parts.netloc or not parts.path.startswith("/"):
            raise _bad_source(text, "a file:// URL needs an absolute path (file:///...)")
        return GitSource(text)
    if not parts.hostname:
        raise _bad_source(text, "the URL names no host")
    if parts.query or parts.fragment:
        raise _bad_source(text, "give the branch and folder as fields, not as ?query or #fragment")
    if scheme in ("https", "http") and parts.hostname.lower() in _GITHUB_HOSTS:
        return _github(parts.path, text)
    return GitSource(text)


def _github(url_path: str, original: str) -> GitSource:
    """``/<owner>/<repo>[.git][/tree|blob/<branch>/<path>]`` as a clone URL and a folder."""
    segments = [unquote(segment) for segment in url_path.split("/") if segment]
    if len(segments) < 2:
        raise _bad_source(original, "a GitHub link must name an owner and a repository")
    owner, repository = segments[0], segments[1].removesuffix(".git")
    url = f"https://github.com/{owner}/{repository}.git"
    rest = segments[2:]
    if not rest:
        return GitSource(url)
    kind, tree = rest[0], tuple(rest[1:])
    if kind == "blob" and tree and tree[-1] == "SKILL.md":
        kind, tree = "tree", tree[:-1]  # a link to the SKILL.md file means its folder
    if kind != "tree" or not tree:
        raise _bad_source(
            original, "link to the repository or to a folder in it (…/tree/<branch>/<folder>)"
        )
    if len(tree) == 1:
        return GitSource(url, branch=_branch(tree[0]))
    return GitSource(url, tree=tree)


def _with_overrides(git: GitSource, branch: str | None, path: str, source: str) -> GitSource:
    if git.tree:
        if branch is not None or path:
            raise ValidationError(
                "the GitHub link already names a branch and folder; leave branch and path out",
                details={"field": "source", "value": redact_text(source)},
            )
        return git
    if branch is not None and git.branch is not None and branch != git.branch:
        raise ValidationError(
            f"the link names branch {git.branch!r} but branch {branch!r} was given",
            details={"field": "branch", "value": branch},
        )
    return GitSource(git.url, branch=branch or git.branch, path=path)


def _branch(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    name = value.strip()
    if _BRANCH.fullmatch(name) is None:
        raise ValidationError(f"not a valid branch name: {value!r}", details={"field": "branch"})
    return name


def _subfolder(value: str) -> str:
    """A folder inside the repository, ``/``-separated; '' for the repository's root."""
    text = value.strip().strip("/")
    if not text:
        return ""
    normal = posixpath.normpath(text)
    if "\x00" in text or "\\" in text or normal == ".." or normal.startswith("../"):
        raise ValidationError(
            f"the path must be a folder inside the repository: {value!r}",
            details={"field": "path", "value": value},
        )
    return "" if normal == "." else normal


def _bad_source(source: str, reason: str) -> ValidationError:
    shown = redact_text(source)
    return ValidationError(
        f"cannot import from {shown!r}: {reason}", details={"field": "source", "value": shown}
    )
