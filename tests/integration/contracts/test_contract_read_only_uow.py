"""Contract: read-only units of work (``uow_factory(read_only=True)``)."""

from __future__ import annotations

import pytest
from seeding import seed_org

from fitdata_core.errors import FitdataError
from fitdata_core.ports.repositories import UnitOfWorkFactory
from support import builders

pytestmark = pytest.mark.integration


async def test_a_read_only_unit_of_work_reads_what_was_committed(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory, name="Read Only Gym")

    async with uow_factory(read_only=True) as uow:
        found = await uow.organizations.get(org.id)
        missing = await uow.organizations.get(builders.organization().id)

    assert found == org
    assert missing is None


@pytest.mark.parametrize("mode", ["read_only", "separate_reads"])
async def test_a_reading_unit_of_work_reads_what_was_committed_and_refuses_to_commit(
    uow_factory: UnitOfWorkFactory, mode: str
) -> None:
    # Separate reads (the token check, the member list) are read-only too, without a
    # transaction on Postgres; several of them in one unit of work.
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory, name="Second Gym")

    async with uow_factory(**{mode: True}) as uow:
        assert await uow.organizations.get(org.id) == org
        assert await uow.organizations.get(other.id) == other
        with pytest.raises(FitdataError, match="read-only"):
            await uow.commit()


async def test_a_writer_commits_while_a_read_only_unit_of_work_is_open(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # The reader has read (on SQLite it holds a snapshot) and is still open when another unit
    # of work writes: the writer must not wait for it (the memory backend would deadlock,
    # SQLite would time out on the write lock, if the reader held the writers' lock).
    org = await seed_org(uow_factory)
    newcomer = builders.organization(name="Opened Meanwhile")

    async with uow_factory(read_only=True) as reader:
        assert await reader.organizations.get(org.id) == org
        async with uow_factory() as writer:
            await writer.organizations.add(newcomer)
            await writer.commit()

    async with uow_factory(read_only=True) as uow:
        assert await uow.organizations.get(newcomer.id) == newcomer


async def test_read_write_units_of_work_still_work_after_a_read_only_one(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # The read-only mark belongs to one unit of work, not to the pooled connection it used.
    org = await seed_org(uow_factory)
    async with uow_factory(read_only=True) as uow:
        await uow.organizations.get(org.id)
    renamed = builders.organization(name="Written After")

    async with uow_factory() as uow:
        await uow.organizations.add(renamed)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.organizations.get(renamed.id) == renamed


async def test_units_of_work_still_write_after_a_separate_reads_one(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # The autocommit of separate reads (SQL) belongs to that unit of work, not to the pooled
    # connection: the next unit of work's uncommitted write must still roll back.
    org = await seed_org(uow_factory)
    async with uow_factory(separate_reads=True) as uow:
        await uow.organizations.get(org.id)
        await uow.organizations.get(org.id)
    dropped = builders.organization(name="Rolled Back")
    async with uow_factory() as uow:
        await uow.organizations.add(dropped)
    kept = builders.organization(name="Committed After")
    async with uow_factory() as uow:
        await uow.organizations.add(kept)
        await uow.commit()

    async with uow_factory(read_only=True) as uow:
        assert await uow.organizations.get(dropped.id) is None
        assert await uow.organizations.get(kept.id) == kept
