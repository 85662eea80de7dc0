from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.runtime_app import RuntimeApp, runtime_app


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[RuntimeApp]:
    """The runtime on an in-memory database and a fake model, with default limits."""
    async with runtime_app(tmp_path / "home") as started:
        yield started
