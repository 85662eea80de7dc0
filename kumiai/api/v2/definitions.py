"""What the character and skill endpoints share: their parameters, and the routes
every definition kind has (create, list, reindex, get, update, delete), declared once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Path, Query, Response, status

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter, bind_types
from kumiai.api.schemas import Envelope, ListEnvelope
from kumiai.api.v2.common import PageDep, list_envelope
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.base import View
from kumiai.application.dtos.definitions import DefinitionUpdate, NewDefinition
from kumiai.application.dtos.files import SyncCounts
from kumiai.application.services.definitions import DefinitionKind, DefinitionService
from kumiai.composition import Container
from kumiai.domain.repositories import DefinitionFilter

# What one kind lists, answers with, is created from and is changed by.
Listed = TypeVar("Listed", bound=View)
Detail = TypeVar("Detail", bound=View)
Create = TypeVar("Create", bound=NewDefinition)
Update = TypeVar("Update", bound=DefinitionUpdate)


async def definition_filter(
    tag: Annotated[
        str | None, Query(max_length=200, description="Only rows carrying this tag.")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Free text, matched in the name, slug or description."),
    ] = None,
) -> DefinitionFilter:
    return DefinitionFilter(tag=tag, q=q)


DefinitionFilterDep = Annotated[DefinitionFilter, Depends(definition_filter)]

# The v1 string id is the slug, so both spellings reach the same resource.
Ref = Annotated[str, Path(max_length=200, description="The id (UUID) or the slug.")]


@dataclass(frozen=True)
class DefinitionRoutes(Generic[Listed, Detail]):
    """The routes every definition kind has, over its service; ``detail`` is what reading,
    creating and changing one answers.

    Their names and texts follow the kind (``create_character``, "Live characters,
    oldest first.", ...). A kind's own routes are declared in its module, around
    ``add_collection`` and ``add_members``, in the order they should be matched.
    """

    kind: DefinitionKind[Any]
    service: Callable[[Container], DefinitionService[Any, Listed, Detail]]
    detail: type[Detail]

    @property
    def label(self) -> str:
        return self.kind.label

    @property
    def plural(self) -> str:
        return f"{self.kind.label}s"

    @property
    def document(self) -> str:
        return self.kind.main_document

    def add_collection(
        self, router: FlatRouter, *, create: type[Create], listed: type[Listed]
    ) -> None:
        """``POST ""`` creates one from ``create``; ``GET ""`` lists them as ``listed``,
        a page at a time."""
        service = self.service

        async def create_one(data: Create, container: ContainerDep) -> Envelope[Detail]:
            return Envelope(data=await service(container).create(data))

        async def list_page(
            page: PageDep, filters: DefinitionFilterDep, container: ContainerDep
        ) -> ListEnvelope[Listed]:
            found = await service(container).list_page(page, filters)
            return list_envelope(found, listed.model_validate)

        types = {"Detail": self.detail, "Create": create, "Listed": listed}
        router.post(
            "",
            name=f"create_{self.label}",
            description=f"Create the {self.label}'s folder with its {self.document}, and its row.",
            status_code=status.HTTP_201_CREATED,
            responses=errors(409, 422),
        )(bind_types(create_one, **types))
        router.get(
            "",
            name=f"list_{self.plural}",
            description=f"Live {self.plural}, oldest first.",
            responses=errors(422),
        )(bind_types(list_page, **types))

    def add_members(
        self,
        router: FlatRouter,
        *,
        update: type[Update],
        writes: str | None = None,
        get_description: str | None = None,
        get_errors: tuple[int, ...] = (404,),
    ) -> None:
        """``POST /reindex``, and ``GET``, ``PATCH`` (with ``update``, which ``writes``
        into the main document unless told what else) and ``DELETE /{ref}``."""
        service = self.service

        async def reindex(container: ContainerDep) -> Envelope[SyncCounts]:
            return Envelope(data=await service(container).reindex())

        async def get(ref: Ref, container: ContainerDep) -> Envelope[Detail]:
            return Envelope(data=await service(container).get(ref))

        async def change(ref: Ref, changes: Update, container: ContainerDep) -> Envelope[Detail]:
            return Envelope(data=await service(container).update(ref, changes))

        async def delete(ref: Ref, container: ContainerDep) -> None:
            """Soft-delete: the row is hidden and the folder renamed to `<slug>.deleted`."""
            await service(container).delete(ref)

        types = {"Detail": self.detail, "Update": update}
        router.post(
            "/reindex",
            name=f"reindex_{self.plural}",
            description=f"Index {self.label} folders added, edited or removed by hand.",
            responses=errors(),
        )(reindex)
        router.get(
            "/{ref}",
            name=f"get_{self.label}",
            description=get_description,
            responses=errors(*get_errors),
        )(bind_types(get, **types))
        router.patch(
            "/{ref}",
            name=f"update_{self.label}",
            description="Change the fields present in the body, in the row and in "
            f"{writes or self.document}.",
            responses=errors(404, 409, 422),
        )(bind_types(change, **types))
        router.delete(
            "/{ref}",
            name=f"delete_{self.label}",
            status_code=status.HTTP_204_NO_CONTENT,
            response_class=Response,
            responses=errors(404),
        )(delete)
