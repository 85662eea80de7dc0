"""v1 agents (V1_CONTRACT §2.4): characters named by slug, served at both
``/agents`` and ``/characters``.

A character's main document is ``agent.md``; the v1 client knows it as
``CLAUDE.md``. Listings show it under that name and ``file_path=CLAUDE.md`` reaches
it, so saving it re-indexes the agent from its front matter.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Annotated

from fastapi import Path, Query, Response, status
from fastapi.responses import PlainTextResponse

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.v1.catalog_files import FilePath, text_of
from kumiai.api.v1.catalog_shapes import (
    Agent,
    AgentBody,
    AgentFileContent,
    FileWriteBody,
    to_command,
)
from kumiai.api.v1.definition_routes import V1DefinitionRoutes
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.characters import CharacterCreate, CharacterUpdate
from kumiai.application.dtos.files import FileEntryView, FileWrite
from kumiai.application.services.characters import AGENT_MD

V1_MAIN_DOCUMENT = "CLAUDE.md"

# Its alias also names the parameter of the routes V1DefinitionRoutes adds.
AgentId = Annotated[str, Path(alias="agent_id", max_length=200, description="The agent's slug.")]

router = FlatRouter(tags=["v1 agents"])


@router.get("")
async def list_agents(container: ContainerDep) -> list[Agent]:
    return [Agent.of(character) for character in await container.characters.list_all()]


@router.get("/search")
async def search_agents(
    container: ContainerDep,
    tags: Annotated[str, Query(max_length=2000, description="Comma-separated tags.")],
    match_all: Annotated[bool, Query(description="All tags (true) or any of them.")] = False,
) -> list[Agent]:
    """Agents carrying the tags (case-insensitive)."""
    found = await container.characters.search_by_tags(tags.split(","), match_all=match_all)
    return [Agent.of(character) for character in found]


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(409))
async def create_agent(body: AgentBody, container: ContainerDep) -> Agent:
    """A new agent; the id is derived from the name unless given, defaults fill the rest."""
    data = to_command(CharacterCreate, body.creation())
    return Agent.of(await container.characters.create(data))


V1DefinitionRoutes("agent", AgentId, lambda container: container.characters).add_members(
    router,
    shape=Agent,
    body=AgentBody,
    update=CharacterUpdate,
    document=V1_MAIN_DOCUMENT,
    update_errors=(409,),
)


@router.get("/{agent_id}/files")
async def list_agent_files(agent_id: AgentId, container: ContainerDep) -> list[FileEntryView]:
    """The agent's folder as one flat, recursive list; agent.md is listed as CLAUDE.md."""
    return _as_v1_entries(await container.characters.list_files(agent_id))


@router.get("/{agent_id}/files/content")
async def read_agent_file(
    agent_id: AgentId, file_path: FilePath, container: ContainerDep
) -> AgentFileContent:
    file = await container.characters.read_file(agent_id, _stored_path(file_path))
    return AgentFileContent(file_path=file_path, content=text_of(file), size=file.size)


@router.put(
    "/{agent_id}/files/content", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def write_agent_file(agent_id: AgentId, body: FileWriteBody, container: ContainerDep) -> None:
    """Create or replace a file; saving CLAUDE.md re-reads the agent from its front matter."""
    path = _stored_path(body.file_path)
    await container.characters.write_file(agent_id, path, FileWrite(content=body.content))


@router.delete("/{agent_id}/files", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_agent_file(
    agent_id: AgentId, file_path: FilePath, container: ContainerDep
) -> None:
    """Delete a file or folder; CLAUDE.md cannot be deleted (422)."""
    await container.characters.delete_file(agent_id, _stored_path(file_path))


@router.get("/{agent_id}/content", response_class=PlainTextResponse)
async def read_agent_document(agent_id: AgentId, container: ContainerDep) -> str:
    """The whole CLAUDE.md: front matter, then the prompt."""
    return (await container.characters.read_agent_md(agent_id)).content


@router.get("/{agent_id}/docs/{doc_path:path}", response_class=PlainTextResponse)
async def read_agent_doc(agent_id: AgentId, doc_path: str, container: ContainerDep) -> str:
    """A text file of the agent's folder; `doc_path` is relative to it."""
    return text_of(await container.characters.read_file(agent_id, _stored_path(doc_path)))


def _stored_path(file_path: str) -> str:
    return AGENT_MD if posixpath.normpath(file_path) == V1_MAIN_DOCUMENT else file_path


def _as_v1_entries(entries: Iterable[FileEntryView]) -> list[FileEntryView]:
    """agent.md renamed CLAUDE.md; a real top-level CLAUDE.md, which the name now
    reaches no more, is left out rather than listed twice."""
    listed = []
    for entry in entries:
        if entry.path == AGENT_MD:
            listed.append(
                entry.model_copy(update={"path": V1_MAIN_DOCUMENT, "name": V1_MAIN_DOCUMENT})
            )
        elif entry.path != V1_MAIN_DOCUMENT:
            listed.append(entry)
    return listed
