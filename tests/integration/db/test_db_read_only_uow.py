"""Read-only units of work on the real databases: SQLite readers leave the write lock free,
Postgres read-only transactions refuse writes."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from fitdata_adapters.db.engine import create_engine
from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
from fitdata_core.model.organizations import Organization
from support import builders

pytestmark = pytest.mark.integration

# Short waits everywhere: a regression (a reader holding the write lock) must fail in a
# fraction of a second rather than hang on the production 30 s busy timeout.
SHORT_BUSY_MS = 200


@pytest.fixture
async def sqlite_factory(sqlite_url: str) -> AsyncIterator[SqlUnitOfWorkFactory]:
    engine = create_engine(sqlite_url, sqlite_busy_timeout_ms=SHORT_BUSY_MS)
    try:
        yield SqlUnitOfWorkFactory(engine)
    finally:
        await engine.dispose()


async def _seed(factory: SqlUnitOfWorkFactory) -> Organization:
    org = builders.organization(name="Before")
    async with factory() as uow:
        await uow.organizations.add(org)
        await uow.commit()
    return org


def _rename_from_another_connection(sqlite_url: str, org_id: str, name: str) -> None:
    """A write on a separate stdlib connection that gives up after the short busy wait."""
    path = Path(str(make_url(sqlite_url).database))
    other = sqlite3.connect(path, timeout=SHORT_BUSY_MS / 1000, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE organizations SET name = ? WHERE id = ?", (name, org_id))
        other.execute("COMMIT")
    finally:
        other.close()


async def test_a_write_from_another_connection_does_not_wait_for_a_sqlite_reader(
    sqlite_factory: SqlUnitOfWorkFactory, sqlite_url: str
) -> None:
    org = await _seed(sqlite_factory)

    async with sqlite_factory(read_only=True) as reader:
        assert await reader.organizations.get(org.id) == org  # the reader holds a snapshot
        _rename_from_another_connection(sqlite_url, org.id, "After")

    async with sqlite_factory(read_only=True) as uow:
        renamed = await uow.organizations.get(org.id)
    assert renamed is not None
    assert renamed.name == "After"


async def test_a_sqlite_read_write_unit_of_work_does_hold_the_write_lock(
    sqlite_factory: SqlUnitOfWorkFactory, sqlite_url: str
) -> None:
    # The other half of the test above: without read_only the same write is locked out, so
    # the test above would catch a read-only unit of work that still began IMMEDIATE.
    org = await _seed(sqlite_factory)

    async with sqlite_factory() as uow:
        assert await uow.organizations.get(org.id) == org
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _rename_from_another_connection(sqlite_url, org.id, "After")


async def test_a_postgres_read_only_unit_of_work_refuses_writes(clean_pg_url: str) -> None:
    engine = create_engine(clean_pg_url)
    factory = SqlUnitOfWorkFactory(engine)
    try:
        org = await _seed(factory)
        async with factory(read_only=True) as uow:
            assert await uow.organizations.get(org.id) == org
            with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
                await uow.organizations.add(builders.organization())
        async with factory() as uow:  # the pooled connection is read-write again
            await uow.organizations.add(builders.organization(name="Later"))
            await uow.commit()
    finally:
        await engine.dispose()


# In a transaction of its own (autocommit) a statement starts its transaction itself, so
# ``now()`` (the transaction's start) equals ``statement_timestamp()``; after a separate
# ``BEGIN`` round trip it is earlier.
_ITS_OWN_TRANSACTION = sa.select(sa.func.now() == sa.func.statement_timestamp())


async def test_postgres_separate_reads_run_each_on_its_own_and_refuse_writes(
    clean_pg_url: str,
) -> None:
    engine = create_engine(clean_pg_url)
    factory = SqlUnitOfWorkFactory(engine)
    try:
        org = await _seed(factory)
        async with factory(read_only=True) as uow:  # the contrast: BEGIN went first
            assert (await uow._session.execute(_ITS_OWN_TRANSACTION)).scalar_one() is False
        async with factory(separate_reads=True) as uow:
            # Each read starts its own transaction, the second one too (in a transaction the
            # second statement's timestamp would be later than the transaction's start).
            assert (await uow._session.execute(_ITS_OWN_TRANSACTION)).scalar_one() is True
            assert await uow.organizations.get(org.id) == org
            assert (await uow._session.execute(_ITS_OWN_TRANSACTION)).scalar_one() is True
            # Autocommit would commit a write at once: refused, whatever its form.
            with pytest.raises(RuntimeError, match="SELECTs only"):
                await uow.organizations.add(builders.organization(name="Autocommitted"))
            with pytest.raises(RuntimeError, match="SELECTs only"):
                await uow._session.execute(sa.text("UPDATE organizations SET name = 'Text'"))
            # A row lock would be let go as the statement ends: refused too.
            locking = sa.select(sa.literal_column("name")).select_from(sa.table("organizations"))
            with pytest.raises(RuntimeError, match="SELECTs only"):
                await uow._session.execute(locking.with_for_update())
            # The raw connection (server-side cursors, COPY, SET LOCAL) needs a transaction.
            with pytest.raises(RuntimeError, match="through execute only"):
                _ = uow._session.conn
            await uow.rollback()  # nothing to roll back: each read has ended already
        async with factory(read_only=True) as uow:  # and the pooled connection is reset
            assert (await uow._session.execute(_ITS_OWN_TRANSACTION)).scalar_one() is False
            names = (await uow._session.execute(sa.text("SELECT name FROM organizations"))).all()
        assert [n for (n,) in names] == ["Before"]
    finally:
        await engine.dispose()


async def test_a_postgres_write_after_separate_reads_is_in_a_transaction_again(
    clean_pg_url: str,
) -> None:
    # The pool holds one connection, so the writer gets the very connection the reads had in
    # autocommit: its uncommitted write must still roll back when the block ends.
    engine = create_engine(clean_pg_url, pool_size=1, max_overflow=0)
    factory = SqlUnitOfWorkFactory(engine)
    try:
        org = await _seed(factory)
        async with factory(separate_reads=True) as uow:
            assert await uow.organizations.get(org.id) == org
        async with factory() as uow:
            assert (await uow._session.execute(_ITS_OWN_TRANSACTION)).scalar_one() is False
            await uow.organizations.add(builders.organization(name="Rolled Back"))
        async with factory(read_only=True) as uow:
            names = (await uow._session.execute(sa.text("SELECT name FROM organizations"))).all()
        assert [n for (n,) in names] == ["Before"]
    finally:
        await engine.dispose()
