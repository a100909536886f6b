"""A request's separate-reads units of work share one pooled connection (Postgres): what
shares it, what does not, and that a small pool never deadlocks on it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.db.engine import create_engine
from fitdata_adapters.db.shared_reads import shared_reads
from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
from fitdata_core.errors import DatabaseUnavailable, FitdataError
from support import builders

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(clean_pg_url: str) -> AsyncIterator[AsyncEngine]:
    # One connection: anything that takes a second one while holding the first would wait
    # for the pool's 30 s timeout (the tests give up after 10 s).
    engine = create_engine(clean_pg_url, pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


@contextmanager
def pool_counts(engine: AsyncEngine) -> Iterator[Counter[str]]:
    seen: Counter[str] = Counter()
    pool = engine.sync_engine.pool

    def checkout(*_: Any) -> None:
        seen["checkouts"] += 1

    def connect(*_: Any) -> None:
        seen["connects"] += 1

    event.listen(pool, "checkout", checkout)
    event.listen(pool, "connect", connect)
    try:
        yield seen
    finally:
        event.remove(pool, "checkout", checkout)
        event.remove(pool, "connect", connect)


async def _read(factory: SqlUnitOfWorkFactory) -> None:
    async with factory(separate_reads=True) as uow:
        assert await uow.organizations.get("no-such-org") is None


async def test_the_reads_of_a_request_take_one_connection_once(engine: AsyncEngine) -> None:
    factory = SqlUnitOfWorkFactory(engine)
    with pool_counts(engine) as seen:
        async with shared_reads():
            for _ in range(3):
                await _read(factory)
            assert engine.sync_engine.pool.checkedout() == 1  # kept between the units
        assert engine.sync_engine.pool.checkedout() == 0  # given back at the end
    assert seen["checkouts"] == 1
    with pool_counts(engine) as seen:
        for _ in range(3):
            await _read(factory)
    assert seen["checkouts"] == 3  # outside a request, a checkout each as before


async def test_a_transaction_in_the_request_gets_the_connection_back_first(
    engine: AsyncEngine,
) -> None:
    factory = SqlUnitOfWorkFactory(engine)
    org = builders.organization()

    async def request() -> None:
        async with shared_reads():
            await _read(factory)  # takes the only connection and keeps it
            async with factory() as uow:  # must not wait for a second one
                await uow.organizations.add(org)
                await uow.commit()
            async with factory(separate_reads=True) as uow:
                assert await uow.organizations.get(org.id) == org

    await asyncio.wait_for(request(), timeout=10)
    assert engine.sync_engine.pool.checkedout() == 0


async def test_two_reads_at_once_do_not_share(clean_pg_url: str) -> None:
    engine = create_engine(clean_pg_url, pool_size=2, max_overflow=0)
    factory = SqlUnitOfWorkFactory(engine)
    started = asyncio.Event()

    async def slow_read() -> None:
        async with factory(separate_reads=True) as uow:
            started.set()
            await asyncio.sleep(0.05)  # still using its connection when the other starts
            assert await uow.organizations.get("no-such-org") is None

    async def quick_read() -> None:
        await started.wait()
        await _read(factory)

    try:
        with pool_counts(engine) as seen:
            async with shared_reads():
                await asyncio.wait_for(asyncio.gather(slow_read(), quick_read()), timeout=10)
        assert seen["checkouts"] == 2
        assert engine.sync_engine.pool.checkedout() == 0
    finally:
        await engine.dispose()


async def test_after_an_error_the_next_read_takes_a_fresh_checkout(engine: AsyncEngine) -> None:
    factory = SqlUnitOfWorkFactory(engine)
    with pool_counts(engine) as seen:
        async with shared_reads():
            with pytest.raises((FitdataError, sa.exc.SQLAlchemyError, DatabaseUnavailable)):
                async with factory(separate_reads=True) as uow:
                    await uow.organizations._db.execute(sa.select(sa.literal(1) / 0))
            assert engine.sync_engine.pool.checkedout() == 0  # closed, not kept
            await _read(factory)
    assert seen["checkouts"] == 2


async def test_released_reads_take_their_own_connections(engine: AsyncEngine) -> None:
    factory = SqlUnitOfWorkFactory(engine)
    with pool_counts(engine) as seen:
        async with shared_reads() as shared:
            await _read(factory)
            await shared.release()  # the response started
            assert engine.sync_engine.pool.checkedout() == 0
            await _read(factory)
            await _read(factory)
    assert seen["checkouts"] == 3
