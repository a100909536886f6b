"""Row locks on Postgres: ``..._for_update`` serialises, sweepers and relays skip locked rows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.db.engine import create_engine
from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
from fitdata_core.model.billing import TransactionStatus
from support import builders
from support.builders import T0, at
from support.pg_locks import wait_for_a_lock_wait

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(clean_pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(clean_pg_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_get_for_update_serialises_two_transactions(engine: AsyncEngine) -> None:
    uow_factory = SqlUnitOfWorkFactory(engine)
    org = builders.organization()
    txn = builders.transaction(org.id, low_profile_id="lp-race")
    async with uow_factory() as uow:
        await uow.organizations.add(org)
        await uow.billing_transactions.add(txn)
        await uow.commit()

    seen_by_second: list[TransactionStatus] = []

    async def second_webhook() -> None:
        async with uow_factory() as uow:
            locked = await uow.billing_transactions.get_for_update(txn.id)
            assert locked is not None
            seen_by_second.append(locked.status)

    async with uow_factory() as first:
        locked = await first.billing_transactions.get_for_update(txn.id)
        assert locked is not None
        second = asyncio.create_task(second_webhook())
        async with asyncio.timeout(10):
            await wait_for_a_lock_wait(engine)
        assert not second.done()  # blocked behind our lock
        completed, _ = locked.complete(at(1), provider_transaction_id="cc-1")
        await first.billing_transactions.update(completed)
        await first.commit()
    await asyncio.wait_for(second, timeout=10)
    # The second transaction read the row only after the first committed.
    assert seen_by_second == [TransactionStatus.COMPLETED]


async def test_list_due_skips_subscriptions_another_sweeper_holds(engine: AsyncEngine) -> None:
    uow_factory = SqlUnitOfWorkFactory(engine)
    orgs = [builders.organization() for _ in range(3)]
    subs = [
        builders.subscription(org.id, current_period_end=at(-10 + i)) for i, org in enumerate(orgs)
    ]
    async with uow_factory() as uow:
        for org, sub in zip(orgs, subs, strict=True):
            await uow.organizations.add(org)
            await uow.subscriptions.save(sub)
        await uow.commit()
    async with uow_factory() as first, uow_factory() as second:
        taken_first = await first.subscriptions.list_due(T0, limit=1)
        taken_second = await asyncio.wait_for(second.subscriptions.list_due(T0, limit=10), 10)
    assert taken_first == [subs[0]]
    assert taken_second == subs[1:]


async def test_outbox_claims_skip_rows_another_relay_is_claiming(engine: AsyncEngine) -> None:
    uow_factory = SqlUnitOfWorkFactory(engine)
    messages = [builders.job_message(created_at=at(i)) for i in range(4)]
    async with uow_factory() as uow:
        for message in messages:
            await uow.outbox.add(message)
        await uow.commit()
    async with uow_factory() as first, uow_factory() as second:
        claimed_first = await first.outbox.claim_batch(limit=2, now=at(10), lease_seconds=30)
        claimed_second = await asyncio.wait_for(
            second.outbox.claim_batch(limit=10, now=at(10), lease_seconds=30), 10
        )
        await first.commit()
        await second.commit()
    assert claimed_first == messages[:2]
    assert claimed_second == messages[2:]
