"""Parameters shared by the character and skill endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from kumiai.domain.repositories import DefinitionFilter


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
