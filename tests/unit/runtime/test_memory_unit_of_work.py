"""The in-memory unit of work keeps the promises the runtime's unit tests lean on."""

from __future__ import annotations

import asyncio

from kumiai.application.services.runtime.events import EventHub
from kumiai.domain.entities import Session
from kumiai.domain.value_objects import SessionType
from tests.support.memory import MemoryDatabase


def _database() -> tuple[MemoryDatabase, EventHub, Session]:
    db, hub = MemoryDatabase(), EventHub()
    session = Session.create(SessionType.ASSISTANT)
    session.mark_ready()
    db.insert(session)
    return db, hub, session


async def test_changes_and_events_count_only_once_committed() -> None:
    db, hub, session = _database()
    uow = db.unit_of_work(hub)

    async with uow() as rolled_back:
        loaded = await rolled_back.sessions.get(session.id)
        assert loaded is not None
        loaded.cancel()
        rolled_back.publish(session.id, "status_changed", status="cancelled")
    assert db.session(session.id).status.value == "idle"
    assert (await hub.subscribe(session.id, after=0)).ready() == []

    async with uow() as committed:
        loaded = await committed.sessions.get(session.id)
        assert loaded is not None
        loaded.cancel()
        committed.publish(session.id, "status_changed", status="cancelled")
        await committed.commit()
    assert db.session(session.id).status.value == "cancelled"
    replayed = (await hub.subscribe(session.id, after=0)).ready()
    assert [e.type for e in replayed] == ["status_changed"]


async def test_a_row_lock_holds_other_units_of_work_until_the_first_one_ends() -> None:
    db, hub, session = _database()
    uow = db.unit_of_work(hub)
    order: list[str] = []

    async def second() -> None:
        async with uow() as other:
            await other.sessions.get_for_update(session.id)
            order.append("second locked")

    async with uow() as first:
        await first.sessions.get_for_update(session.id)
        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.01)
        order.append("first ends")
    await waiting

    assert order == ["first ends", "second locked"]


async def test_a_commit_writes_only_the_fields_it_changed() -> None:
    db, hub, session = _database()
    uow = db.unit_of_work(hub)

    async with uow() as stale, uow() as fresh:
        await stale.sessions.get(session.id)  # read, never changed
        changing = await fresh.sessions.get(session.id)
        assert changing is not None
        changing.cancel()
        await fresh.commit()
        await stale.commit()

    assert db.session(session.id).status.value == "cancelled"
