from __future__ import annotations

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.schemas import Envelope
from kumiai.api.v2.definitions import DefinitionRoutes, Ref
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.characters import CharacterCreate, CharacterUpdate, CharacterView
from kumiai.application.dtos.files import DocumentView, DocumentWrite
from kumiai.application.services.characters import CHARACTERS

router = FlatRouter(prefix="/characters", tags=["characters"])

routes = DefinitionRoutes(CHARACTERS, lambda container: container.characters, CharacterView)
routes.add_collection(router, create=CharacterCreate, listed=CharacterView)
routes.add_members(router, update=CharacterUpdate, writes="agent.md's front matter")


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
