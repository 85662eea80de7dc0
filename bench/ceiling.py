"""The ceiling for ``bench/http.py``: bare FastAPI routes serving recorded responses.

Run as ``python -m bench.ceiling ROUTES_JSON PORT`` from the repository root.
ROUTES_JSON maps each path to the status and body KumiAI answered with; every path
becomes one plain FastAPI route returning exactly those bytes, served by uvicorn with
the options ``kumiai serve`` uses. Whatever KumiAI spends beyond this (middleware,
routing, the database, validation and serialisation) is its own overhead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Response


def create_app(routes: dict[str, dict[str, object]]) -> FastAPI:
    app = FastAPI()
    for path, recorded in routes.items():
        body = str(recorded["body"]).encode()
        status = int(str(recorded["status"]))

        def answer(body: bytes = body, status: int = status) -> Response:
            return Response(body, status_code=status, media_type="application/json")

        async def endpoint() -> Response:
            return answer()

        app.add_api_route(path, endpoint, methods=["GET"])
    return app


def main() -> None:
    routes = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    uvicorn.run(
        create_app(routes),
        host="127.0.0.1",
        port=int(sys.argv[2]),
        log_config=None,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
