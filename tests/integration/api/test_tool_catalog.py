"""The tool catalog offers the web tools a character may list in ``allowed_tools``."""

from __future__ import annotations

import httpx


async def test_the_web_tools_are_in_the_catalog_under_their_allowed_tools_names(
    client: httpx.AsyncClient,
) -> None:
    tools = (await client.get("/api/v1/skills/tools/custom")).json()

    web = {tool["id"]: tool for tool in tools if tool["category"] == "web"}
    assert set(web) == {"WebSearch", "WebFetch"}
    assert web["WebSearch"]["provider"] == "anthropic"
    assert web["WebSearch"]["input_schema"]["required"] == ["query"]
    assert web["WebFetch"]["input_schema"]["required"] == ["url"]


async def test_ask_user_question_is_a_built_in_tool_with_claude_codes_input_schema(
    client: httpx.AsyncClient,
) -> None:
    tools = (await client.get("/api/v1/skills/tools/custom")).json()

    (ask,) = [tool for tool in tools if tool["id"] == "AskUserQuestion"]
    assert ask["category"] == "builtin"
    questions = ask["input_schema"]["properties"]["questions"]
    assert (questions["minItems"], questions["maxItems"]) == (1, 4)
    question = questions["items"]
    assert question["required"] == ["question", "header", "options", "multiSelect"]
    options = question["properties"]["options"]
    assert (options["minItems"], options["maxItems"]) == (2, 4)
    assert options["items"]["required"] == ["label", "description"]
