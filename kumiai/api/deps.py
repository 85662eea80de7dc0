"""FastAPI dependencies: how endpoints reach the container built at start-up.

Dependencies are ``async def`` even when they do not await: FastAPI runs a plain
``def`` dependency in a worker thread, a thread hop on every request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kumiai.composition import Container


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
