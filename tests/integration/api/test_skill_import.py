"""Importing skills from git repositories served over file:// and a loopback git daemon."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kumiai.core.config import Settings, load_settings
from kumiai.infrastructure.git import GitCli
from tests.support.git_repos import (
    bare_repository,
    file_url,
    git_daemon,
    silent_server,
    skill_md,
)

URL = "/api/v2/skills/import"
V1_URL = "/api/v1/skills/import"


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    """file:// allowed and a 256 KiB size limit; a test may change them with
    ``@pytest.mark.parametrize("settings", [{...}], indirect=True)``."""
    overrides = {
        "skill_import_allow_file_urls": True,
        "skill_import_timeout": 30,
        "skill_import_max_bytes": 256 * 1024,
        **getattr(request, "param", {}),
    }
    return load_settings(
        home=tmp_path / "home", database_url=database_url, _env_file=None, **overrides
    )


@pytest.fixture(autouse=True)
def clone_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where clones go, so a test can see that none is left behind."""
    folder = tmp_path / "clones"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture(scope="module")
def repositories(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repositories every test reads; tests never change them."""
    root = tmp_path_factory.mktemp("repositories")
    bare_repository(
        root,
        "pdf-tools",
        {
            "SKILL.md": skill_md("PDF Tools", body="Split PDFs."),
            "scripts/split.py": "print('split')\n",
        },
        branches={"beta": {"SKILL.md": skill_md("PDF Tools", body="Beta steps.")}},
    )
    bare_repository(
        root,
        "collection",
        {
            "README.md": "Several skills.\n",
            "skills/docx/SKILL.md": skill_md("Word Files"),
            "skills/docx/reference.md": "Tables.\n",
            "skills/xlsx/SKILL.md": skill_md("Spreadsheets"),
            "skills/xlsx/escape": ("->", "../../../../etc/passwd"),
            "docs/guide.md": "Not a skill.\n",
        },
    )
    bare_repository(root, "no-skills", {"README.md": "Nothing here.\n"})
    bare_repository(root, "big", {"SKILL.md": skill_md("Big"), "blob.bin": "x" * 400_000})
    return root


@pytest.fixture(scope="module")
def daemon(repositories: Path) -> Iterator[str]:
    with git_daemon(repositories) as base_url:
        yield base_url


async def import_skills(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post(URL, json=body)


def imported(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def clones_left(folder: Path) -> list[Path]:
    return list(folder.iterdir())


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return response.json()["error"]["message"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------- what gets imported


async def test_a_whole_repository_holding_one_skill_is_imported_and_indexed(
    client: httpx.AsyncClient, settings: Settings, repositories: Path, clone_folder: Path
) -> None:
    result = imported(await import_skills(client, source=file_url(repositories / "pdf-tools.git")))

    [skill] = result["skills"]
    assert (skill["slug"], skill["name"], skill["content"]) == (
        "pdf-tools",
        "PDF Tools",
        "Split PDFs.",
    )
    folder = settings.home / "skills" / "pdf-tools"
    assert (folder / "scripts" / "split.py").read_text() == "print('split')\n"
    assert not (folder / ".git").exists()
    listed = await client.get("/api/v2/skills/pdf-tools")
    assert listed.json()["data"] == skill
    assert clones_left(clone_folder) == []


async def test_a_subfolder_over_the_git_daemon_imports_just_that_skill(
    client: httpx.AsyncClient, daemon: str, settings: Settings
) -> None:
    result = imported(
        await import_skills(client, source=f"{daemon}/collection.git", path="skills/docx")
    )

    assert [skill["slug"] for skill in result["skills"]] == ["docx"]
    assert (settings.home / "skills" / "docx" / "reference.md").read_text() == "Tables.\n"
    assert not (settings.home / "skills" / "xlsx").exists()


async def test_a_branch_is_cloned_instead_of_the_default(
    client: httpx.AsyncClient, daemon: str
) -> None:
    result = imported(
        await import_skills(client, source=f"{daemon}/pdf-tools.git", branch="beta", slug="pdf")
    )

    assert [(skill["slug"], skill["content"]) for skill in result["skills"]] == [
        ("pdf", "Beta steps.")
    ]


async def test_every_skill_below_the_folder_is_imported_and_links_are_reported(
    client: httpx.AsyncClient, repositories: Path, settings: Settings
) -> None:
    result = imported(await import_skills(client, source=file_url(repositories / "collection.git")))

    assert sorted(skill["name"] for skill in result["skills"]) == ["Spreadsheets", "Word Files"]
    assert result["skipped"] == [
        {"path": "skills/xlsx/escape", "reason": "symbolic link or special file: not copied"}
    ]
    escape = settings.home / "skills" / "xlsx" / "escape"
    assert not escape.exists() and not escape.is_symlink()
    names = [skill["name"] for skill in (await client.get("/api/v2/skills")).json()["data"]]
    assert sorted(names) == ["Spreadsheets", "Word Files"]


async def test_the_v1_import_dialog_gets_the_first_skill_and_a_message(
    client: httpx.AsyncClient, repositories: Path
) -> None:
    response = await client.post(V1_URL, json={"source": file_url(repositories / "collection.git")})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    assert body["skill"]["id"] == "docx"
    assert body["message"].startswith("Imported 2 skills: 'Word Files' as 'docx'")
    assert "skills/xlsx/escape" in body["message"]


async def test_user_configured_hooks_never_run_during_a_clone(
    client: httpx.AsyncClient,
    repositories: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    marker = tmp_path / "hook-ran"
    hook = hooks / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    config = tmp_path / "gitconfig"
    config.write_text(f"[core]\n\thooksPath = {hooks}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))

    imported(await import_skills(client, source=file_url(repositories / "pdf-tools.git")))

    assert not marker.exists()


# ---------------------------------------------------------------- bad input


async def test_a_missing_branch_is_a_422_naming_it(
    client: httpx.AsyncClient, daemon: str, clone_folder: Path
) -> None:
    response = await import_skills(client, source=f"{daemon}/pdf-tools.git", branch="nope")
    assert "branch 'nope' not found" in error(response, 422)
    assert clones_left(clone_folder) == []


async def test_a_missing_folder_is_a_422_naming_it(
    client: httpx.AsyncClient, repositories: Path, clone_folder: Path
) -> None:
    response = await import_skills(
        client, source=file_url(repositories / "collection.git"), path="skills/pptx"
    )
    assert "folder 'skills/pptx' not found" in error(response, 422)
    assert clones_left(clone_folder) == []


async def test_a_repository_without_skill_md_is_a_422(
    client: httpx.AsyncClient, repositories: Path
) -> None:
    response = await import_skills(client, source=file_url(repositories / "no-skills.git"))
    assert "no SKILL.md" in error(response, 422)


async def test_a_missing_repository_is_a_422_with_gits_reason(
    client: httpx.AsyncClient, daemon: str
) -> None:
    response = await import_skills(client, source=f"{daemon}/missing.git")
    assert error(response, 422).startswith(f"could not clone {daemon}/missing.git: fatal:")


async def test_a_taken_slug_is_a_409_and_nothing_is_imported(
    client: httpx.AsyncClient, repositories: Path, settings: Settings
) -> None:
    made = await client.post("/api/v2/skills", json={"name": "Docs", "slug": "xlsx"})
    assert made.status_code == 201

    response = await import_skills(client, source=file_url(repositories / "collection.git"))

    assert "xlsx" in error(response, 409)
    assert not (settings.home / "skills" / "docx").exists()


async def test_a_slug_for_a_source_with_several_skills_is_a_422(
    client: httpx.AsyncClient, repositories: Path
) -> None:
    response = await import_skills(
        client, source=file_url(repositories / "collection.git"), slug="mine"
    )
    assert "holds 2 skills" in error(response, 422)


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("ftp://example.org/repo.git", "only https://"),
        ("https://github.com/anthropics", "owner and a repository"),
        ("not a url", "spaces"),
    ],
)
async def test_a_bad_url_is_a_422_saying_why(
    client: httpx.AsyncClient, source: str, fragment: str
) -> None:
    assert fragment in error(await import_skills(client, source=source), 422)


@pytest.mark.parametrize("settings", [{"skill_import_allow_file_urls": False}], indirect=True)
async def test_file_urls_are_refused_unless_the_settings_allow_them(
    client: httpx.AsyncClient, repositories: Path
) -> None:
    response = await client.post(V1_URL, json={"source": file_url(repositories / "big.git")})
    assert response.status_code == 422
    assert "only https://" in response.json()["detail"]


async def test_a_repository_over_the_size_limit_is_a_413_and_leaves_nothing(
    client: httpx.AsyncClient, repositories: Path, clone_folder: Path, settings: Settings
) -> None:
    response = await import_skills(client, source=file_url(repositories / "big.git"))
    assert "import limit" in error(response, 413)
    assert clones_left(clone_folder) == []
    assert not (settings.home / "skills" / "big").exists()


async def test_without_git_installed_the_import_is_a_422_that_says_so(
    client: httpx.AsyncClient,
    repositories: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    response = await import_skills(client, source=file_url(repositories / "pdf-tools.git"))
    assert "git is not installed" in error(response, 422)


@pytest.mark.parametrize("settings", [{"skill_import_timeout": 1}], indirect=True)
async def test_a_server_that_never_answers_is_a_422_after_the_time_limit(
    client: httpx.AsyncClient, clone_folder: Path
) -> None:
    with silent_server() as port:
        response = await import_skills(client, source=f"git://127.0.0.1:{port}/repo.git")
    assert "longer than 1 s" in error(response, 422)
    assert clones_left(clone_folder) == []


async def test_the_remote_refs_name_every_branch_and_tag(daemon: str, repositories: Path) -> None:
    git = GitCli(protocols=["git"], timeout_seconds=30, max_bytes=1024)
    assert await git.remote_refs(f"{daemon}/pdf-tools.git") == ["beta", "main"]
