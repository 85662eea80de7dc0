"""The scripted Anthropic server, exercised through the real ``anthropic`` SDK."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any

import anthropic
import pytest
from anthropic import AsyncAnthropic
from anthropic.types import MessageParam, TextBlock, ToolUseBlock

from kumiai.infrastructure.claude.retry import is_transient
from tests.support.scripted_anthropic import (
    DEFAULT_MODELS,
    Reply,
    ScriptedAnthropic,
    ScriptedModel,
    ServerToolUse,
    StopReason,
    Text,
    ToolUse,
    Usage,
    WebFetchResult,
    WebSearchResult,
    scripted_anthropic_server,
)

MODEL = "claude-test-model"
HELLO: list[MessageParam] = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptedAnthropic]:
    yield from scripted_anthropic_server()


@pytest.fixture
def server(shared_server: ScriptedAnthropic) -> ScriptedAnthropic:
    shared_server.reset()
    return shared_server


@pytest.fixture
async def client(server: ScriptedAnthropic) -> AsyncIterator[AsyncAnthropic]:
    async with AsyncAnthropic(base_url=server.base_url, api_key="test-key", max_retries=0) as sdk:
        yield sdk


async def failure_of(operation: Awaitable[object]) -> Exception:
    """The exception ``operation`` ends with; the test fails if it succeeds."""
    try:
        await operation
    except Exception as error:
        return error
    pytest.fail("the operation succeeded")


def stream_hello(client: AsyncAnthropic, **overrides: Any) -> Any:
    """Open a streamed request with sensible defaults."""
    params: dict[str, Any] = {"model": MODEL, "max_tokens": 256, "messages": HELLO}
    return client.messages.stream(**(params | overrides))


async def test_streamed_text_arrives_in_many_deltas(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    text = "Hello world, this reply is streamed in several pieces."
    server.enqueue(Reply.text(text, chunks=5).with_usage(input_tokens=12, output_tokens=34))

    async with stream_hello(client) as stream:
        pieces = [piece async for piece in stream.text_stream]
        message = await stream.get_final_message()

    assert len(pieces) == 5
    assert "".join(pieces) == text
    assert message.content[0].text == text
    assert message.model == MODEL
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 34)


async def test_stamped_deltas_carry_the_time_each_was_sent(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    server.enqueue(Reply.turn([Text.stamped(3)]).slow(0.05))
    before = time.time()

    async with stream_hello(client) as stream:
        stamps = [float(piece) async for piece in stream.text_stream]

    assert len(stamps) == 3
    assert before <= stamps[0] < stamps[1] < stamps[2] <= time.time()
    assert stamps[2] - stamps[0] >= 0.09


async def test_parallel_tool_calls_stream_their_input_in_partials(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    server.enqueue(
        Reply.turn(
            [
                Text("Let me look at both."),
                ToolUse("read_file", {"path": "src/app.py", "lines": [1, 40]}, id="toolu_read"),
                ToolUse("list_dir", {"path": ".", "recursive": True}, chunks=4),
            ],
            stop_reason="tool_use",
        )
    )

    async with stream_hello(client) as stream:
        partials = [
            event.delta.partial_json
            async for event in stream
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta"
        ]
        message = await stream.get_final_message()

    text, read, listing = message.content
    assert text.text == "Let me look at both."
    assert (read.id, read.name, read.input) == (
        "toolu_read",
        "read_file",
        {"path": "src/app.py", "lines": [1, 40]},
    )
    assert listing.id.startswith("toolu_")
    assert (listing.name, listing.input) == ("list_dir", {"path": ".", "recursive": True})
    assert len(partials) == 7
    assert message.stop_reason == "tool_use"


@pytest.mark.parametrize(
    "stop_reason",
    ["end_turn", "tool_use", "max_tokens", "stop_sequence", "pause_turn", "refusal"],
)
async def test_any_stop_reason_is_reported(
    server: ScriptedAnthropic, client: AsyncAnthropic, stop_reason: StopReason
) -> None:
    sequence = "###" if stop_reason == "stop_sequence" else None
    server.enqueue(Reply.text("Partial", stop_reason=stop_reason, stop_sequence=sequence))

    async with stream_hello(client) as stream:
        message = await stream.get_final_message()

    assert (message.stop_reason, message.stop_sequence) == (stop_reason, sequence)


async def test_non_streaming_create_returns_the_whole_message(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    server.enqueue(Reply.tool_use("run_shell", {"command": "ls"}, id="toolu_ls", usage=Usage(7, 3)))

    message = await client.messages.create(model=MODEL, max_tokens=256, messages=HELLO)

    [block] = message.content
    assert isinstance(block, ToolUseBlock)
    assert (block.id, block.input) == ("toolu_ls", {"command": "ls"})
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (7, 3)
    assert server.requests[0].body.get("stream") is None


async def test_overloaded_then_success_is_retried_by_the_sdk(server: ScriptedAnthropic) -> None:
    server.enqueue(Reply.error(529), Reply.text("Recovered"))

    async with AsyncAnthropic(base_url=server.base_url, api_key="test-key", max_retries=2) as sdk:
        message = await sdk.messages.create(model=MODEL, max_tokens=256, messages=HELLO)

    [block] = message.content
    assert isinstance(block, TextBlock)
    assert block.text == "Recovered"
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (500, anthropic.InternalServerError, "api_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
async def test_error_replies_raise_the_matching_sdk_error(
    server: ScriptedAnthropic,
    client: AsyncAnthropic,
    status: int,
    error_class: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    server.enqueue(Reply.error(status, message="Scripted trouble"))

    with pytest.raises(error_class) as raised:
        async with stream_hello(client) as stream:
            await stream.get_final_message()

    assert raised.value.status_code == status
    assert raised.value.body == {
        "type": "error",
        "error": {"type": error_type, "message": "Scripted trouble"},
    }


async def test_cut_stream_raises_on_the_client(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    server.enqueue(Reply.text("This answer never finishes", chunks=6).cut(after_events=5))
    received: list[str] = []

    async def read_all() -> None:
        async with stream_hello(client) as stream:
            async for piece in stream.text_stream:
                received.append(piece)

    # Which class the SDK raises on the way is its own business (2.17 started wrapping
    # transport errors); what matters is that the runtime retries it as a cut connection.
    assert is_transient(await failure_of(read_all()))
    assert received == ["This ", "answe"]


async def test_cut_json_reply_fails_as_a_cut_connection(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    server.enqueue(Reply.text("Half a body").cut())

    failure = await failure_of(client.messages.create(model=MODEL, max_tokens=256, messages=HELLO))

    assert is_transient(failure)


async def test_slow_stream_still_completes(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    server.enqueue(Reply.text("Slowly but surely", chunks=4).slow(0.01, initial_delay=0.05))
    started = time.monotonic()

    async with stream_hello(client) as stream:
        text = await stream.get_final_text()

    assert text == "Slowly but surely"
    assert time.monotonic() - started >= 0.05


async def test_hang_holds_the_stream_until_the_client_gives_up(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    server.enqueue(Reply.hang("Working on it", timeout=30), Reply.text("Next"))

    async with stream_hello(client) as stream:
        first = await anext(aiter(stream.text_stream))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(stream.get_final_message(), timeout=0.2)

    async with stream_hello(client) as stream:
        assert await stream.get_final_text() == "Next"
    assert first == "Worki"


async def test_stop_releases_a_hung_stream() -> None:
    with ScriptedAnthropic() as server:
        server.enqueue(Reply.hang(timeout=30))
        sdk = AsyncAnthropic(base_url=server.base_url, api_key="test-key", max_retries=0)
        async with sdk, stream_hello(sdk) as stream:
            await anext(aiter(stream.text_stream))
            started = time.monotonic()
            await asyncio.to_thread(server.stop)
            failure = await failure_of(stream.get_final_message())

    assert is_transient(failure)
    assert time.monotonic() - started < 5


async def test_requests_are_recorded_as_sent(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    tools = [
        {"name": "read_file", "description": "Read a file", "input_schema": {"type": "object"}}
    ]
    history = [
        {"role": "user", "content": "Read a.py"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "read_file", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x = 1"}],
        },
    ]
    server.enqueue(Reply.text("Done"))

    async with stream_hello(
        client, system="You are terse.", tools=tools, messages=history
    ) as stream:
        await stream.get_final_message()

    [recorded] = server.requests
    assert recorded.path == "/v1/messages"
    # Depending on the SDK version the key travels as x-api-key or as a bearer token.
    credentials = {recorded.headers.get("x-api-key"), recorded.headers.get("authorization")}
    assert credentials & {"test-key", "Bearer test-key"}
    assert (recorded.model, recorded.system) == (MODEL, "You are terse.")
    assert (recorded.tools, recorded.messages) == (tools, history)
    assert recorded.body["stream"] is True


async def test_empty_queue_fails_loudly_without_retries(server: ScriptedAnthropic) -> None:
    async with AsyncAnthropic(base_url=server.base_url, api_key="test-key", max_retries=2) as sdk:
        with pytest.raises(anthropic.InternalServerError, match="no scripted reply left"):
            await sdk.messages.create(model=MODEL, max_tokens=256, messages=HELLO)

    assert len(server.requests) == 1


async def test_count_tokens_gives_a_rough_estimate(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    counted = await client.messages.count_tokens(model=MODEL, messages=HELLO)

    assert counted.input_tokens > 0
    assert server.pending == 0
    assert server.requests[0].path == "/v1/messages/count_tokens"


async def test_unknown_paths_answer_not_found(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    with pytest.raises(anthropic.NotFoundError, match="does not implement"):
        await client.models.retrieve("claude-sonnet-4-6")

    assert server.requests[0].path == "/v1/models/claude-sonnet-4-6"


async def test_the_model_list_is_served_newest_first_and_paged(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    first = await client.models.list(limit=2)

    assert [model.id for model in first.data] == ["claude-sonnet-4-6", "claude-opus-4-6"]
    assert first.has_more
    assert [model.line for model in first.data] == ["sonnet", "opus"]
    ids = [model.id async for model in await client.models.list(limit=2)]
    assert ids == [model.id for model in sorted(DEFAULT_MODELS, key=lambda m: m.created_at)][::-1]
    assert server.model_list_requests == 3
    assert server.requests == []


async def test_a_test_can_serve_its_own_model_list_or_make_it_fail(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    server.set_models([ScriptedModel("claude-x", "2030-01-01T00:00:00Z", "sonnet", "deprecated")])
    [model] = [model async for model in client.models.list()]
    assert (model.id, model.lifecycle) == ("claude-x", "deprecated")

    server.set_models(Reply.error(503, should_retry=False))
    with pytest.raises(anthropic.APIStatusError) as failed:
        await client.models.list()
    assert failed.value.status_code == 503


async def test_wait_for_requests(server: ScriptedAnthropic, client: AsyncAnthropic) -> None:
    server.enqueue(Reply.text("Hi").slow(0, initial_delay=0.05))
    call = asyncio.create_task(client.messages.create(model=MODEL, max_tokens=8, messages=HELLO))

    [recorded] = await server.wait_for_requests_async(1)
    await call

    assert recorded.messages == HELLO
    with pytest.raises(TimeoutError, match="expected 2 request"):
        server.wait_for_requests(2, timeout=0.01)


def test_reset_forgets_replies_and_requests(server: ScriptedAnthropic) -> None:
    server.enqueue(Reply.text("Unused"), Reply.error(500))
    assert server.pending == 2

    server.reset()

    assert (server.pending, server.requests) == (0, [])


def test_base_url_exists_only_while_running() -> None:
    server = ScriptedAnthropic()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.base_url

    with server:
        assert server.base_url.startswith("http://127.0.0.1:")

    with pytest.raises(RuntimeError, match="not started"):
        _ = server.base_url


async def test_server_tool_calls_and_their_results_play_back_as_the_sdk_parses_them(
    server: ScriptedAnthropic, client: AsyncAnthropic
) -> None:
    search = ServerToolUse("web_search", {"query": "kumiai"})
    fetch = ServerToolUse("web_fetch", {"url": "https://kumiai.example"})
    server.enqueue(
        Reply.turn(
            [
                search,
                WebSearchResult(search.id, (("KumiAI", "https://kumiai.example"),)),
                fetch,
                WebFetchResult(fetch.id, "https://kumiai.example", "Welcome", title="Home"),
                WebSearchResult("srvtoolu_other", error_code="max_uses_exceeded"),
                Text("Done."),
            ]
        )
    )

    async with stream_hello(client) as stream:
        message = await stream.get_final_message()

    blocks = message.content
    assert [block.type for block in blocks] == [
        "server_tool_use",
        "web_search_tool_result",
        "server_tool_use",
        "web_fetch_tool_result",
        "web_search_tool_result",
        "text",
    ]
    assert (blocks[0].id, blocks[0].name, blocks[0].input) == (
        search.id,
        "web_search",
        {"query": "kumiai"},
    )
    assert isinstance(blocks[1].content, list)
    assert (blocks[1].content[0].title, blocks[1].content[0].url) == (
        "KumiAI",
        "https://kumiai.example",
    )
    assert blocks[3].content.type == "web_fetch_result"
    assert blocks[3].content.content.source.data == "Welcome"
    assert blocks[4].content.error_code == "max_uses_exceeded"
