"""v1 skills (V1_CONTRACT §2.5): skills named by the slug the client chooses.

The static paths (`/search`, `/import`, `/tools/custom`, `/prompt-edit`) are
declared before `/{skill_id}` so they win.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response, status
from fastapi.responses import JSONResponse

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.v1.catalog_files import FilePath, text_of
from kumiai.api.v1.catalog_shapes import (
    FileRenameBody,
    FileWriteBody,
    PromptEditBody,
    PromptEditReceipt,
    Skill,
    SkillBody,
    SkillDetail,
    SkillFileContent,
    SkillImportBody,
    SkillImported,
    SkillSearch,
    SkillSearchHit,
    to_command,
)
from kumiai.api.v1.definition_routes import V1DefinitionRoutes
from kumiai.api.v1.unchecked import array_even_if_unavailable
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.files import FileEntryView, FileWrite
from kumiai.application.dtos.skills import SkillCreate, SkillImport, SkillUpdate
from kumiai.application.dtos.tools import ToolInfo

router = FlatRouter(prefix="/skills", tags=["v1 skills"])

# Its alias also names the parameter of the routes V1DefinitionRoutes adds.
SkillId = Annotated[str, Path(alias="skill_id", max_length=200, description="The skill's slug.")]


@router.get("", response_model=list[Skill])
async def list_skills(container: ContainerDep) -> list[Skill] | JSONResponse:
    """All skills; ``[]`` with status 503 when the database is unavailable."""

    async def load() -> list[Skill]:
        return [Skill.of(skill) for skill in await container.skills.list_all()]

    return await array_even_if_unavailable(load)


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(409))
async def create_skill(body: SkillBody, container: ContainerDep) -> SkillDetail:
    """A new skill with the client's `id` (derived from the name when left out)."""
    data = to_command(SkillCreate, body.creation())
    return SkillDetail.of(await container.skills.create(data))


@router.get("/search")
async def search_skills(
    container: ContainerDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Text to find.")],
) -> SkillSearch:
    """Skills whose name, tags or description contain `q`, best match first."""
    matches = await container.skills.search(q)
    return SkillSearch(query=q, results=[SkillSearchHit.of(match) for match in matches])


@router.post("/import")
async def import_skill(body: SkillImportBody, container: ContainerDep) -> SkillImported:
    """Import the skill at a GitHub link, a git URL or an absolute folder path, or
    every skill folder below it; `skill` is the first one imported."""
    result = await container.skills.import_skills(to_command(SkillImport, body.command()))
    return SkillImported.of(result)


@router.get("/tools/custom")
async def list_tools(container: ContainerDep) -> list[ToolInfo]:
    """The tools KumiAI gives agents: the file tools and the orchestration tools."""
    return container.tools.list_tools()


@router.post("/prompt-edit", responses=errors(404))
async def prompt_edit(body: PromptEditBody, container: ContainerDep) -> PromptEditReceipt:
    """Acknowledge an edit request without running it (no current screen sends one).

    The skill, when named, must exist. Skills are edited with the skill assistant, a
    `skill_assistant` session started through `/sessions/launch`.
    """
    if body.skill_id is not None:
        await container.skills.get(body.skill_id)
    return PromptEditReceipt(
        agent_id="skill_assistant",
        status="acknowledged",
        message="Request received. Ask the skill assistant in the chat to make the edit.",
    )


V1DefinitionRoutes("skill", SkillId, lambda container: container.skills).add_members(
    router, shape=SkillDetail, body=SkillBody, update=SkillUpdate, document="SKILL.md"
)


@router.get("/{skill_id}/files")
async def list_skill_files(skill_id: SkillId, container: ContainerDep) -> list[FileEntryView]:
    """The skill's folder as one flat, recursive list, directories included."""
    return await container.skills.list_files(skill_id)


@router.get("/{skill_id}/files/content")
async def read_skill_file(
    skill_id: SkillId, file_path: FilePath, container: ContainerDep
) -> SkillFileContent:
    file = await container.skills.read_file(skill_id, file_path)
    return SkillFileContent(content=text_of(file), path=file_path)


@router.put(
    "/{skill_id}/files/content", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def write_skill_file(skill_id: SkillId, body: FileWriteBody, container: ContainerDep) -> None:
    """Create or replace a file with any missing folders; saving SKILL.md re-reads the
    skill from its front matter."""
    await container.skills.write_file(skill_id, body.file_path, FileWrite(content=body.content))


@router.delete("/{skill_id}/files", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_skill_file(
    skill_id: SkillId, file_path: FilePath, container: ContainerDep
) -> None:
    """Delete a file or folder; SKILL.md cannot be deleted (422)."""
    await container.skills.delete_file(skill_id, file_path)


@router.patch(
    "/{skill_id}/files/rename", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def rename_skill_file(
    skill_id: SkillId, body: FileRenameBody, container: ContainerDep
) -> None:
    """Move a file or folder within the skill; the new path must be free (409)."""
    await container.skills.rename_file(skill_id, body.old_path, body.new_path)


@router.post("/{skill_id}/sync")
async def sync_skill(skill_id: SkillId, container: ContainerDep) -> SkillDetail:
    """Re-read the skill from its SKILL.md after the file was edited outside KumiAI."""
    return SkillDetail.of(await container.skills.sync(skill_id))
