"""How definitions are expanded and how MCP results become what the model reads."""

from __future__ import annotations

import base64

import mcp_types

from kumiai.infrastructure.mcp.expand import expand
from kumiai.infrastructure.mcp.pool import outcome_of


def test_references_take_the_variable_then_the_default_then_nothing() -> None:
    environ = {"TOKEN": "abc", "EMPTY": ""}
    assert expand("Bearer ${TOKEN}", environ) == "Bearer abc"
    assert expand("${MISSING:-fallback}/${EMPTY:-used}", environ) == "fallback/used"
    assert expand("${MISSING}|${EMPTY}|$TOKEN", environ) == "||$TOKEN"


def test_text_parts_are_joined_and_binary_parts_described() -> None:
    image = base64.b64encode(b"\x89PNG1234").decode()
    result = mcp_types.CallToolResult(
        content=[
            mcp_types.TextContent(type="text", text="first"),
            mcp_types.ImageContent(type="image", data=image, mime_type="image/png"),
            mcp_types.ResourceLink(type="resource_link", name="r", uri="file:///r.txt"),
            mcp_types.EmbeddedResource(
                type="resource",
                resource=mcp_types.TextResourceContents(uri="file:///a", text="embedded"),
            ),
        ],
        is_error=True,
    )

    outcome = outcome_of(result)

    assert outcome.is_error is True
    assert outcome.content.splitlines() == [
        "first",
        "[image: image/png, 8 bytes]",
        "[resource: file:///r.txt]",
        "embedded",
    ]


def test_structured_content_is_used_when_there_is_no_text() -> None:
    result = mcp_types.CallToolResult(content=[], structured_content={"answer": 42})
    assert outcome_of(result).content == '{"answer": 42}'
    assert outcome_of(result).is_error is False
