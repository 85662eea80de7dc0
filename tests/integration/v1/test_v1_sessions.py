"""v1 sessions and the message list, as the web client calls them (V1_CONTRACT §2.7, §2.8)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import httpx

from kumiai.composition import Container
from kumiai.domain.entities import Message
from kumiai.infrastructure.database.engine import Database
from tests.factories.projects import create_project, make_character, store_messages
from tests.integration.runtime.helpers import create_team, wait_for_status, wait_until_idle
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic

V1 = "/api/v1/sessions"
JSON = dict[str, Any]

SESSION_FIELDS = {
    "id": str,
    "session_type": str,
    "project_id": (str, type(None)),
    "agent_id": (str, type(None)),
    "status": str,
    "kanban_stage": (str, type(None)),
    "context": dict,
    "started_at": (str, type(None)),
    "created_at": str,
    "updated_at": str,
    "instance_id": str,
    "role": str,
}
MESSAGE_FIELDS = {
    "id": str,
    "role": str,
    "content": str,
    "timestamp": str,
    "agent_id": (str, type(None)),
    "agent_name": (str, type(None)),
    "from_instance_id": (str, type(None)),
    "response_id": (str, type(None)),
    "tool_name": (str, type(None)),
    "tool_args": (dict, type(None)),
    "tool_result": (dict, type(None)),
    "tool_error": (bool, type(None)),
    "sequence": int,
}


def _assert_shape(item: JSON, fields: dict[str, Any]) -> None:
    for name, kind in fields.items():
        assert name in item, name
        assert isinstance(item[name], kind), (name, item[name])


def _assert_iso_with_zone(value: str) -> None:
    assert datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


async def _board_project(client: httpx.AsyncClient, database: Database) -> JSON:
    for slug in ("dev", "lead", "outsider"):
        await make_character(database, slug)
    return await create_project(client, team_character_ids=["dev"], pm_character_id="lead")


async def _board_session(client: httpx.AsyncClient, project: JSON, agent: str = "dev") -> JSON:
    response = await client.post(
        V1,
        json={
            "agent_id": agent,
            "project_id": project["id"],
            "session_type": "specialist",
            "context": {
                "description": "Write the docs",
                "kanban_stage": "backlog",
                "project_path": project["path"],
            },
        },
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _launch(client: httpx.AsyncClient, role: str = "skill_assistant") -> JSON:
    response = await client.post(
        f"{V1}/launch",
        json={
            "team_member_ids": [],
            "project_path": "",
            "session_description": "Skill helper",
            "role": role,
            "auto_start": False,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


# --- sessions -----------------------------------------------------------------------------


async def test_a_board_session_has_the_v1_shape_and_a_top_level_stage(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _board_project(client, database)
    session = await _board_session(client, project)
    _assert_shape(session, SESSION_FIELDS)
    assert session["agent_id"] == "dev"
    assert session["session_type"] == session["role"] == "specialist"
    assert session["instance_id"] == session["id"]
    assert session["project_id"] == project["id"]
    assert session["status"] == "idle"
    assert session["kanban_stage"] == "backlog"
    assert session["context"] == {
        "description": "Write the docs",
        "kanban_stage": "backlog",
        "project_path": project["path"],
    }
    for field in ("created_at", "updated_at"):
        _assert_iso_with_zone(session[field])
    assert (await client.get(f"{V1}/{session['id']}")).json() == session


async def test_the_pm_counts_as_on_the_team_but_an_outsider_does_not(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _board_project(client, database)
    assert (await _board_session(client, project, agent="lead"))["agent_id"] == "lead"
    response = await client.post(
        V1, json={"agent_id": "outsider", "project_id": project["id"], "session_type": "specialist"}
    )
    assert response.status_code == 422
    assert "team" in response.json()["detail"]


async def test_launch_makes_an_assistant_without_agent_project_or_a_first_turn(
    client: httpx.AsyncClient, container: Container
) -> None:
    session = await _launch(client)
    _assert_shape(session, SESSION_FIELDS)
    assert session["session_type"] == session["role"] == "skill_assistant"
    assert session["instance_id"] == session["id"]
    assert session["agent_id"] is None
    assert session["project_id"] is None
    assert session["status"] == "idle"
    assert session["context"]["description"] == "Skill helper"
    assert "project_path" not in session["context"]
    assert container.workers.running(UUID(session["id"])) is None
    page = (await client.get(f"{V1}/{session['id']}/messages")).json()
    assert page == {"items": [], "next_cursor": None, "has_more": False}


async def test_the_list_holds_every_session_oldest_first_or_only_a_projects(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _board_project(client, database)
    pm_session_id = project["pm_session_id"]
    skill = await _launch(client, "skill_assistant")
    board = await _board_session(client, project)
    agent = await _launch(client, "agent_assistant")

    everything = (await client.get(V1)).json()
    assert [item["id"] for item in everything] == [
        pm_session_id,
        skill["id"],
        board["id"],
        agent["id"],
    ]
    for item in everything:
        _assert_shape(item, SESSION_FIELDS)
    pm = everything[0]
    assert (pm["session_type"], pm["agent_id"]) == ("pm", "lead")

    mine = (await client.get(V1, params={"project_id": project["id"]})).json()
    assert [item["id"] for item in mine] == [pm_session_id, board["id"]]
    other = await create_project(client, "Empty")
    assert (await client.get(V1, params={"project_id": other["id"]})).json() == []


async def test_moving_a_card_sets_the_stage_and_unknown_stages_are_a_422(
    client: httpx.AsyncClient, database: Database
) -> None:
    session = await _board_session(client, await _board_project(client, database))
    url = f"{V1}/{session['id']}/stage"
    moved = await client.patch(url, json={"stage": "active"})
    assert moved.status_code == 200
    fetched = (await client.get(f"{V1}/{session['id']}")).json()
    assert fetched["kanban_stage"] == fetched["context"]["kanban_stage"] == "active"
    refused = await client.patch(url, json={"stage": "review"})
    assert refused.status_code == 422
    assert isinstance(refused.json()["detail"], str)


async def test_a_deleted_session_leaves_the_list(client: httpx.AsyncClient) -> None:
    session = await _launch(client)
    assert (await client.delete(f"{V1}/{session['id']}")).status_code == 204
    assert session["id"] not in [item["id"] for item in (await client.get(V1)).json()]
    missing = await client.get(f"{V1}/{session['id']}")
    assert missing.status_code == 404
    assert "not found" in missing.json()["detail"]


async def test_an_idle_session_has_an_empty_queue(client: httpx.AsyncClient) -> None:
    session = await _launch(client)
    status = (await client.get(f"{V1}/{session['id']}/queue-status")).json()
    assert status == {"queue_size": 0, "is_processing": False}


async def test_recreate_keeps_the_id_empties_the_history_and_ends_idle(
    client: httpx.AsyncClient, container: Container
) -> None:
    session = await _launch(client)
    session_id = UUID(session["id"])
    await store_messages(container, *(Message.user(session_id, f"m{n}") for n in range(3)))
    await container.sessions.cancel(session_id)

    recreated = await client.post(f"{V1}/{session['id']}/recreate")
    assert recreated.status_code == 200
    assert recreated.json()["id"] == session["id"]
    assert recreated.json()["status"] == "idle"
    assert (await client.get(f"{V1}/{session['id']}/messages")).json()["items"] == []
    activity = await client.get(
        "/api/v2/activity", params={"session_id": session["id"], "event_type": "session_reset"}
    )
    assert activity.json()["data"][0]["event_data"]["messages_deleted"] == 3
    # The sequence starts over, so new messages page cleanly.
    (first,) = await store_messages(container, Message.user(session_id, "again"))
    assert first.sequence == 0


# --- the message list ------------------------------------------------------------------------


async def _conversation(container: Container, session_id: UUID, sender: UUID) -> list[str]:
    """Rows over several pages: text, tool calls with results, notices, a routed message.

    Returns what the v1 list should show, oldest first (tool results folded away, system
    notices on their own rows)."""
    expected: list[str] = []

    async def add(message: Message, label: str | None) -> None:
        await store_messages(container, message)
        if label is not None:
            expected.append(label)

    for turn in range(4):
        run = f"run-{turn}"
        await add(Message.user(session_id, f"question {turn}"), f"user:question {turn}")
        await add(Message.system(session_id, f"notice {turn}"), f"system:notice {turn}")
        await add(Message.assistant_text(session_id, f"on it {turn}", run, "Dev"), "assistant")
        call = Message.tool_use(session_id, f"toolu_{turn}", "Bash", {"command": "ls"}, run)
        await add(call, f"tool:out {turn}")
        await add(
            Message.tool_result(session_id, f"toolu_{turn}", f"out {turn}", turn == 2, run), None
        )
        await add(Message.assistant_text(session_id, f"done {turn}", run, "Dev"), "assistant")
    routed = Message.user(session_id, "from the lead", sender_session_id=sender, sender_name="Lead")
    await add(routed, "user:from the lead")
    return expected


def _label(item: JSON) -> str:
    if item["role"] in ("user", "system"):
        return f"{item['role']}:{item['content']}"
    if item["role"] == "tool":
        return f"tool:{item['tool_result']['content']}"
    return str(item["role"])


async def _walk_back(client: httpx.AsyncClient, session_id: str, limit: int) -> list[list[JSON]]:
    pages: list[list[JSON]] = []
    cursor: str | None = None
    while True:
        params: JSON = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{V1}/{session_id}/messages", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        assert body["has_more"] is bool(cursor)
        if not cursor:
            return pages


async def test_pages_walk_back_without_overlap_or_gaps_with_tool_rows_folded(
    client: httpx.AsyncClient, container: Container, database: Database
) -> None:
    project = await _board_project(client, database)
    session = await _board_session(client, project)
    session_id = UUID(session["id"])
    expected = await _conversation(container, session_id, UUID(project["pm_session_id"]))

    pages = await _walk_back(client, session["id"], limit=5)
    assert len(pages) > 2
    shown = [item for page in reversed(pages) for item in page]
    assert [_label(item) for item in shown] == expected
    for page in pages:
        assert [item["sequence"] for item in page] == sorted(item["sequence"] for item in page)
    assert len({item["id"] for item in shown}) == len(shown)
    for item in shown:
        _assert_shape(item, MESSAGE_FIELDS)
        _assert_iso_with_zone(item["timestamp"])

    tools = [item for item in shown if item["role"] == "tool"]
    assert [tool["tool_result"] for tool in tools] == [
        {"content": f"out {n}", "is_error": n == 2} for n in range(4)
    ]
    assert [tool["tool_error"] for tool in tools] == [False, False, True, False]
    assert all(
        tool["tool_name"] == "Bash" and tool["tool_args"] == {"command": "ls"} for tool in tools
    )
    for item in shown:
        if item["role"] in ("assistant", "tool"):
            assert (item["agent_id"], item["agent_name"]) == ("dev", "Dev")
            assert item["from_instance_id"] is None
            assert item["response_id"].startswith("run-")
    notices = [item for item in shown if item["role"] == "system"]
    assert len(notices) == 4
    assert all(
        (notice["agent_id"], notice["agent_name"], notice["from_instance_id"], notice["tool_name"])
        == (None, None, None, None)
        for notice in notices
    )
    humans = [item for item in shown if item["role"] == "user"][:-1]
    assert all(
        (human["agent_id"], human["agent_name"], human["from_instance_id"]) == (None, None, None)
        for human in humans
    )
    routed = shown[-1]
    assert (routed["agent_id"], routed["agent_name"]) == ("lead", "Lead")
    assert routed["from_instance_id"] == project["pm_session_id"]


async def test_a_tool_row_whose_result_is_on_a_newer_page_still_has_it(
    client: httpx.AsyncClient, container: Container
) -> None:
    session = await _launch(client)
    session_id = UUID(session["id"])
    await store_messages(
        container,
        Message.user(session_id, "go"),
        Message.tool_use(session_id, "toolu_x", "Read", {"file_path": "a.md"}, "run"),
        Message.tool_result(session_id, "toolu_x", "# A", False),
        Message.assistant_text(session_id, "read it", "run"),
    )

    newest = (await client.get(f"{V1}/{session['id']}/messages", params={"limit": 1})).json()
    assert [item["content"] for item in newest["items"]] == ["read it"]
    older = await client.get(
        f"{V1}/{session['id']}/messages", params={"limit": 1, "cursor": newest["next_cursor"]}
    )
    (tool,) = older.json()["items"]
    assert tool["role"] == "tool"
    assert tool["tool_result"] == {"content": "# A", "is_error": False}


async def test_a_bad_cursor_is_a_readable_422(client: httpx.AsyncClient) -> None:
    session = await _launch(client)
    response = await client.get(f"{V1}/{session['id']}/messages", params={"cursor": "nonsense"})
    assert response.status_code == 422
    assert "cursor" in response.json()["detail"]


# --- with runs (live server) ----------------------------------------------------------------


async def _enqueue(live: LiveApp, session_id: str, query: str) -> None:
    response = await live.client.post(
        f"{V1}/{session_id}/enqueue", json={"query": query, "stream": True}
    )
    assert 200 <= response.status_code < 300, response.text


async def test_enqueue_queues_while_busy_and_interrupt_clears_the_queue_as_the_original_did(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = team.pm_session_id
    claude.enqueue(Reply.hang(), Reply.text("second answer"))
    await _enqueue(live, session_id, "first\n\nline")
    await wait_for_status(live.client, session_id, "thinking", "working")
    await _enqueue(live, session_id, "second")
    status = (await live.client.get(f"{V1}/{session_id}/queue-status")).json()
    assert status == {"queue_size": 1, "is_processing": True}

    assert (await live.client.post(f"{V1}/{session_id}/interrupt")).status_code == 204
    current = (await live.client.get(f"{V1}/{session_id}")).json()
    assert current["status"] == "idle"
    assert live.container.workers.running(UUID(session_id)) is None
    items = (await live.client.get(f"{V1}/{session_id}/messages")).json()["items"]
    assert [item["content"] for item in items if item["role"] == "user"] == ["first\n\nline"]
    status = (await live.client.get(f"{V1}/{session_id}/queue-status")).json()
    assert status == {"queue_size": 0, "is_processing": False}
    queue = (await live.client.get(f"/api/v2/sessions/{session_id}/queue")).json()["data"]
    assert [item["content"] for item in queue["dropped"]] == ["second"]


async def test_recreate_during_a_turn_stops_it_and_starts_over(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = team.pm_session_id
    claude.enqueue(Reply.hang(), Reply.text("queued answer"))
    await _enqueue(live, session_id, "long task")
    await wait_for_status(live.client, session_id, "thinking", "working")
    await _enqueue(live, session_id, "waiting in the queue")

    recreated = (await live.client.post(f"{V1}/{session_id}/recreate")).json()
    assert (recreated["id"], recreated["status"]) == (session_id, "idle")
    await wait_until_idle(live, session_id)
    assert (await live.client.get(f"{V1}/{session_id}/messages")).json()["items"] == []
    status = (await live.client.get(f"{V1}/{session_id}/queue-status")).json()
    assert status == {"queue_size": 0, "is_processing": False}
