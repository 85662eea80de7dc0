"""Budget: a conversation shrunk to a number of tokens, never splitting a tool call from
its result. Old tool outputs go first, then the oldest whole exchanges."""

from __future__ import annotations

from collections.abc import Callable

from kumiai.application.services.runtime.history.replay import ApiMessage, Block

Estimate = Callable[[ApiMessage], int]

CHARS_PER_TOKEN = 4
TRIMMED_PLACEHOLDER = "(earlier messages were trimmed to fit the context window)"
ELIDED_OUTPUT = "[tool output elided to fit the context window: {chars} characters]"


def estimate_tokens(message: ApiMessage) -> int:
    """A rough size, for callers without a calibrated estimate."""
    return max(1, len(repr(message["content"])) // CHARS_PER_TOKEN)


def fit_to_budget(
    messages: list[ApiMessage],
    budget_tokens: int,
    estimate: Estimate = estimate_tokens,
    *,
    keep_last: int = 2,
) -> list[ApiMessage]:
    """Shrink a conversation to ``budget_tokens``: old tool outputs go first (they are
    most of a long session and the model has acted on them), then the oldest exchanges."""
    elided = elide_tool_outputs(messages, budget_tokens, estimate, keep_last=keep_last)
    return trim_to_budget(elided, budget_tokens, estimate)


def elide_tool_outputs(
    messages: list[ApiMessage],
    budget_tokens: int,
    estimate: Estimate = estimate_tokens,
    *,
    keep_last: int = 2,
) -> list[ApiMessage]:
    """Replace the oldest tool outputs by a short note until the messages fit.

    The newest ``keep_last`` messages stay whole: the model must see what its latest
    calls returned. The call/result pairing is untouched.
    """
    sizes = [estimate(message) for message in messages]
    total = sum(sizes)
    result = list(messages)
    for index in range(max(0, len(result) - keep_last)):
        if total <= budget_tokens:
            break
        elided = _without_tool_outputs(result[index])
        if elided is not None:
            size = estimate(elided)
            total += size - sizes[index]
            result[index] = elided
    return result


def _without_tool_outputs(message: ApiMessage) -> ApiMessage | None:
    """The message with its long tool results elided; None if there was nothing to elide."""
    if message["role"] != "user" or isinstance(message["content"], str):
        return None
    blocks, changed = [], False
    for block in message["content"]:
        size = _output_chars(block.get("content")) if block.get("type") == "tool_result" else 0
        if size > len(ELIDED_OUTPUT) + 40:
            blocks.append({**block, "content": ELIDED_OUTPUT.format(chars=size)})
            changed = True
        else:
            blocks.append(block)
    return {**message, "content": blocks} if changed else None


def _output_chars(content: object) -> int:
    if isinstance(content, str):
        return len(content)
    return len(repr(content)) if content else 0


def trim_to_budget(
    messages: list[ApiMessage], budget_tokens: int, estimate: Estimate = estimate_tokens
) -> list[ApiMessage]:
    """Drop the oldest messages until the rest fits, cutting only between whole turns.

    A cut may only land on a user message that carries no tool results, so no call is
    ever separated from its answer. When even the newest exchange is too big, the cut
    lands on the last such message: the newest exchange is always kept.
    """
    sizes = [estimate(message) for message in messages]
    if sum(sizes) <= budget_tokens:
        return messages
    return cut(messages, sizes, budget_tokens, earliest=1)


def cut(
    messages: list[ApiMessage], sizes: list[int], budget_tokens: int, *, earliest: int
) -> list[ApiMessage]:
    """``messages`` from the first clean start at or after ``earliest`` whose rest fits
    (else the last clean start), opened by the trimmed note; unchanged without one."""
    remaining = sum(sizes[earliest:])
    cut = None
    for index in range(earliest, len(messages)):
        if index > earliest:
            remaining -= sizes[index - 1]
        if is_clean_start(messages[index]):
            cut = index
            if remaining <= budget_tokens:
                break
    if cut is None:
        return messages
    first, *rest = messages[cut:]
    note = {"type": "text", "text": TRIMMED_PLACEHOLDER}
    return [{"role": "user", "content": [note, *_content_blocks(first["content"])]}, *rest]


def is_clean_start(message: ApiMessage) -> bool:
    return message["role"] == "user" and all(
        block["type"] != "tool_result" for block in _content_blocks(message["content"])
    )


def _content_blocks(content: str | list[Block]) -> list[Block]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content
