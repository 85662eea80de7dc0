from __future__ import annotations

from fastapi import Response, status

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.schemas import Envelope
from kumiai.api.v2.definitions import DefinitionRoutes, Ref
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.files import FileContent, FileEntryView, FileWrite
from kumiai.application.dtos.skills import (
    SkillCreate,
    SkillDetail,
    SkillImport,
    SkillImportResult,
    SkillUpdate,
    SkillView,
)
from kumiai.application.services.skills import SKILLS

router = FlatRouter(prefix="/skills", tags=["skills"])


routes = DefinitionRoutes(SKILLS, lambda container: container.skills, SkillDetail)
routes.add_collection(router, create=SkillCreate, listed=SkillView)


@router.post("/import", status_code=status.HTTP_201_CREATED, responses=errors(409, 413, 422))
async def import_skills(data: SkillImport, container: ContainerDep) -> Envelope[SkillImportResult]:
    """Import the skill at a GitHub link, a git URL or a folder, or every skill below it.

    A git source is shallow-cloned (optionally one `branch`, then the folder `path`),
    into a temporary folder that is removed afterwards. Links and special files are
    left out and listed in `skipped`. A taken skill id is a 409, a repository above the
    size limit a 413; a bad URL, a missing branch or folder, no SKILL.md, an
    unreachable repository or a missing `git` a 422 that says which.
    """
    return Envelope(data=await container.skills.import_skills(data))


routes.add_members(
    router,
    update=SkillUpdate,
    get_description="The skill with the body of its SKILL.md as `content`.",
    get_errors=(404, 422),
)


@router.get("/{ref}/files", responses=errors(404))
async def list_skill_files(ref: Ref, container: ContainerDep) -> Envelope[list[FileEntryView]]:
    """Every file and folder in the skill's folder, as one flat list."""
    return Envelope(data=await container.skills.list_files(ref))


@router.get("/{ref}/files/{path:path}", responses=errors(400, 404, 413, 422))
async def read_skill_file(ref: Ref, path: str, container: ContainerDep) -> Envelope[FileContent]:
    """A file's content: UTF-8 text as is, anything else base64-encoded.

    `path` is relative to the skill's folder; a path leading out of it is a 400.
    """
    return Envelope(data=await container.skills.read_file(ref, path))


@router.put("/{ref}/files/{path:path}", responses=errors(400, 404, 409, 422))
async def write_skill_file(
    ref: Ref, path: str, data: FileWrite, container: ContainerDep
) -> Envelope[FileContent]:
    """Create or replace a file, with any missing folders.

    Writing SKILL.md also updates the skill from its front matter (422 if malformed).
    """
    return Envelope(data=await container.skills.write_file(ref, path, data))


@router.delete(
    "/{ref}/files/{path:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(400, 404, 422),
)
async def delete_skill_file(ref: Ref, path: str, container: ContainerDep) -> None:
    """Delete a file or a folder with its contents; SKILL.md cannot be deleted (422)."""
    await container.skills.delete_file(ref, path)
