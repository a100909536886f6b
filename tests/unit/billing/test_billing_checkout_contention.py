"""A checkout whose unit of work the database rolled back to break a deadlock decides again;
any other outage is not retried."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from fitdata_core.errors import DATABASE_CONTENTION, DatabaseUnavailable
from fitdata_core.model.billing import TransactionStatus
from fitdata_core.ports.repositories import UnitOfWork, UnitOfWorkFactory
from fitdata_core.usecases.billing import start_checkout
from support.billing import Gym, World, add_gym, transactions_of


class _CollidingLocks:
    """A unit-of-work factory whose first ``collisions`` org-row locks fail as the database
    fails a deadlock's loser (or, with another ``code``, as an outage)."""

    def __init__(self, inner: UnitOfWorkFactory, collisions: int, code: str) -> None:
        self._inner = inner
        self.collisions = collisions
        self._code = code

    def __call__(self, *, read_only: bool = False, separate_reads: bool = False) -> UnitOfWork:
        uow = self._inner(read_only=read_only, separate_reads=separate_reads)
        organizations = uow.organizations
        original = organizations.get_for_update

        async def get_for_update(org_id: str) -> Any:
            if self.collisions:
                self.collisions -= 1
                raise DatabaseUnavailable("collided", code=self._code)
            return await original(org_id)

        organizations.get_for_update = get_for_update  # type: ignore[method-assign]
        return uow


async def test_a_checkout_that_lost_a_deadlock_is_decided_again(world: World) -> None:
    gym: Gym = await add_gym(world.svc)
    colliding = _CollidingLocks(world.svc.uow, collisions=2, code=DATABASE_CONTENTION)
    svc = attrs.evolve(world.svc, uow=colliding)

    session = await start_checkout(svc, gym.owner, gym.org_id, "pro")

    assert colliding.collisions == 0
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert (txn.id, txn.status, session.reused) == (
        session.transaction_id,
        TransactionStatus.PENDING,
        False,
    )


async def test_contention_that_does_not_clear_is_a_503_after_three_tries(world: World) -> None:
    gym: Gym = await add_gym(world.svc)
    colliding = _CollidingLocks(world.svc.uow, collisions=3, code=DATABASE_CONTENTION)
    svc = attrs.evolve(world.svc, uow=colliding)

    with pytest.raises(DatabaseUnavailable) as caught:
        await start_checkout(svc, gym.owner, gym.org_id, "pro")

    assert caught.value.code == DATABASE_CONTENTION
    assert await transactions_of(world.svc, gym.org_id) == []


async def test_an_outage_is_not_retried(world: World) -> None:
    gym: Gym = await add_gym(world.svc)
    colliding = _CollidingLocks(world.svc.uow, collisions=1, code="DATABASE_UNAVAILABLE")
    svc = attrs.evolve(world.svc, uow=colliding)

    with pytest.raises(DatabaseUnavailable):
        await start_checkout(svc, gym.owner, gym.org_id, "pro")

    assert colliding.collisions == 0
    assert await transactions_of(world.svc, gym.org_id) == []
