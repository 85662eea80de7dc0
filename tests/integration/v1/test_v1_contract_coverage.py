"""Every call listed in V1_CONTRACT.md has a route, with the same method and path."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

CONTRACT = Path(__file__).resolve().parents[3].parent / "shared" / "design" / "V1_CONTRACT.md"
CALL = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^ `?]+)", re.MULTILINE)


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


async def test_every_contract_call_is_served(client: httpx.AsyncClient) -> None:
    calls = {
        (method, "/api/v1" + _shape(path)) for method, path in CALL.findall(CONTRACT.read_text())
    }
    schema = (await client.get("/openapi.json")).json()
    served = {
        (method.upper(), _shape(path))
        for path, operations in schema["paths"].items()
        for method in operations
    }
    assert len(calls) == 65
    assert calls - served == set()
