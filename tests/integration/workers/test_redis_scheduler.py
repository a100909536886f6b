"""Two schedulers (two "processes", each with its own Redis connection) fire each tick once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from workers_integration_support import make_services

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.memory import MemoryUnitOfWorkFactory
from fitdata_workers.redis_lock import RedisScheduleLock
from fitdata_workers.scheduler import ScheduledJob, Scheduler

pytestmark = pytest.mark.integration

EVERY_5 = ScheduledJob(name="reconcile", job="billing_reconcile", every=timedelta(minutes=5))


async def test_two_schedulers_on_redis_fire_each_tick_once(redis_url: str, namespace: str) -> None:
    uow = MemoryUnitOfWorkFactory()
    clock = ManualClock()
    locks = [RedisScheduleLock(redis_url, prefix=f"{namespace}:schedule:") for _ in range(2)]
    schedulers = [
        Scheduler(make_services(clock, uow=uow), lock, schedule=[EVERY_5]) for lock in locks
    ]
    try:
        fired = []
        for minute in (0, 1, 5, 7, 10):
            now = datetime(2026, 3, 2, 10, minute, 2, tzinfo=UTC)
            results = await asyncio.gather(*(s.tick(now) for s in schedulers))
            fired.append(sum(len(r) for r in results))
    finally:
        for lock in locks:
            await lock.aclose()

    assert fired == [1, 0, 1, 0, 1]
    ticks = sorted(str(e.message.args["scheduled_for"]) for e in uow.db.tables.outbox.values())
    assert ticks == [
        "2026-03-02T10:00:00+00:00",
        "2026-03-02T10:05:00+00:00",
        "2026-03-02T10:10:00+00:00",
    ]


async def test_a_restarted_scheduler_does_not_fire_a_claimed_tick_again(
    redis_url: str, namespace: str
) -> None:
    uow = MemoryUnitOfWorkFactory()
    now = datetime(2026, 3, 2, 10, 0, 2, tzinfo=UTC)
    lock = RedisScheduleLock(redis_url, prefix=f"{namespace}:schedule:")
    try:
        before = Scheduler(make_services(ManualClock(), uow=uow), lock, schedule=[EVERY_5])
        after = Scheduler(make_services(ManualClock(), uow=uow), lock, schedule=[EVERY_5])
        assert await before.tick(now) == ["reconcile"]
        assert await after.tick(now + timedelta(seconds=30)) == []
    finally:
        await lock.aclose()
    assert len(uow.db.tables.outbox) == 1
