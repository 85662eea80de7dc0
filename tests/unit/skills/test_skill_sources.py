"""Reading an import source: GitHub links, git URLs and folders, without any network."""

from __future__ import annotations

import pytest

from kumiai.application.services.skill_sources import (
    GitSource,
    LocalSource,
    parse_skill_source,
    split_tree,
)
from kumiai.core.exceptions import ValidationError

REPO = "https://github.com/anthropics/skills.git"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://github.com/anthropics/skills", GitSource(REPO)),
        ("https://github.com/anthropics/skills.git", GitSource(REPO)),
        ("https://www.github.com/anthropics/skills/", GitSource(REPO)),
        ("github.com/anthropics/skills", GitSource(REPO)),
        ("http://github.com/anthropics/skills", GitSource(REPO)),
        ("https://github.com/anthropics/skills/tree/main", GitSource(REPO, branch="main")),
        (
            "https://github.com/anthropics/skills/tree/main/document-skills/pdf",
            GitSource(REPO, tree=("main", "document-skills", "pdf")),
        ),
        (
            "https://github.com/anthropics/skills/blob/main/pdf/SKILL.md",
            GitSource(REPO, tree=("main", "pdf")),
        ),
    ],
)
def test_github_links_become_the_clone_url_with_branch_and_folder(
    link: str, expected: GitSource
) -> None:
    assert parse_skill_source(link) == expected


def test_the_branch_of_a_tree_link_is_the_longest_run_of_segments_naming_a_ref() -> None:
    source = GitSource(REPO, tree=("feature", "x", "skills", "pdf"))

    assert split_tree(source, {"main", "feature/x"}) == GitSource(
        REPO, branch="feature/x", path="skills/pdf"
    )
    assert split_tree(source, {"main"}) == GitSource(REPO, branch="feature", path="x/skills/pdf")
    assert split_tree(GitSource(REPO, tree=("v1.0", "pdf")), {"main", "v1.0"}) == GitSource(
        REPO, branch="v1.0", path="pdf"
    )


def test_a_tree_link_cannot_lead_out_of_the_repository() -> None:
    with pytest.raises(ValidationError, match="inside the repository"):
        split_tree(GitSource(REPO, tree=("main", "..", "..", "etc")), {"main"})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("git@github.com:owner/repo.git", "ssh://git@github.com/owner/repo.git"),
        ("ssh://git@github.com/owner/repo.git", "ssh://git@github.com/owner/repo.git"),
        ("https://gitlab.com/group/sub/repo.git", "https://gitlab.com/group/sub/repo.git"),
        ("git://example.org/repo.git", "git://example.org/repo.git"),
    ],
)
def test_other_git_urls_are_cloned_as_given(source: str, expected: str) -> None:
    assert parse_skill_source(source) == GitSource(expected)


def test_a_git_url_takes_its_branch_and_folder_as_fields() -> None:
    parsed = parse_skill_source(
        "https://gitlab.com/group/repo.git", branch="beta", path="/skills/pdf/"
    )
    assert parsed == GitSource(
        "https://gitlab.com/group/repo.git", branch="beta", path="skills/pdf"
    )


def test_file_urls_are_accepted_only_when_allowed() -> None:
    with pytest.raises(ValidationError, match="only https://"):
        parse_skill_source("file:///srv/repo.git")
    allowed = parse_skill_source("file:///srv/repo.git", allow_file_urls=True)
    assert allowed == GitSource("file:///srv/repo.git")


def test_absolute_folders_are_local_sources() -> None:
    assert parse_skill_source(" /srv/skills/pdf/ ") == LocalSource("/srv/skills/pdf")


@pytest.mark.parametrize(
    ("source", "fields", "fragment"),
    [
        ("ftp://example.org/repo.git", {}, "only https://"),
        ("ext::sh -c touch% /tmp/pwned", {}, "spaces"),
        ("https:///repo.git", {}, "no host"),
        ("https://example.org/repo.git#main", {}, "as fields"),
        ("file://host/srv/repo.git", {"allow_file_urls": True}, "absolute path"),
        ("https://github.com/anthropics", {}, "owner and a repository"),
        ("https://github.com/anthropics/skills/issues/3", {}, "folder"),
        ("relative/folder", {}, "absolute"),
        ("/srv/skills/pdf", {"branch": "main"}, "only apply to git URLs"),
        ("https://example.org/repo.git", {"branch": "-x"}, "branch"),
        ("https://example.org/repo.git", {"branch": "a..b"}, "branch"),
        ("https://example.org/repo.git", {"path": "../up"}, "inside the repository"),
        ("https://github.com/o/r/tree/main/pdf", {"branch": "main"}, "leave branch and path out"),
        ("https://github.com/o/r/tree/main", {"branch": "beta"}, "names branch 'main'"),
        ("", {}, "empty"),
    ],
)
def test_bad_sources_are_refused_with_the_reason(
    source: str, fields: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ValidationError, match=fragment):
        parse_skill_source(source, **fields)  # type: ignore[arg-type]


def test_an_access_token_in_a_refused_url_is_not_echoed() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_skill_source("https://ghp_token@github.com/anthropics")
    assert "ghp_token" not in refused.value.message
    assert "ghp_token" not in str(refused.value.details)
