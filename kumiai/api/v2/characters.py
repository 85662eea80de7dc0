from __future__ import annotations

from fastapi import Response, status

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.schemas import Envelope, ListEnvelope
from kumiai.api.v2.common import PageDep, list_envelope
from kumiai.api.v2.definitions import DefinitionFilterDep, Ref
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.characters import CharacterCreate, CharacterUpdate, CharacterView
from kumiai.application.dtos.files import DocumentView, DocumentWrite, SyncCounts

router = FlatRouter(prefix="/characters", tags=["characters"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(409, 422))
async def create_character(
    data: CharacterCreate, container: ContainerDep
) -> Envelope[CharacterView]:
    """Create the character's folder with its agent.md, and its row."""
    return Envelope(data=await container.characters.create(data))


@router.get("", responses=errors(422))
async def list_characters(
    page: PageDep, filters: DefinitionFilterDep, container: ContainerDep
) -> ListEnvelope[CharacterView]:
    """Live characters, oldest first."""
    return list_envelope(
        await container.characters.list_page(page, filters), CharacterView.model_validate
    )


@router.post("/reindex", responses=errors())
async def reindex_characters(container: ContainerDep) -> Envelope[SyncCounts]:
    """Index character folders added, edited or removed by hand."""
    return Envelope(data=await container.characters.reindex())


@router.get("/{ref}", responses=errors(404))
async def get_character(ref: Ref, container: ContainerDep) -> Envelope[CharacterView]:
    return Envelope(data=await container.characters.get(ref))


@router.patch("/{ref}", responses=errors(404, 409, 422))
async def update_character(
    ref: Ref, changes: CharacterUpdate, container: ContainerDep
) -> Envelope[CharacterView]:
    """Change the fields present in the body, in the row and in agent.md's front matter."""
    return Envelope(data=await container.characters.update(ref, changes))


@router.delete(
    "/{ref}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(404),
)
async def delete_character(ref: Ref, container: ContainerDep) -> None:
    """Soft-delete: the row is hidden and the folder renamed to `<slug>.deleted`."""
    await container.characters.delete(ref)


@router.get("/{ref}/agent-md", responses=errors(404))
async def get_agent_md(ref: Ref, container: ContainerDep) -> Envelope[DocumentView]:
    """The raw agent.md: YAML front matter, then the prompt."""
    return Envelope(data=await container.characters.read_agent_md(ref))


@router.put("/{ref}/agent-md", responses=errors(404, 409, 422))
async def put_agent_md(
    ref: Ref, document: DocumentWrite, container: ContainerDep
) -> Envelope[CharacterView]:
    """Replace agent.md and return the row re-indexed from its front matter."""
    return Envelope(data=await container.characters.write_agent_md(ref, document))
