"""What a turn's context is read from: the session's character and a PM's team as they
are when the turn starts."""

from __future__ import annotations

from datetime import UTC, datetime

from kumiai.domain.entities import Character
from tests.support.fake_runtime import say
from tests.support.runtime_app import RuntimeApp


async def test_a_pms_turn_names_its_character_and_only_the_live_members_of_its_team(
    app: RuntimeApp,
) -> None:
    _, pm, team = await app.team("Dana", "Eli")
    app.db.rows[Character][team["Eli"].id].soft_delete(datetime.now(UTC))
    app.claude.script(say("Hello."))

    await app.send(pm, "who is on the team?")
    await app.idle(pm)

    (request,) = app.claude.requests
    assert request.system.startswith("You are Pat, a project manager.")
    assert f"- {team['Dana'].slug}: Dana" in request.system
    assert team["Eli"].slug not in request.system


async def test_a_pm_whose_character_was_deleted_still_speaks_as_it(app: RuntimeApp) -> None:
    _, pm, team = await app.team("Dana")
    (pat,) = [row for row in app.db.rows[Character].values() if row.name == "Pat"]
    pat.soft_delete(datetime.now(UTC))
    app.claude.script(say("Hello."))

    await app.send(pm, "hi")
    await app.idle(pm)

    (request,) = app.claude.requests
    assert request.system.startswith("You are Pat, a project manager.")
    assert f"- {team['Dana'].slug}: Dana" in request.system
