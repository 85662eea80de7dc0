"""Finding each backend's CLI and its version: configured, bundled, then PATH; versions
asked without blocking the event loop, bounded in time, cached briefly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kumiai.application.ports.cli_backends import CliInstallation
from kumiai.infrastructure.cli.discovery import CliDiscoverer
from tests.support.fake_cli import fake_cli, printing_version

NOTHING_CONFIGURED: dict[str, Path | None] = {}


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The only folder on PATH: empty until a test puts a CLI there."""
    folder = tmp_path / "path-bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


def _counting(folder: Path, name: str, runs: Path) -> Path:
    """A CLI that notes every run of ``--version`` in ``runs``."""
    return fake_cli(folder, name, f'echo run >> "{runs}"\necho "{name} 1.0"')


async def test_a_cli_on_path_is_found_with_its_version(on_path: Path) -> None:
    codex = printing_version(on_path, "codex", "codex-cli 0.98.0")

    found = await CliDiscoverer(NOTHING_CONFIGURED).find("codex")

    assert found == CliInstallation("codex", str(codex), "path", "codex-cli 0.98.0", None)
    assert found.installed


async def test_a_configured_cli_wins_over_path(tmp_path: Path, on_path: Path) -> None:
    printing_version(on_path, "gemini", "0.1.0")
    configured = printing_version(tmp_path / "elsewhere", "my-gemini", "0.9.9")

    found = await CliDiscoverer({"gemini": configured}).find("gemini")

    assert (found.path, found.source, found.version) == (str(configured), "configured", "0.9.9")


async def test_a_configured_path_that_is_not_executable_is_not_installed_and_path_is_not_tried(
    tmp_path: Path, on_path: Path
) -> None:
    printing_version(on_path, "opencode", "1.0")
    plain = tmp_path / "opencode.txt"
    plain.write_text("not a program")

    found = await CliDiscoverer({"opencode": plain}).find("opencode")

    assert (found.installed, found.path, found.version) == (False, None, None)
    assert found.problem == f"KUMIAI_OPENCODE_CLI is not an executable file: {plain}"


async def test_claudes_bundled_cli_comes_before_path(tmp_path: Path, on_path: Path) -> None:
    printing_version(on_path, "claude", "1.0.0 (Claude Code)")
    bundled = printing_version(tmp_path / "sdk" / "_bundled", "claude", "2.1.337 (Claude Code)")

    found = await CliDiscoverer(NOTHING_CONFIGURED, {"claude": bundled}).find("claude")

    assert (found.path, found.source, found.version) == (
        str(bundled),
        "bundled",
        "2.1.337 (Claude Code)",
    )


async def test_a_missing_bundled_cli_falls_back_to_path(tmp_path: Path, on_path: Path) -> None:
    claude = printing_version(on_path, "claude", "1.0.0 (Claude Code)")

    found = await CliDiscoverer(NOTHING_CONFIGURED, {"claude": tmp_path / "gone"}).find("claude")

    assert (found.path, found.source) == (str(claude), "path")


async def test_a_cli_nowhere_is_not_installed_and_says_where_it_was_looked_for(
    on_path: Path,
) -> None:
    found = await CliDiscoverer(NOTHING_CONFIGURED).find("gemini")

    assert found == CliInstallation(
        "gemini", None, None, problem="`gemini` is not on PATH (or set KUMIAI_GEMINI_CLI)"
    )


async def test_every_backend_is_looked_up_in_the_settings_order(on_path: Path) -> None:
    printing_version(on_path, "codex", "1")

    found = await CliDiscoverer(NOTHING_CONFIGURED).find_all()

    assert [(cli.name, cli.installed) for cli in found] == [
        ("claude", False),
        ("codex", True),
        ("gemini", False),
        ("opencode", False),
    ]


async def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown CLI backend 'cursor'"):
        await CliDiscoverer(NOTHING_CONFIGURED).find("cursor")


async def test_a_version_printed_on_stderr_is_read(on_path: Path) -> None:
    fake_cli(on_path, "opencode", 'echo "opencode 0.3.1" >&2')

    assert (await CliDiscoverer(NOTHING_CONFIGURED).find("opencode")).version == "opencode 0.3.1"


async def test_a_failing_version_is_unknown_and_says_why(on_path: Path) -> None:
    codex = fake_cli(on_path, "codex", 'echo "unknown flag" >&2\nexit 3')

    found = await CliDiscoverer(NOTHING_CONFIGURED).find("codex")

    assert (found.installed, found.version) == (True, None)
    assert found.problem == f"`{codex} --version` exited with 3: unknown flag"


async def test_a_cli_that_prints_nothing_has_no_version(on_path: Path) -> None:
    codex = fake_cli(on_path, "codex", "exit 0")

    found = await CliDiscoverer(NOTHING_CONFIGURED).find("codex")

    assert (found.version, found.problem) == (None, f"`{codex} --version` printed nothing")


async def test_a_hanging_cli_is_killed_with_its_children_after_the_timeout(on_path: Path) -> None:
    # The sleeping child holds the output pipe: only killing the whole group ends the wait.
    codex = fake_cli(on_path, "codex", "sleep 60")

    found = await CliDiscoverer(NOTHING_CONFIGURED, timeout=0.3).find("codex")

    assert (found.installed, found.version) == (True, None)
    assert found.problem == f"`{codex} --version` did not answer within 0.3 s"


async def test_asking_the_version_does_not_block_the_event_loop(
    tmp_path: Path, on_path: Path
) -> None:
    started, go = tmp_path / "started", tmp_path / "go"
    # The CLI answers only once this test, running on the same loop, lets it.
    fake_cli(
        on_path,
        "codex",
        f'touch "{started}"\nwhile [ ! -e "{go}" ]; do sleep 0.01; done\necho "codex 2.0"',
    )
    finding = asyncio.create_task(CliDiscoverer(NOTHING_CONFIGURED, timeout=20).find("codex"))

    async with asyncio.timeout(10):
        while not started.exists():
            await asyncio.sleep(0.01)
    go.touch()

    assert (await finding).version == "codex 2.0"


async def test_a_version_is_asked_once_while_it_is_fresh(tmp_path: Path, on_path: Path) -> None:
    runs = tmp_path / "runs"
    _counting(on_path, "gemini", runs)
    now = [1000.0]
    discovery = CliDiscoverer(NOTHING_CONFIGURED, cache_seconds=60, clock=lambda: now[0])

    await asyncio.gather(*(discovery.find("gemini") for _ in range(5)))
    now[0] += 59
    again = await discovery.find("gemini")

    assert again.version == "gemini 1.0"
    assert runs.read_text().splitlines() == ["run"]


async def test_a_version_is_asked_again_once_stale(tmp_path: Path, on_path: Path) -> None:
    runs = tmp_path / "runs"
    _counting(on_path, "gemini", runs)
    now = [1000.0]
    discovery = CliDiscoverer(NOTHING_CONFIGURED, cache_seconds=60, clock=lambda: now[0])

    await discovery.find("gemini")
    now[0] += 61
    await discovery.find("gemini")

    assert runs.read_text().splitlines() == ["run", "run"]


async def test_a_replaced_cli_is_asked_again_at_once(tmp_path: Path, on_path: Path) -> None:
    discovery = CliDiscoverer(NOTHING_CONFIGURED)
    printing_version(on_path, "codex", "codex 1.0")
    assert (await discovery.find("codex")).version == "codex 1.0"

    printing_version(on_path, "codex", "codex 1.10")  # an upgrade: the file changed

    assert (await discovery.find("codex")).version == "codex 1.10"
