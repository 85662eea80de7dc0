"""Every status change records its activity and is announced once it is committed,
never before and never when the change was rolled back."""

from __future__ import annotations

import pytest

from kumiai.core.exceptions import DatabaseUnavailableError, InvalidTransitionError
from tests.support.runtime_app import RuntimeApp


async def test_a_status_change_whose_commit_fails_is_neither_stored_nor_announced(
    app: RuntimeApp,
) -> None:
    session_id = await app.assistant()
    await app.sessions.cancel(session_id)
    announced = len(app.events(session_id))

    app.db.fail_commits(1)
    with pytest.raises(DatabaseUnavailableError):
        await app.sessions.resume(session_id)

    assert app.status(session_id) == "cancelled"
    assert len(app.events(session_id)) == announced
    assert app.db.events_of("session_resumed") == []


async def test_a_resume_reopens_an_ended_session_and_says_so(app: RuntimeApp) -> None:
    session_id = await app.assistant()
    await app.sessions.cancel(session_id)

    view = await app.sessions.resume(session_id)

    assert view.status == "idle"
    assert app.events(session_id)[-1].data == {"status": "idle"}
    assert app.db.events_of("session_resumed")[-1].event_data == {"status": "idle"}
    with pytest.raises(InvalidTransitionError):
        await app.sessions.resume(session_id)


async def test_completing_an_idle_session_is_announced(app: RuntimeApp) -> None:
    session_id = await app.assistant()

    view = await app.sessions.complete(session_id)

    assert view.status == "completed"
    assert app.events(session_id)[-1].data == {"status": "completed"}
    assert app.db.events_of("session_completed")[-1].event_data == {"status": "completed"}


async def test_a_new_pm_stops_the_pm_session_it_replaces_and_says_so(app: RuntimeApp) -> None:
    project_id, old_pm, _ = await app.team()
    other = app.character("Quinn", role="project manager")

    await app.projects.assign_pm(project_id, other.slug)

    assert app.status(old_pm) == "cancelled"
    assert app.events(old_pm)[-1].data == {"status": "cancelled"}
    assert app.db.events_of("pm_assigned")[-1].event_data["character_id"] == str(other.id)


async def test_a_deleted_project_retires_its_sessions_without_announcing_them(
    app: RuntimeApp,
) -> None:
    project_id, pm, _ = await app.team()

    await app.projects.delete(project_id)

    assert app.db.session(pm).deleted_at is not None
    assert [e.event_data["status"] for e in app.db.events_of("session_deleted")] == ["cancelled"]
    assert all(e.data != {"status": "cancelled"} for e in app.events(pm))
