"""The routes v1 agents and skills share: read, update and delete one, by its slug."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Response, status

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter, bind_types
from kumiai.api.v1.catalog_shapes import ClientNamed, to_command
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.base import View
from kumiai.application.dtos.definitions import DefinitionUpdate
from kumiai.application.services.definitions import DefinitionService
from kumiai.composition import Container

# What one kind answers with and takes as a body; bound per kind by ``bind_types``.
Shape = TypeVar("Shape", bound=View)
Body = TypeVar("Body", bound=ClientNamed)
# The slug path parameter, ``<label>_id``.
Key = str


@dataclass(frozen=True)
class V1DefinitionRoutes:
    """The routes of one kind under its v1 name (``agent``, ``skill``), by slug: ``key``,
    the slug path parameter, is spelt ``<label>_id`` (its alias)."""

    label: str
    key: Any
    service: Callable[[Container], DefinitionService[Any, Any, Any]]

    def add_members(
        self,
        router: FlatRouter,
        *,
        shape: type[Shape],
        body: type[Body],
        update: type[DefinitionUpdate],
        document: str,
        update_errors: tuple[int, ...] = (),
    ) -> None:
        """``GET``, ``PUT`` and ``DELETE /{<label>_id}`` (``get_agent``, ...): answered as
        ``shape``; a ``PUT`` takes ``body``, applied as an ``update`` to the row and to
        the main ``document``."""
        service = self.service

        async def get(ref: Key, container: ContainerDep) -> Shape:
            return shape.of(await service(container).get(ref))

        async def put(ref: Key, body: Body, container: ContainerDep) -> Shape:
            changes = to_command(update, body.changes())
            return shape.of(await service(container).update(ref, changes))

        async def delete(ref: Key, container: ContainerDep) -> None:
            await service(container).delete(ref)

        path = f"/{{{self.label}_id}}"
        types = {"Key": self.key, "Shape": shape, "Body": body}
        router.get(path, name=f"get_{self.label}")(bind_types(get, **types))
        router.put(
            path,
            name=f"update_{self.label}",
            description="A partial update: keys left out stay as they are (in the row and in "
            f"{document}).",
            # Declared only where there are any: FastAPI's own 422 then comes first.
            responses=errors(*update_errors) if update_errors else None,
        )(bind_types(put, **types))
        router.delete(
            path,
            name=f"delete_{self.label}",
            description=f"Soft-delete: the {self.label} is hidden and its folder renamed to "
            "`<id>.deleted`.",
            status_code=status.HTTP_204_NO_CONTENT,
            response_class=Response,
        )(bind_types(delete, **types))
