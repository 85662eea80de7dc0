"""v1 projects and project files (V1_CONTRACT §2.2, §2.3).

v1 "deletes" a project to archive it, and reads ``deleted_at`` as "archived"; the
hard delete is ``/permanent``. Agents are named by slug.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import Path, Query, Response, status

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.v1.catalog_files import FilePath, inline_file, text_of
from kumiai.api.v1.catalog_shapes import (
    FileWriteBody,
    Project,
    ProjectBody,
    ProjectFileContent,
    Unarchived,
    to_command,
)
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.projects import ProjectCreate, ProjectEdit, ProjectView
from kumiai.composition import Container
from kumiai.core.exceptions import NotFoundError

router = FlatRouter(prefix="/projects", tags=["v1 projects"])

# A string, not a UUID, so a stale or malformed id is a 404 whose text says "not found":
# that is what makes the client forget the project id it remembered.
ProjectId = Annotated[str, Path(max_length=200)]


@router.get("")
async def list_projects(
    container: ContainerDep,
    include_archived: Annotated[bool, Query(description="Also list archived projects.")] = False,
) -> list[Project]:
    """Projects, most recently updated first, so a new project is the one selected."""
    projects = await container.projects.list_all(include_archived=include_archived)
    return await _v1_projects(container, sorted(projects, key=_last_change, reverse=True))


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(409))
async def create_project(body: ProjectBody, container: ContainerDep) -> Project:
    """A new project; without `path` it gets a folder under `$KUMIAI_HOME/projects`.

    With `pm_agent_id` the PM's session is created along with the project.
    """
    project = await container.projects.create(to_command(ProjectCreate, body.fields()))
    return await _v1_project(container, project)


@router.get("/{project_id}")
async def get_project(project_id: ProjectId, container: ContainerDep) -> Project:
    return await _v1_project(container, await container.projects.get(project_uuid(project_id)))


@router.patch("/{project_id}")
async def update_project(
    project_id: ProjectId, body: ProjectBody, container: ContainerDep
) -> Project:
    """Change the keys present; the team is stored as sent. A new `pm_agent_id` becomes
    the PM (its PM session is created or reused); `path` cannot change a project's folder."""
    changes = to_command(ProjectEdit, body.fields())
    return await _v1_project(
        container, await container.projects.edit(project_uuid(project_id), changes)
    )


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def archive_project(project_id: ProjectId, container: ContainerDep) -> None:
    """Archive: the project leaves the default list; its running turns are stopped."""
    await container.projects.archive(project_uuid(project_id))


@router.post("/{project_id}/unarchive")
async def unarchive_project(project_id: ProjectId, container: ContainerDep) -> Unarchived:
    project = await container.projects.unarchive(project_uuid(project_id))
    return Unarchived(message="Project unarchived", project_id=project.id)


@router.delete(
    "/{project_id}/permanent", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def delete_project_permanently(project_id: ProjectId, container: ContainerDep) -> None:
    """Remove the project with its sessions and messages; the folder stays on disk."""
    await container.projects.delete_permanently(project_uuid(project_id))


@router.get("/{project_id}/files/content")
async def read_project_file(
    project_id: ProjectId, file_path: FilePath, container: ContainerDep
) -> ProjectFileContent:
    """A text file of the project folder (relative, or absolute inside the folder)."""
    file = await container.projects.read_file(project_uuid(project_id), file_path)
    return ProjectFileContent(content=text_of(file), path=file_path, readonly=False)


@router.put(
    "/{project_id}/files/content", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def write_project_file(
    project_id: ProjectId, body: FileWriteBody, container: ContainerDep
) -> None:
    """Create or replace a file, with any missing folders."""
    await container.projects.write_file(
        project_uuid(project_id), body.file_path, body.content.encode("utf-8")
    )


@router.delete(
    "/{project_id}/files", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def delete_project_file(
    project_id: ProjectId, file_path: FilePath, container: ContainerDep
) -> None:
    await container.projects.delete_file(project_uuid(project_id), file_path)


@router.get("/{project_id}/files/download", response_class=Response)
async def download_project_file(
    project_id: ProjectId, file_path: FilePath, container: ContainerDep
) -> Response:
    """The file's raw bytes with its content type, shown inline."""
    data = await container.projects.read_bytes(project_uuid(project_id), file_path)
    return inline_file(data, file_path)


def _last_change(project: ProjectView) -> datetime:
    return project.updated_at or project.created_at or datetime.min.replace(tzinfo=UTC)


def project_uuid(project_id: str) -> UUID:
    """The id of a ``ProjectId`` path segment; a malformed one is a 404."""
    try:
        return UUID(project_id)
    except ValueError:
        raise NotFoundError("project", project_id) from None


async def _v1_project(container: Container, project: ProjectView) -> Project:
    return (await _v1_projects(container, [project]))[0]


async def _v1_projects(container: Container, projects: Iterable[ProjectView]) -> list[Project]:
    """The projects with their PM and team named by agent slug."""
    listed = list(projects)
    members = [
        character_id
        for project in listed
        for character_id in (project.pm_character_id, *project.team_character_ids)
    ]
    agents = await container.sessions.agents(members)
    return [Project.of(project, agents) for project in listed]
