"""The multi-row ``..._for_update`` methods lock in id order on Postgres, whatever order they
are asked in: two units of work locking overlapping sets then queue instead of deadlocking.

The proof: hold the row that sorts last, ask for all of them in another order, and while that
call waits, find the rows that sort before it already locked (``FOR UPDATE NOWAIT`` fails
on them). A method that locked in the order asked (or in the order the table hands rows
back: they are stored out of id order here) would wait with those rows still free.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.db.engine import create_engine
from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
from fitdata_core.model.billing import TransactionKind
from fitdata_core.ports.repositories import UnitOfWork
from support import builders
from support.pg_locks import wait_for_a_lock_wait

pytestmark = pytest.mark.integration

ROWS = 4


@pytest.fixture
async def engine(clean_pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(clean_pg_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _lock_state(engine: AsyncEngine, table: str, column: str, key: str) -> str | None:
    """``FOR UPDATE NOWAIT`` on the row: None if it was free, else the error's SQLSTATE
    (``55P03``, lock_not_available, when another transaction holds it)."""
    async with engine.connect() as conn:
        try:
            await conn.execute(
                sa.text(f"SELECT 1 FROM {table} WHERE {column} = :key FOR UPDATE NOWAIT"),  # noqa: S608 - names are this test's constants
                {"key": key},
            )
        except sa.exc.OperationalError as exc:
            return str(getattr(exc.orig, "sqlstate", None))
        finally:
            await conn.rollback()
    return None


Lock = Callable[[UnitOfWork, list[str]], Awaitable[dict[str, Any]]]


async def _seed(engine: AsyncEngine) -> tuple[list[str], list[str]]:
    """``ROWS`` organizations, each with a subscription and a renewal transaction, inserted
    out of id order. Returns the organization ids and the transaction ids, each sorted."""
    orgs = sorted((builders.organization() for _ in range(ROWS)), key=lambda o: o.id)
    txn_ids = sorted(builders.new_id() for _ in range(ROWS))
    scrambled = [*range(1, ROWS, 2), *range(0, ROWS, 2)][::-1]
    async with SqlUnitOfWorkFactory(engine)() as uow:
        for i in scrambled:
            await uow.organizations.add(orgs[i])
        for i in scrambled:
            await uow.subscriptions.save(builders.subscription(orgs[i].id))
            # Transaction i belongs to the organization that sorts opposite, so the two
            # orders differ for the transactions too.
            txn = builders.transaction(
                orgs[ROWS - 1 - i].id, id=txn_ids[i], kind=TransactionKind.RENEWAL
            )
            await uow.billing_transactions.add(txn)
        await uow.commit()
    return [o.id for o in orgs], txn_ids


CASES: dict[str, tuple[str, str, Lock, Lock]] = {
    "organizations": (
        "organizations",
        "id",
        lambda uow, ids: uow.organizations.get_many_for_update(ids),
        lambda uow, ids: uow.organizations.get_many_for_update(ids[:1]),
    ),
    "subscriptions": (
        "platform_subscriptions",
        "organization_id",
        lambda uow, ids: uow.subscriptions.get_many_by_org_for_update(ids),
        lambda uow, ids: uow.subscriptions.get_many_by_org_for_update(ids[:1]),
    ),
    "transactions": (
        "platform_billing_transactions",
        "id",
        lambda uow, ids: uow.billing_transactions.get_many_for_update(ids),
        lambda uow, ids: uow.billing_transactions.get_many_for_update(ids[:1]),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_many_rows_are_locked_in_id_order(engine: AsyncEngine, case: str) -> None:
    table, column, lock_many, lock_one = CASES[case]
    org_ids, txn_ids = await _seed(engine)
    ids = txn_ids if case == "transactions" else org_ids
    uow_factory = SqlUnitOfWorkFactory(engine)
    asked = [ids[-1], *reversed(ids[:-1])]  # the last id first, the rest backwards

    async with uow_factory() as holder:
        assert list(await lock_one(holder, [ids[-1]])) == [ids[-1]]

        async def lock_all() -> list[str]:
            async with uow_factory() as uow:
                found = await lock_many(uow, asked)
                await uow.commit()
            return list(found)

        caller = asyncio.create_task(lock_all())
        async with asyncio.timeout(10):
            await wait_for_a_lock_wait(engine)
        assert not caller.done()  # waiting for the row we hold...
        # ...with every row that sorts before it already its own.
        states = [await _lock_state(engine, table, column, key) for key in ids[:-1]]
        assert states == ["55P03"] * (ROWS - 1)
        await holder.commit()
    assert await asyncio.wait_for(caller, 10) == ids


@pytest.mark.parametrize("case", sorted(CASES))
async def test_two_callers_asking_in_opposite_orders_both_finish(
    engine: AsyncEngine, case: str
) -> None:
    """What id order buys: two sweepers' recorders asking for the same rows in opposite
    orders queue one behind the other (locking in the order asked, each would take its first
    row and wait for the other's: Postgres would fail one with 40P01, a contention error)."""
    _, _, lock_many, _ = CASES[case]
    org_ids, txn_ids = await _seed(engine)
    ids = txn_ids if case == "transactions" else org_ids
    uow_factory = SqlUnitOfWorkFactory(engine)
    start = asyncio.Event()

    async def record(asked: list[str]) -> list[str]:
        async with uow_factory() as uow:
            await start.wait()
            found = await lock_many(uow, asked)
            await asyncio.sleep(0.05)  # hold the locks while the other asks
            await uow.commit()
        return list(found)

    tasks = [asyncio.create_task(record(ids)), asyncio.create_task(record(ids[::-1]))]
    await asyncio.sleep(0.05)  # both are in their unit of work, ready to ask
    start.set()
    assert await asyncio.wait_for(asyncio.gather(*tasks), 20) == [ids, ids]
