"""The flat route table and its prefix index route exactly as Starlette's router would."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

from kumiai.api.routing import (
    FlatRouter,
    RecordedRoute,
    bind_types,
    include_flat,
    index_routes,
)
from kumiai.core.config import load_settings
from kumiai.main import create_app

items = APIRouter(prefix="/items", tags=["items"])


@items.get("/search")
async def search_items() -> dict[str, str]:
    return {"route": "search"}


@items.get("/{item_id}")
async def get_item(item_id: int) -> dict[str, Any]:
    return {"route": "item", "id": item_id}


@items.get("")
async def list_items() -> dict[str, str]:
    return {"route": "list"}


anywhere = APIRouter()


@anywhere.get("/{tenant}/deep/path/here")
async def tenant_path(tenant: str) -> dict[str, str]:
    return {"route": "tenant", "tenant": tenant}


@anywhere.get("/ping")
async def ping() -> dict[str, str]:
    return {"route": "ping"}


def _app() -> FastAPI:
    app = FastAPI()
    include_flat(app, [("/api/v9", items), ("/api/v9/again", items), ("", anywhere)])
    index_routes(app)
    return app


async def _get(path: str, method: str = "GET") -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v9/items/search", {"route": "search"}),
        ("/api/v9/items/7", {"route": "item", "id": 7}),
        ("/api/v9/items", {"route": "list"}),
        ("/api/v9/again/items/8", {"route": "item", "id": 8}),
        ("/acme/deep/path/here", {"route": "tenant", "tenant": "acme"}),
        ("/api/deep/path/here", {"route": "tenant", "tenant": "api"}),
        ("/ping", {"route": "ping"}),
    ],
)
async def test_each_path_reaches_the_first_route_declared_for_it(
    path: str, expected: dict[str, Any]
) -> None:
    response = await _get(path)
    assert response.status_code == 200
    assert response.json() == expected


async def test_a_path_no_route_takes_is_a_404() -> None:
    response = await _get("/api/v9/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_a_parameter_that_does_not_convert_is_a_404() -> None:
    assert (await _get("/api/v9/again/items/x/y")).status_code == 404


async def test_a_trailing_slash_is_still_redirected_to_the_route_without_it() -> None:
    response = await _get("/api/v9/items/7/")
    assert response.status_code == 307
    assert response.headers["location"] == "http://test/api/v9/items/7"


async def test_a_known_path_with_another_method_is_a_405() -> None:
    response = await _get("/api/v9/items/7", method="DELETE")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


def test_only_path_operations_can_be_included_flat() -> None:
    outer = APIRouter()
    outer.include_router(items)
    with pytest.raises(TypeError):
        include_flat(FastAPI(), [("", outer)])


def _calls(route: APIRoute) -> list[Callable[..., Any]]:
    pending, calls = [route.dependant], []
    while pending:
        dependant = pending.pop()
        if dependant.call is not None:
            calls.append(dependant.call)
        pending.extend(dependant.dependencies)
    return calls


def test_every_endpoint_and_dependency_of_the_app_is_async(tmp_path: Path) -> None:
    """A plain ``def`` would run in a worker thread: a thread hop on every request."""
    settings = load_settings(home=tmp_path, database_url="postgresql://x@localhost/x")
    app = create_app(settings)
    sync = sorted(
        f"{route.path}: {call.__qualname__}"
        for route in app.routes
        if isinstance(route, APIRoute)
        for call in _calls(route)
        if not inspect.iscoroutinefunction(call)
    )
    assert sync == []


def _declared_on(router: APIRouter) -> APIRouter:
    async def audit(limit: int = 10) -> None:
        """Every dependency of the router is merged into its routes."""

    @router.get("/{item_id}", responses={404: {"description": "No such item."}})
    async def read_item(item_id: int, verbose: bool = False) -> dict[str, Any]:
        """Read one item."""
        return {"id": item_id, "verbose": verbose}

    @router.post("", status_code=201, summary="Create", dependencies=[Depends(audit)])
    async def create_item(body: dict[str, int]) -> dict[str, int]:
        return body

    return router


def test_a_flat_router_records_its_routes_and_the_app_builds_what_an_api_router_would() -> None:
    options: dict[str, Any] = {"prefix": "/things", "tags": ["things"]}
    flat = _declared_on(FlatRouter(**options))
    assert all(isinstance(route, RecordedRoute) for route in flat.routes)
    apps = []
    for router in (_declared_on(APIRouter(**options)), flat):
        app = FastAPI(dependencies=[Depends(lambda: None)])
        include_flat(app, [("/api/v9", router)])
        apps.append(app)
    built, from_records = apps
    assert from_records.openapi() == built.openapi()
    for expected, route in zip(built.routes, from_records.routes, strict=True):
        assert isinstance(route, APIRoute) == isinstance(expected, APIRoute)
        if isinstance(route, APIRoute) and isinstance(expected, APIRoute):
            assert (route.path, route.methods, route.status_code, route.name) == (
                expected.path,
                expected.methods,
                expected.status_code,
                expected.name,
            )
            assert len(route.dependant.dependencies) == len(expected.dependant.dependencies)


Named = TypeVar("Named", bound=BaseModel)


class Thing(BaseModel):
    name: str


def _echo_route(model: type[BaseModel]) -> FastAPI:
    async def echo(item_id: int, body: Named) -> Named:
        return body

    async def forget(item_id: int) -> None:
        return None

    app = FastAPI()
    app.post("/items/{item_id}")(bind_types(echo, Named=model))
    app.delete("/items/{item_id}", status_code=204)(bind_types(forget, Named=model))
    return app


async def test_a_generic_endpoint_takes_and_answers_the_model_bound_to_its_type_variable() -> None:
    app = _echo_route(Thing)
    schema = app.openapi()["paths"]["/items/{item_id}"]
    body = schema["post"]["requestBody"]["content"]["application/json"]["schema"]
    answer = schema["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == answer == {"$ref": "#/components/schemas/Thing"}
    assert "content" not in schema["delete"]["responses"]["204"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        taken = await client.post("/items/3", json={"name": "lamp", "extra": 1})
        refused = await client.post("/items/3", json={})
        forgotten = await client.delete("/items/3")
    assert (taken.status_code, taken.json()) == (200, {"name": "lamp"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "name"]
    assert (forgotten.status_code, forgotten.content) == (204, b"")
