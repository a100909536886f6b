"""Contract: the transactional outbox (add, claim with a lease, mark delivered)."""

from __future__ import annotations

import pytest
from seeding import commit_one

from fitdata_core.errors import Conflict
from fitdata_core.ports.repositories import UnitOfWorkFactory
from support import builders
from support.builders import at

pytestmark = pytest.mark.integration


async def test_claim_leases_oldest_first_and_respects_the_lease(
    uow_factory: UnitOfWorkFactory,
) -> None:
    messages = [builders.job_message(created_at=at(i)) for i in (3, 1, 2)]
    async with uow_factory() as uow:
        for message in messages:
            await uow.outbox.add(message)
        await uow.commit()
    oldest_first = sorted(messages, key=lambda m: m.created_at)
    async with uow_factory() as uow:
        claimed = await uow.outbox.claim_batch(limit=2, now=at(10), lease_seconds=60)
        await uow.commit()
    assert claimed == oldest_first[:2]
    assert claimed[0].args == messages[1].args
    async with uow_factory() as uow:
        # Leased messages are not handed out again until the lease runs out.
        during_lease = await uow.outbox.claim_batch(limit=10, now=at(10.5), lease_seconds=60)
        await uow.commit()
    assert during_lease == oldest_first[2:]
    async with uow_factory() as uow:
        await uow.outbox.mark_delivered([claimed[0].id], at(11))
        await uow.outbox.mark_delivered([], at(11))
        await uow.commit()
    async with uow_factory() as uow:
        after_lease = await uow.outbox.claim_batch(limit=10, now=at(12), lease_seconds=60)
        await uow.commit()
    assert after_lease == [oldest_first[1], oldest_first[2]]


async def test_an_uncommitted_claim_does_not_lease(uow_factory: UnitOfWorkFactory) -> None:
    message = builders.job_message()
    async with uow_factory() as uow:
        await uow.outbox.add(message)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.outbox.claim_batch(limit=5, now=at(1), lease_seconds=60) == [message]
    async with uow_factory() as uow:
        assert await uow.outbox.claim_batch(limit=5, now=at(1), lease_seconds=60) == [message]


async def test_delivered_messages_are_never_claimed(uow_factory: UnitOfWorkFactory) -> None:
    message = builders.job_message(actor="send_email", args={"to": "a@b.c", "n": 3})
    async with uow_factory() as uow:
        await uow.outbox.add(message)
        await uow.outbox.mark_delivered([message.id], at(1))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.outbox.claim_batch(limit=5, now=at(100), lease_seconds=1) == []


async def test_message_ids_are_unique(uow_factory: UnitOfWorkFactory) -> None:
    message = builders.job_message()
    await commit_one(uow_factory, lambda uow: uow.outbox.add(message))
    with pytest.raises(Conflict):
        await commit_one(uow_factory, lambda uow: uow.outbox.add(message))
