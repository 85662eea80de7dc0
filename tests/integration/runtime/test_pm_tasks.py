"""The PM's task tools (create_task, list_tasks, update_task_status, spawn_instance with
task_id), confined to the PM's own project, on both runtimes."""

from __future__ import annotations

import json
from typing import Any

from tests.factories.tasks import create_task
from tests.integration.runtime.conftest import BOTH_RUNTIMES
from tests.integration.runtime.helpers import (
    Team,
    create_specialist,
    create_team,
    messages,
    send,
    settle,
    wait_until_idle,
)
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic

PM = "You are Pat,"
CREATE_TASK = "mcp__pm_management__create_task"
LIST_TASKS = "mcp__pm_management__list_tasks"
UPDATE_TASK_STATUS = "mcp__pm_management__update_task_status"
SPAWN = "mcp__pm_management__spawn_instance"


async def _results(live: LiveApp, session_id: str) -> dict[str, dict[str, Any]]:
    """The PM's tool results by the id of the call they answer."""
    rows = await messages(live.client, session_id)
    return {row["tool_use_id"]: row for row in rows if row["role"] == "tool_result"}


async def _tasks(live: LiveApp, team: Team) -> dict[str, dict[str, Any]]:
    listed = await live.client.get(f"/api/v1/projects/{team.project['id']}/tasks")
    return {task["name"]: task for task in listed.json()}


@BOTH_RUNTIMES
async def test_a_pm_creates_lists_and_moves_tasks_and_binds_a_specialist_to_one(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    checkout = await create_task(live.client, team.project["id"], "Checkout")
    dana = team.members["Dana"]["slug"]
    claude.enqueue(
        Reply.tool_use(CREATE_TASK, {"name": " Receipts ", "description": "email them"}, "t_new"),
        Reply.tool_use(LIST_TASKS, {}, "t_list"),
        Reply.tool_use(
            SPAWN,
            {"agent_id": dana, "task_description": "Build checkout", "task_id": checkout["id"]},
            "t_spawn",
        ),
        Reply.tool_use(
            UPDATE_TASK_STATUS, {"task_id": checkout["id"], "new_status": "DONE"}, "t_move"
        ),
        Reply.text("Checkout is done; receipts are next."),
        when_system_contains=PM,
    )
    claude.enqueue(Reply.text("Building it."), when_system_contains="You are Dana,")

    await send(live.client, team.pm_session_id, "plan the shop")
    await wait_until_idle(live, team.pm_session_id, timeout=30)
    results = await _results(live, team.pm_session_id)
    assert not any(result["metadata"]["is_error"] for result in results.values())

    tasks = await _tasks(live, team)
    receipts = tasks["Receipts"]
    assert (receipts["status"], receipts["description"]) == ("open", "email them")
    created = json.loads(results["t_new"]["content"])
    assert created["task_id"] == receipts["id"]
    assert receipts["id"] in created["hint"]

    listing = json.loads(results["t_list"]["content"])
    assert listing["total"] == 2
    assert [task["name"] for task in listing["by_status"]["open"]] == ["Checkout", "Receipts"]
    assert listing["by_status"]["done"] == []

    spawned = json.loads(results["t_spawn"]["content"])
    assert spawned["task_id"] == checkout["id"]
    specialist = await live.client.get(f"/api/v1/sessions/{spawned['session_id']}")
    assert specialist.json()["task_id"] == checkout["id"]

    moved = json.loads(results["t_move"]["content"])
    assert moved["new_status"] == "done"
    # The specialist's turn may have moved it to in_progress before the PM's call.
    assert moved["old_status"] in ("open", "in_progress")
    assert tasks["Checkout"]["status"] == "done"
    await settle(live, claude, [team.pm_session_id, spawned["session_id"]])


@BOTH_RUNTIMES
async def test_a_pm_can_neither_move_nor_bind_to_another_projects_task(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    other = await live.client.post("/api/v2/projects", json={"name": "Other"})
    theirs = await create_task(live.client, other.json()["data"]["id"], "Theirs")
    dana = team.members["Dana"]["slug"]
    claude.enqueue(
        Reply.tool_use(
            UPDATE_TASK_STATUS, {"task_id": theirs["id"], "new_status": "done"}, "t_move"
        ),
        Reply.tool_use(
            SPAWN,
            {"agent_id": dana, "task_description": "Help them", "task_id": theirs["id"]},
            "t_spawn",
        ),
        Reply.tool_use(
            UPDATE_TASK_STATUS, {"task_id": theirs["id"], "new_status": "shipped"}, "t_bad"
        ),
        Reply.text("I can't touch that project's tasks."),
        when_system_contains=PM,
    )

    await send(live.client, team.pm_session_id, "close their task")
    await wait_until_idle(live, team.pm_session_id, timeout=30)
    results = await _results(live, team.pm_session_id)
    assert all(result["metadata"]["is_error"] for result in results.values())
    assert "not found" in results["t_move"]["content"]
    assert "another project" in results["t_spawn"]["content"]
    assert "in_progress" in results["t_bad"]["content"]  # the statuses it may use

    unchanged = await live.client.get(f"/api/v1/tasks/{theirs['id']}")
    assert unchanged.json()["status"] == "open"
    listed = await live.client.get("/api/v2/sessions", params={"project_id": team.project["id"]})
    assert [row["session_type"] for row in listed.json()["data"]] == ["pm"]


async def test_list_tasks_of_a_project_without_tasks_says_how_to_add_one(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    claude.enqueue(Reply.tool_use(LIST_TASKS, {}, "t_list"), Reply.text("No tasks yet."))
    await send(live.client, team.pm_session_id, "what is on the board?")
    await wait_until_idle(live, team.pm_session_id)
    listing = json.loads((await _results(live, team.pm_session_id))["t_list"]["content"])
    assert listing["total"] == 0
    assert "create_task" in listing["hint"]


async def test_the_pm_is_told_how_to_use_tasks_and_only_the_pm_gets_the_tools(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    specialist = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.text("Hello."), when_system_contains=PM)
    claude.enqueue(Reply.text("Hi."), when_system_contains="You are Dana,")
    await send(live.client, team.pm_session_id, "hi")
    await send(live.client, specialist, "hi")
    await settle(live, claude, [team.pm_session_id, specialist])

    (pm_request,) = [r for r in claude.requests if PM in json.dumps(r.system)]
    (dana_request,) = [r for r in claude.requests if PM not in json.dumps(r.system)]
    task_tools = {CREATE_TASK, LIST_TASKS, UPDATE_TASK_STATUS}
    assert task_tools <= {tool["name"] for tool in pm_request.tools}
    assert not task_tools & {tool["name"] for tool in dana_request.tools}
    spawn = next(tool for tool in pm_request.tools if tool["name"] == SPAWN)
    assert spawn["input_schema"]["required"] == ["agent_id", "task_description"]
    assert "task_id" in spawn["input_schema"]["properties"]
    prompt = json.dumps(pm_request.system)
    assert all(tool in prompt for tool in task_tools)
    assert "task_id" in prompt
