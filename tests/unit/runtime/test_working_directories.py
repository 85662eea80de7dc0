"""The server, not the client, decides where a session's tools may write."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from kumiai.application.services.working_directories import WorkingDirectories
from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import Project, Session
from kumiai.domain.value_objects import SessionType

HOME = PurePosixPath("/srv/kumiai")
directories = WorkingDirectories(HOME)


def _assistant(kind: SessionType, project_path: str | None = None) -> Session:
    context = {} if project_path is None else {"project_path": project_path}
    return Session.create(kind, context=context)


@pytest.mark.parametrize(
    ("kind", "folder"),
    [
        (SessionType.SKILL_ASSISTANT, "/srv/kumiai/skills"),
        (SessionType.AGENT_ASSISTANT, "/srv/kumiai/characters"),
        (SessionType.ASSISTANT, "/srv/kumiai/workspace"),
    ],
)
def test_an_assistant_without_a_folder_gets_the_servers_folder_for_its_kind(
    kind: SessionType, folder: str
) -> None:
    assert directories.for_session(_assistant(kind), None) == folder


def test_a_folder_inside_an_allowed_root_is_used() -> None:
    session = _assistant(SessionType.SKILL_ASSISTANT, "/srv/kumiai/skills/pdf/../pdf-tools")
    assert directories.for_session(session, None) == "/srv/kumiai/skills/pdf-tools"


@pytest.mark.parametrize(
    "outside",
    [
        "/",
        "/etc",
        "/srv/kumiai",
        "/srv/kumiai/projects/other",
        "/srv/kumiai/workspace/../..",
        "/srv/kumiai/workspace-other",  # a sibling whose name starts like a root's
    ],
)
def test_a_stored_folder_outside_the_roots_falls_back_to_the_servers(outside: str) -> None:
    # Sessions stored before the check (or imported) cannot widen the tools' reach.
    session = _assistant(SessionType.ASSISTANT, outside)
    assert directories.for_session(session, None) == "/srv/kumiai/workspace"


def test_a_projects_folder_always_wins() -> None:
    project = Project.create(name="Apollo", path="/home/me/apollo")
    session = _assistant(SessionType.ASSISTANT, "/srv/kumiai/workspace")
    assert directories.for_session(session, project) == "/home/me/apollo"


@pytest.mark.parametrize(
    "given",
    ["/etc", "relative/folder", "/srv/kumiai/workspace/../../../etc", "/srv/kumiai/x\x00", 7],
)
def test_a_client_folder_outside_the_roots_is_a_422(given: object) -> None:
    with pytest.raises(ValidationError) as caught:
        directories.check_client_path(given, None)
    assert caught.value.details["field"] == "context.project_path"
    assert caught.value.details["allowed_roots"] == [
        "/srv/kumiai/characters",
        "/srv/kumiai/skills",
        "/srv/kumiai/workspace",
    ]


def test_a_project_session_may_name_its_projects_folder() -> None:
    project = Project.create(name="Apollo", path="/home/me/apollo")
    directories.check_client_path("/home/me/apollo/docs", project)
    with pytest.raises(ValidationError):
        directories.check_client_path("/home/me/other", project)
