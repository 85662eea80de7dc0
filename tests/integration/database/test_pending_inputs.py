"""The queue table: acceptance order, dropped rows kept, and its constraint."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.core.exceptions import ConflictError
from kumiai.domain.entities import ActivityEntry, Message, PendingInput, Project, Session
from kumiai.domain.repositories import ActivityFilter, PageRequest
from kumiai.domain.value_objects import EventType, PendingInputState, SessionType
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.repositories.pending_inputs import _LOCKED_QUEUE
from kumiai.infrastructure.database.tables import session_events
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork

NOW = datetime(2026, 11, 29, tzinfo=UTC)


async def _session(database: Database) -> Session:
    async with SqlUnitOfWork(database.session_factory) as uow:
        session = Session.create(SessionType.ASSISTANT)
        session.mark_ready()
        await uow.sessions.add(session)
        await uow.commit()
    return session


async def _session_in_archived_project(database: Database) -> Session:
    async with SqlUnitOfWork(database.session_factory) as uow:
        project = Project.create(name="Apollo", path="/srv/apollo")
        project.archive(NOW)
        await uow.projects.add(project)
        session = Session.create(SessionType.ASSISTANT, project_id=project.id)
        session.mark_ready()
        await uow.sessions.add(session)
        await uow.commit()
    return session


async def _accept(database: Database, session: Session, *contents: str) -> list[PendingInput]:
    async with SqlUnitOfWork(database.session_factory) as uow:
        items = [PendingInput.accept(session.id, content) for content in contents]
        for item in items:
            await uow.pending.add(item)
        await uow.commit()
    return items


async def test_the_queue_is_in_acceptance_order_and_dropped_inputs_leave_it_but_stay_listed(
    database: Database,
) -> None:
    session = await _session(database)
    first, second, third = await _accept(database, session, "one", "two", "three")
    assert first.position is not None and second.position is not None
    assert first.position < second.position < (third.position or 0)

    async with SqlUnitOfWork(database.session_factory) as uow:
        (loaded,) = [item for item in await uow.pending.waiting(session.id) if item.id == second.id]
        loaded.drop("no longer needed", NOW)
        await uow.commit()

    async with SqlUnitOfWork(database.session_factory) as uow:
        assert [item.content for item in await uow.pending.waiting(session.id)] == ["one", "three"]
        assert (await uow.pending.next_waiting(session.id)).content == "one"  # type: ignore[union-attr]
        (dropped,) = await uow.pending.dropped(session.id, limit=10)
        assert (dropped.content, dropped.state) == ("two", PendingInputState.DROPPED)
        assert session.id in await uow.pending.sessions_waiting()


async def test_waiting_among_names_the_sessions_with_pending_inputs_and_their_archived_projects(
    database: Database,
) -> None:
    free, idle, emptied = [await _session(database) for _ in range(3)]
    archived = await _session_in_archived_project(database)
    await _accept(database, free, "one", "two")
    await _accept(database, archived, "three")
    await _accept(database, emptied, "four")
    async with SqlUnitOfWork(database.session_factory) as uow:
        (dropped,) = await uow.pending.waiting(emptied.id)
        dropped.drop("no longer needed", NOW)
        await uow.commit()

    async with SqlUnitOfWork(database.session_factory) as uow:
        found = await uow.pending.waiting_among([free.id, archived.id, idle.id, emptied.id])
        nothing = await uow.pending.waiting_among([])

    assert found == {free.id: False, archived.id: True}
    assert nothing == {}


async def test_a_session_read_with_its_waiting_says_what_waiting_among_says_of_it(
    database: Database,
) -> None:
    free, idle, emptied, gone = [await _session(database) for _ in range(4)]
    archived = await _session_in_archived_project(database)
    for session in (free, archived, emptied, gone):
        await _accept(database, session, "one")
    async with SqlUnitOfWork(database.session_factory) as uow:
        (dropped,) = await uow.pending.waiting(emptied.id)
        dropped.drop("no longer needed", NOW)
        deleted = await uow.sessions.get(gone.id)
        assert deleted is not None
        deleted.soft_delete(NOW)
        await uow.commit()

    async with SqlUnitOfWork(database.session_factory, read_only=True) as uow:
        read = {
            session.id: await uow.sessions.get_with_waiting(session.id)
            for session in (free, archived, idle, emptied, gone)
        }

    assert {key: (row and row.id, in_archive) for key, (row, in_archive) in read.items()} == {
        free.id: (free.id, False),
        archived.id: (archived.id, True),
        idle.id: (idle.id, None),
        emptied.id: (emptied.id, None),
        gone.id: (None, None),
    }


async def test_removing_an_input_that_entered_the_transcript_empties_the_queue(
    database: Database,
) -> None:
    session = await _session(database)
    await _accept(database, session, "only")
    async with SqlUnitOfWork(database.session_factory) as uow:
        loaded = await uow.pending.next_waiting(session.id)
        assert loaded is not None
        await uow.pending.remove(loaded)
        await uow.commit()
    async with SqlUnitOfWork(database.session_factory) as uow:
        assert await uow.pending.waiting(session.id) == []
        assert session.id not in await uow.pending.sessions_waiting()


async def test_an_input_dropped_after_a_claim_read_it_is_not_removed_and_stays_listed(
    database: Database,
) -> None:
    session = await _session(database)
    (item,) = await _accept(database, session, "only")
    async with SqlUnitOfWork(database.session_factory) as uow:
        stale = await uow.pending.next_waiting(session.id)  # read before the drop commits
        assert stale is not None
        async with SqlUnitOfWork(database.session_factory) as cancel:
            dropped = await cancel.pending.next_waiting(session.id)
            assert dropped is not None
            dropped.drop("stopped by the user", NOW)
            await cancel.commit()
        assert await uow.pending.remove(stale) is False
        await uow.commit()
    async with SqlUnitOfWork(database.session_factory) as uow:
        assert [row.id for row in await uow.pending.dropped(session.id, 10)] == [item.id]


async def test_a_message_that_would_start_a_turn_is_not_written_while_an_input_waits(
    database: Database,
) -> None:
    session = await _session(database)
    await _accept(database, session, "queued first")
    refused = Message.user(session.id, "sent second")
    async with SqlUnitOfWork(database.session_factory) as uow:
        started = await uow.messages.append_unless_inputs_wait(refused, _sent(refused))
        assert started is False
        await uow.commit()
    async with SqlUnitOfWork(database.session_factory) as uow:
        assert await uow.messages.newest(session.id, limit=10) == []
        assert await uow.pending.remove((await uow.pending.waiting(session.id))[0]) is True
        second = Message.user(session.id, "sent second")
        assert await uow.messages.append_unless_inputs_wait(second, _sent(second)) is True
        await uow.commit()
    assert second.sequence == 0  # the refused append allocated no sequence
    async with SqlUnitOfWork(database.session_factory) as uow:
        page = await uow.activity.list_page(
            PageRequest(limit=10), ActivityFilter(session_id=session.id)
        )
    # The message's activity row was written with it, and only then.
    assert [entry.event_data["message_id"] for entry in page.items] == [str(second.id)]


def _sent(message: Message) -> ActivityEntry:
    return ActivityEntry.record(
        EventType.MESSAGE_SENT, session_id=message.session_id, message_id=str(message.id)
    )


async def test_a_dropped_row_must_say_when_it_was_dropped(database: Database) -> None:
    session = await _session(database)
    await _accept(database, session, "x")
    with pytest.raises(ConflictError) as raised:
        async with SqlUnitOfWork(database.session_factory) as uow:
            loaded = await uow.pending.next_waiting(session.id)
            assert loaded is not None
            loaded.state = PendingInputState.DROPPED
            await uow.commit()
    assert raised.value.details == {"constraint": "ck_pending_inputs_dropped_at_iff_dropped"}
    cause = raised.value.__cause__
    assert isinstance(cause, IntegrityError)
    assert getattr(cause.orig, "sqlstate", None) == "23514"


async def test_the_locked_queue_is_the_session_its_project_and_its_waiting_inputs_in_order(
    database: Database,
) -> None:
    session = await _session_in_archived_project(database)
    empty = await _session(database)
    first, second, third = await _accept(database, session, "one", "two", "three")
    async with SqlUnitOfWork(database.session_factory) as uow:
        (loaded,) = [item for item in await uow.pending.waiting(session.id) if item.id == second.id]
        loaded.drop("no longer needed", NOW)
        await uow.commit()

    async with SqlUnitOfWork(database.session_factory) as uow:
        locked = await uow.pending.locked_queue(session.id)
        assert locked.session is not None and locked.session.id == session.id
        project = locked.project
        assert project is not None and project.id == session.project_id and project.is_archived
        assert [item.id for item in locked.waiting] == [first.id, third.id]
        alone = await uow.pending.locked_queue(empty.id)
        assert alone.session is not None and alone.project is None and alone.waiting == []
        assert await uow.pending.locked_queue(uuid4()) == (None, None, [], None, 0)


async def test_the_locked_queue_brings_the_users_profile_once_there_is_one(
    database: Database,
) -> None:
    session = await _session(database)
    first, second = await _accept(database, session, "one", "two")
    async with SqlUnitOfWork(database.session_factory) as uow:
        assert (await uow.pending.locked_queue(session.id)).profile is None
        profile = await uow.profiles.get_or_create()
        profile.display_name = "Ada"
        await uow.commit()

    async with SqlUnitOfWork(database.session_factory) as uow:
        locked = await uow.pending.locked_queue(session.id)
        assert locked.profile is not None and locked.profile.display_name == "Ada"
        # The profile joins every row: one row per waiting input all the same.
        assert [item.id for item in locked.waiting] == [first.id, second.id]


async def test_the_locked_queue_brings_the_newest_id_of_the_sessions_events(
    database: Database, connection: AsyncConnection
) -> None:
    session, other = await _session(database), await _session(database)
    async with SqlUnitOfWork(database.session_factory) as uow:
        assert (await uow.pending.locked_queue(session.id)).event_head == 0

    async def append(session_id: UUID) -> int:
        inserted = session_events.insert().values(session_id=session_id, type="step", data={})
        return int((await connection.execute(inserted.returning(session_events.c.id))).scalar_one())

    newest = [await append(session.id) for _ in range(3)][-1]
    newest_of_other = await append(other.id)

    async with SqlUnitOfWork(database.session_factory) as uow:
        assert (await uow.pending.locked_queue(session.id)).event_head == newest
        assert (await uow.pending.locked_queue(other.id)).event_head == newest_of_other


async def test_the_locked_queue_has_no_project_once_the_project_is_deleted(
    database: Database,
) -> None:
    session = await _session_in_archived_project(database)
    async with SqlUnitOfWork(database.session_factory) as uow:
        project = await uow.projects.get(session.project_id)  # type: ignore[arg-type]
        assert project is not None
        project.soft_delete(NOW)
        await uow.commit()

    async with SqlUnitOfWork(database.session_factory) as uow:
        locked = await uow.pending.locked_queue(session.id)
        assert locked.session is not None and locked.project is None


def test_the_locked_queue_locks_the_session_row_only() -> None:
    # The shared test connection cannot show a second locker waiting; the SQL says it.
    sql = str(_LOCKED_QUEUE.compile(dialect=postgresql.dialect()))
    assert sql.rstrip().endswith("FOR UPDATE OF sessions")
