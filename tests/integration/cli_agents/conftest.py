"""Fixtures of the agent CLI tests: a project folder, and the CLI a scenario file runs
on (its module's ``CLI``) with that CLI's scripted server and runtime."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kumiai.infrastructure.cli_agents.runtime import CliAgentRuntime
from tests.integration.cli_agents.cases import CASES, CliCase
from tests.support.scripted_anthropic import ScriptedAnthropic


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def case_and_server(request: pytest.FixtureRequest) -> Iterator[tuple[CliCase, ScriptedAnthropic]]:
    case = CASES[request.module.CLI]
    with case.server() as server:
        yield case, server


@pytest.fixture
def case(case_and_server: tuple[CliCase, ScriptedAnthropic]) -> CliCase:
    return case_and_server[0]


@pytest.fixture
def server(case_and_server: tuple[CliCase, ScriptedAnthropic]) -> ScriptedAnthropic:
    case_and_server[1].reset()
    return case_and_server[1]


@pytest.fixture
def runtime(case: CliCase, server: ScriptedAnthropic, tmp_path: Path) -> CliAgentRuntime:
    return case.runtime(server, tmp_path)
