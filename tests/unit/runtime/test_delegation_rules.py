"""Delegation: a PM starts specialists and agents message each other through the inbox,
within runaway guards; a refusal is a tool error for the model and a note for the user."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

from kumiai.application.services.runtime.delegation import DelegationLimits
from kumiai.application.services.runtime.orchestration import (
    CONTACT_INSTANCE,
    CONTACT_PM,
    LIST_TEAM,
    NOTIFY_USER,
    SESSION_INFO,
    SPAWN,
)
from kumiai.domain.entities import Message
from kumiai.domain.value_objects import SessionType
from tests.support.fake_runtime import call, say
from tests.support.runtime_app import RuntimeApp, runtime_app

PM = "You are Pat,"


def _results(app: RuntimeApp, session_id: UUID) -> list[Message]:
    return [m for m in app.db.transcript(session_id) if m.is_tool_result]


@contextlib.asynccontextmanager
async def _two_specialists(
    home: Path, *, budget: int
) -> AsyncIterator[tuple[RuntimeApp, UUID, UUID]]:
    """Dana's and Eli's specialist sessions, with ``budget`` agent messages per request."""
    limits = DelegationLimits(agent_messages_per_request=budget)
    async with runtime_app(home, delegation=limits) as app:
        project_id, _, team = await app.team("Dana", "Eli")
        dana = await app.specialist(project_id, team["Dana"])
        yield app, dana, await app.specialist(project_id, team["Eli"])


async def _specialists(app: RuntimeApp, project_id: UUID) -> list[UUID]:
    views = await app.sessions.list_all(project_id)
    return [view.id for view in views if view.session_type is SessionType.SPECIALIST]


async def test_a_pm_spawns_a_specialist_which_gets_the_task_from_the_pm(app: RuntimeApp) -> None:
    project_id, pm, team = await app.team("Dana")
    app.claude.script(
        call(SPAWN, {"agent_id": team["Dana"].slug, "task_description": "Write dana.md\nsoon"}),
        say("Asked Dana."),
        when=PM,
    )
    app.claude.script(say("On it."), when="You are Dana,")

    await app.send(pm, "get dana.md written")
    await app.idle(pm)
    (dana,) = await _specialists(app, project_id)
    await app.idle(dana)

    spawned = json.loads(_results(app, pm)[0].content)
    assert spawned == {
        "instance_id": str(dana),
        "session_id": str(dana),
        "agent_id": team["Dana"].slug,
        "agent_name": "Dana",
        "task_id": None,
        "status": "started",
    }
    session = app.db.session(dana)
    assert session.context["spawned_by_session_id"] == str(pm)
    assert session.context["description"] == "Write dana.md"
    task = app.db.transcript(dana)[0]
    assert (task.content, task.sender_session_id, task.sender_name) == (
        "Write dana.md\nsoon",
        pm,
        "Pat",
    )
    created = [e for e in app.db.events_of("session_created") if e.session_id == dana]
    assert created[0].event_data == {
        "session_type": "specialist",
        "character_id": str(team["Dana"].id),
        "task_id": None,
    }


async def test_a_pm_cannot_spawn_someone_outside_its_team(app: RuntimeApp) -> None:
    project_id, pm, _ = await app.team("Dana")
    app.claude.script(call(SPAWN, {"agent_id": "stranger", "task_description": "x"}), say("ok"))

    await app.send(pm, "get a stranger")
    await app.idle(pm)

    (result,) = _results(app, pm)
    assert result.is_error is True
    assert "'stranger' is not on this project's team" in result.content
    assert await _specialists(app, project_id) == []


async def test_only_a_pm_can_spawn(app: RuntimeApp) -> None:
    project_id, _, team = await app.team("Dana", "Eli")
    dana = await app.specialist(project_id, team["Dana"])
    app.claude.script(call(SPAWN, {"agent_id": team["Eli"].slug, "task_description": "x"}))

    await app.send(dana, "get help")
    await app.idle(dana)

    (result,) = _results(app, dana)
    # A specialist is not even offered the tool.
    assert (result.is_error, result.content) == (True, f"unknown tool: {SPAWN}")


async def test_the_specialist_limit_refuses_the_next_spawn_and_tells_the_user(
    tmp_path: Path,
) -> None:
    limits = DelegationLimits(specialists_per_session=1)
    async with runtime_app(tmp_path, delegation=limits) as app:
        project_id, pm, team = await app.team("Dana")
        slug = team["Dana"].slug
        app.claude.script(
            call(SPAWN, {"agent_id": slug, "task_description": "part one"}),
            call(SPAWN, {"agent_id": slug, "task_description": "part two"}),
            say("Dana has both parts."),
            when=PM,
        )
        await app.send(pm, "split the work")
        notification = await app.event(pm, "notification")
        await app.idle(pm)

        first, second = _results(app, pm)
        assert (first.is_error, second.is_error) == (False, True)
        assert "already started 1 specialists" in second.content
        assert notification.data["priority"] == "high"
        assert "more than 1 specialists" in notification.data["message"]
        assert len(await _specialists(app, project_id)) == 1


async def test_agents_messaging_each_other_stop_when_the_requests_budget_is_spent(
    tmp_path: Path,
) -> None:
    async with _two_specialists(tmp_path, budget=3) as (app, dana, eli):
        for _ in range(3):
            for name, other in (("Dana", eli), ("Eli", dana)):
                app.claude.script(
                    call(CONTACT_INSTANCE, {"target_instance_id": str(other), "message": "yours"}),
                    say("Passed it on."),
                    when=f"You are {name},",
                )
        await app.send(dana, "start the ping-pong")
        await app.drained()

        delivered = [m for s in (dana, eli) for m in app.db.transcript(s) if m.sender_session_id]
        assert len(delivered) == 3
        refused = [m for s in (dana, eli) for m in _results(app, s) if m.is_error]
        assert len(refused) == 1
        assert "budget of 3 messages" in refused[0].content
        notes = [e for e in app.events(dana) if e.type == "notification"]
        assert len(notes) == 1  # the user is told once, on the session they wrote in
        sent = sorted(m.metadata["chain"]["sent"] for m in delivered)
        assert sent == [1, 2, 3]


async def test_a_new_message_from_the_user_brings_a_fresh_budget(tmp_path: Path) -> None:
    async with _two_specialists(tmp_path, budget=1) as (app, dana, eli):
        for _ in range(2):
            app.claude.script(
                call(CONTACT_INSTANCE, {"target_instance_id": str(eli), "message": "hi"}),
                when="You are Dana,",
            )
        await app.send(dana, "tell Eli")
        await app.drained()
        await app.send(dana, "tell Eli again")
        await app.drained()

        assert [m.is_error for m in _results(app, dana)] == [False, False]
        assert [m.content for m in app.db.transcript(eli) if m.role.value == "user"] == [
            "hi",
            "hi",
        ]


async def test_a_reply_to_the_pm_belongs_to_the_chain_of_the_pms_request(
    app: RuntimeApp,
) -> None:
    project_id, pm, team = await app.team("Dana")
    dana = await app.specialist(project_id, team["Dana"])
    app.claude.script(
        call(CONTACT_INSTANCE, {"target_instance_id": str(dana), "message": "status?"}),
        when=PM,
    )
    app.claude.script(call(CONTACT_PM, {"message": "all fine"}), when="You are Dana,")

    request = await app.send(pm, "ask Dana how it goes")
    await app.drained()

    reply = next(m for m in app.db.transcript(pm) if m.sender_session_id == dana)
    assert reply.content == "all fine"
    assert reply.metadata["chain"]["origin_message_id"] == str(request.message_id)
    assert reply.metadata["chain"]["sent"] == 2


async def test_an_agent_cannot_message_its_own_session_or_one_outside_its_project(
    app: RuntimeApp,
) -> None:
    project_id, _, team = await app.team("Dana")
    dana = await app.specialist(project_id, team["Dana"])
    stranger = await app.assistant()
    app.claude.script(
        call(CONTACT_INSTANCE, {"target_instance_id": str(dana), "message": "note to self"}),
        call(CONTACT_INSTANCE, {"target_instance_id": str(stranger), "message": "hello"}),
        say("I'll do it myself."),
    )

    await app.send(dana, "go")
    await app.idle(dana)

    own, outside = _results(app, dana)
    assert own.is_error and "your own session" in own.content
    assert outside.is_error and "is not part of this project" in outside.content
    assert app.db.transcript(stranger) == []


async def test_agents_of_an_archived_project_cannot_reach_each_other(app: RuntimeApp) -> None:
    project_id, pm, team = await app.team("Dana")
    dana = await app.specialist(project_id, team["Dana"])

    async def archive_first(*_: object) -> None:
        await app.projects.archive(project_id)

    app.claude.script(
        archive_first,
        call(CONTACT_INSTANCE, {"target_instance_id": str(dana), "message": "hi"}),
        when=PM,
    )
    await app.send(pm, "tell Dana")
    await app.drained()

    (result,) = _results(app, pm)
    assert result.is_error and "is archived" in result.content


async def test_a_pm_lists_its_team_and_any_agent_can_describe_its_session_and_notify(
    app: RuntimeApp,
) -> None:
    project_id, pm, _ = await app.team("Dana", "Eli")
    app.claude.script(
        call(LIST_TEAM),
        call(SESSION_INFO),
        call(NOTIFY_USER, {"title": "Done", "message": "all set", "priority": "low"}),
        say("done"),
    )

    await app.send(pm, "who is on the team?")
    await app.idle(pm)

    listed, info, notified = _results(app, pm)
    assert [member["name"] for member in json.loads(listed.content)] == ["Dana", "Eli"]
    described = json.loads(info.content)
    assert described["session_id"] == str(pm)
    assert described["project_id"] == str(project_id)
    assert described["working_directory"] == (await app.projects.get(project_id)).path
    assert notified.content == "The user was notified."
    notification = next(e for e in app.events(pm) if e.type == "notification")
    assert notification.data["title"] == "Done"
    assert notification.data["priority"] == "low"
    assert notification.data["project_name"] == (await app.projects.get(project_id)).name
