"""Family names resolve through the API's model list, served by the scripted server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from kumiai.application.services.models import FALLBACK_MODELS, ModelResolver, ResolvedModel
from kumiai.infrastructure.claude.models import AnthropicModelList
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, ScriptedModel

MODELS = [
    ScriptedModel("claude-sonnet-4-6", "2026-02-17T00:00:00Z", "sonnet"),
    ScriptedModel("claude-sonnet-5-5", "2026-09-01T00:00:00Z", "sonnet"),
    # Newer, but closed to new users: never chosen.
    ScriptedModel("claude-sonnet-5-6-preview", "2026-10-01T00:00:00Z", "sonnet", "deprecated"),
    ScriptedModel("claude-opus-5-5", "2026-08-01T00:00:00Z", "opus"),
    ScriptedModel("claude-mythos-5-2", "2026-11-01T00:00:00Z", "mythos"),
    ScriptedModel("claude-haiku-5-5", "2026-07-01T00:00:00Z", "haiku"),
]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedAnthropic]:
    with ScriptedAnthropic() as running:
        yield running


@pytest.fixture
def claude(server: ScriptedAnthropic) -> ScriptedAnthropic:
    server.reset()
    server.set_models(MODELS)
    return server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def resolver(claude: ScriptedAnthropic, clock: Clock) -> AsyncIterator[ModelResolver]:
    resolver = ModelResolver(
        AnthropicModelList("test-key", claude.base_url),
        default="sonnet",
        ttl_seconds=3600,
        retry_seconds=300,
        clock=clock,
    )
    yield resolver
    await resolver.aclose()


async def test_a_family_is_its_newest_active_model_in_the_list(resolver: ModelResolver) -> None:
    assert await resolver.resolve("opus") == ResolvedModel("opus", "claude-opus-5-5", "model_list")
    assert (await resolver.resolve("Sonnet")).id == "claude-sonnet-5-5"
    assert (await resolver.resolve("haiku")).id == "claude-haiku-5-5"


async def test_without_a_name_the_default_family_is_resolved(resolver: ModelResolver) -> None:
    assert await resolver.resolve(None) == ResolvedModel(
        "sonnet", "claude-sonnet-5-5", "model_list"
    )


async def test_a_full_model_id_is_used_as_is_without_asking_the_api(
    resolver: ModelResolver, claude: ScriptedAnthropic
) -> None:
    resolved = await resolver.resolve("claude-sonnet-4-5-20250929")
    assert resolved == ResolvedModel(
        "claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929", "as_given"
    )
    assert claude.model_list_requests == 0


async def test_the_list_is_fetched_once_per_hour(
    resolver: ModelResolver, claude: ScriptedAnthropic, clock: Clock
) -> None:
    await resolver.resolve("sonnet")
    claude.set_models([*MODELS, ScriptedModel("claude-sonnet-6", "2027-01-01T00:00:00Z", "sonnet")])
    clock.now += 3599
    assert (await resolver.resolve("sonnet")).id == "claude-sonnet-5-5"
    assert claude.model_list_requests == 1

    clock.now += 1
    assert (await resolver.resolve("sonnet")).id == "claude-sonnet-6"
    assert claude.model_list_requests == 2


async def test_every_page_of_the_list_is_read(
    resolver: ModelResolver, claude: ScriptedAnthropic
) -> None:
    others = [
        ScriptedModel(f"claude-other-{number}", f"2026-12-{1 + number % 28:02d}T00:00:00Z")
        for number in range(150)
    ]
    claude.set_models([*others, ScriptedModel("claude-opus-4-1", "2025-08-05T00:00:00Z", "opus")])

    assert (await resolver.resolve("opus")).id == "claude-opus-4-1"
    assert claude.model_list_requests == 2


async def test_an_unavailable_list_falls_back_to_the_table_and_is_retried_later(
    resolver: ModelResolver, claude: ScriptedAnthropic, clock: Clock
) -> None:
    claude.set_models(Reply.error(500, should_retry=False))

    resolved = await resolver.resolve("opus")

    assert (resolved.id, resolved.source) == (FALLBACK_MODELS["opus"], "fallback")
    assert resolved.problem is not None and "500" in resolved.problem
    claude.set_models(MODELS)
    clock.now += 299
    assert (await resolver.resolve("opus")).source == "fallback"
    clock.now += 1
    assert await resolver.resolve("opus") == ResolvedModel("opus", "claude-opus-5-5", "model_list")


async def test_a_list_without_the_family_falls_back_to_the_table(
    resolver: ModelResolver, claude: ScriptedAnthropic
) -> None:
    claude.set_models([ScriptedModel("claude-opus-5-5", "2026-08-01T00:00:00Z", "opus")])
    resolved = await resolver.resolve("haiku")
    assert (resolved.id, resolved.problem) == (
        FALLBACK_MODELS["haiku"],
        "the model list has no active haiku model",
    )


async def test_without_credentials_the_table_answers_without_a_request(
    claude: ScriptedAnthropic,
) -> None:
    resolver = ModelResolver(AnthropicModelList(None, claude.base_url), default="sonnet")
    resolved = await resolver.resolve(None)
    assert (resolved.id, resolved.source) == (FALLBACK_MODELS["sonnet"], "fallback")
    assert resolved.problem is not None and "ANTHROPIC_API_KEY" in resolved.problem
    assert claude.model_list_requests == 0


@pytest.mark.parametrize(("should_retry", "requests"), [(True, 2), (False, 1)])
async def test_a_failing_list_is_retried_once_when_the_api_says_it_may_pass(
    resolver: ModelResolver, claude: ScriptedAnthropic, should_retry: bool, requests: int
) -> None:
    claude.set_models(Reply.error(503, "overloaded_error", should_retry=should_retry))

    resolved = await resolver.resolve("opus")

    assert resolved.source == "fallback"
    assert resolved.problem is not None and "503 overloaded_error" in resolved.problem
    assert claude.model_list_requests == requests
