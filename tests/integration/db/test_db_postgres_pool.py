"""The Postgres pool's connections: pinged at checkout only after sitting idle (a dead idle one
is replaced before a unit of work sees it), and no server-side prepared statements."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.db.engine import create_engine, create_sync_engine
from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
from fitdata_core.errors import DatabaseUnavailable

pytestmark = pytest.mark.integration


async def _backend_pid(engine: AsyncEngine) -> int:
    # The pool holds one connection, so this is the one units of work get.
    async with engine.connect() as conn:
        return int((await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one())


async def _use(engine: AsyncEngine) -> None:
    async with SqlUnitOfWorkFactory(engine)() as uow:
        assert await uow.organizations.get("no-such-org") is None


def _terminate(url: str, pid: int) -> None:
    # Another connection ends the pooled one's server process, as a Postgres restart or an
    # idle-connection killer would.
    killer = create_sync_engine(url)
    try:
        with killer.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        killer.dispose()


async def test_a_dead_idle_connection_is_replaced_before_use(clean_pg_url: str) -> None:
    engine = create_engine(clean_pg_url, pool_size=1, max_overflow=0, ping_after_idle_seconds=0)
    try:
        first = await _backend_pid(engine)
        _terminate(clean_pg_url, first)

        await _use(engine)  # the ping fails, the pool opens another
        second = await _backend_pid(engine)
    finally:
        await engine.dispose()
    assert second != first


async def test_a_connection_back_from_use_a_moment_ago_is_not_pinged(clean_pg_url: str) -> None:
    # Without the ping the dead connection reaches the unit of work, which fails with
    # DatabaseUnavailable; the pool is then discarded and the next unit of work works.
    engine = create_engine(clean_pg_url, pool_size=1, max_overflow=0, ping_after_idle_seconds=3600)
    try:
        first = await _backend_pid(engine)
        _terminate(clean_pg_url, first)

        with pytest.raises(DatabaseUnavailable):
            await _use(engine)
        await _use(engine)
        second = await _backend_pid(engine)
    finally:
        await engine.dispose()
    assert second != first


async def test_statements_are_not_prepared_on_the_server(clean_pg_url: str) -> None:
    # psycopg's default prepares a statement at its fifth use on a connection, and forgets
    # them all at each ROLLBACK with an extra DEALLOCATE ALL round trip.
    engine = create_engine(clean_pg_url, pool_size=1, max_overflow=0)
    statement = sa.select(sa.literal_column("1")).where(sa.bindparam("x", 1) == 1)
    try:
        async with engine.connect() as conn:
            for _ in range(8):
                assert (await conn.execute(statement)).scalar_one() == 1
            prepared = await conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements")
            count = prepared.scalar_one()
    finally:
        await engine.dispose()
    assert count == 0
