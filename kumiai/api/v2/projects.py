from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.schemas import Envelope, ListEnvelope
from kumiai.api.v2.common import PageDep, list_envelope
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.files import FileContent, FileEntryView
from kumiai.application.dtos.projects import (
    PmAssignment,
    ProjectCreate,
    ProjectUpdate,
    ProjectView,
)

router = FlatRouter(prefix="/projects", tags=["projects"])


@router.post("", status_code=201, responses=errors(409, 422))
async def create_project(data: ProjectCreate, container: ContainerDep) -> Envelope[ProjectView]:
    """Create the project folder (default: under `$KUMIAI_HOME/projects`) with `PROJECT.md`.

    Team members and the PM are given by UUID or slug; a PM gets its PM session at once.
    """
    return Envelope(data=await container.projects.create(data))


@router.get("", responses=errors(422))
async def list_projects(
    page: PageDep,
    container: ContainerDep,
    archived: Annotated[
        bool | None, Query(description="Only archived (true) or active (false) projects.")
    ] = None,
) -> ListEnvelope[ProjectView]:
    """Live projects, oldest first."""
    projects = await container.projects.list_projects(page, archived=archived)
    return list_envelope(projects, ProjectView.model_validate)


@router.get("/{project_id}", responses=errors(404, 422))
async def get_project(project_id: UUID, container: ContainerDep) -> Envelope[ProjectView]:
    return Envelope(data=await container.projects.get(project_id))


@router.patch("/{project_id}", responses=errors(404, 422))
async def update_project(
    project_id: UUID, changes: ProjectUpdate, container: ContainerDep
) -> Envelope[ProjectView]:
    """Change only the fields present in the body; `description: null` clears it."""
    return Envelope(data=await container.projects.update(project_id, changes))


@router.delete("/{project_id}", status_code=204, responses=errors(404, 422))
async def delete_project(project_id: UUID, container: ContainerDep) -> None:
    """Soft-delete the project and its sessions; the folder stays on disk."""
    await container.projects.delete(project_id)


@router.delete("/{project_id}/permanent", status_code=204, responses=errors(404, 422))
async def delete_project_permanently(project_id: UUID, container: ContainerDep) -> None:
    """Remove the project row with its sessions and messages; the folder stays on disk."""
    await container.projects.delete_permanently(project_id)


@router.post("/{project_id}/archive", responses=errors(404, 422))
async def archive_project(project_id: UUID, container: ContainerDep) -> Envelope[ProjectView]:
    return Envelope(data=await container.projects.archive(project_id))


@router.post("/{project_id}/unarchive", responses=errors(404, 422))
async def unarchive_project(project_id: UUID, container: ContainerDep) -> Envelope[ProjectView]:
    return Envelope(data=await container.projects.unarchive(project_id))


@router.post("/{project_id}/pm", responses=errors(404, 409, 422))
async def assign_pm(
    project_id: UUID, body: PmAssignment, container: ContainerDep
) -> Envelope[ProjectView]:
    """Make the character the PM: its PM session of this project is reused (and resumed if
    it ended), else a new one is created; a previous PM's session is cancelled."""
    return Envelope(data=await container.projects.assign_pm(project_id, body.character_id))


@router.delete("/{project_id}/pm", status_code=204, responses=errors(404, 409, 422))
async def remove_pm(project_id: UUID, container: ContainerDep) -> None:
    """Clear the PM and cancel its session (409 if the project has no PM)."""
    await container.projects.remove_pm(project_id)


@router.get("/{project_id}/files", responses=errors(404, 422))
async def list_project_files(
    project_id: UUID, container: ContainerDep
) -> Envelope[list[FileEntryView]]:
    """The project folder as one flat, recursive list, directories included."""
    return Envelope(data=await container.projects.list_files(project_id))


@router.get("/{project_id}/files/{path:path}", responses=errors(400, 404, 413, 422))
async def read_project_file(
    project_id: UUID, path: str, container: ContainerDep
) -> Envelope[FileContent]:
    """A file's content: text as is, binary as base64. Paths leaving the folder are a 400."""
    return Envelope(data=await container.projects.read_file(project_id, path))
