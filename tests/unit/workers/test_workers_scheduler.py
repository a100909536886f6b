"""The scheduler: ticks, one firing per tick across schedulers, grace, and the kill switch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import attrs
import pytest
from workers_support import make_services

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.memory import MemoryUnitOfWorkFactory
from fitdata_core.errors import DatabaseUnavailable
from fitdata_core.policies import BillingPolicy
from fitdata_core.services import Services
from fitdata_workers.scheduler import (
    SCHEDULE,
    InProcessScheduleLock,
    ScheduledJob,
    Scheduler,
)

EVERY_5 = ScheduledJob(name="reconcile", job="billing_reconcile", every=timedelta(minutes=5))
DAILY = ScheduledJob(name="stale", job="billing_expire_stale", daily_at=time(2, 30))
REPORT = ScheduledJob(name="report", job="send_report", every=timedelta(minutes=5))


def at(hour: int, minute: int, second: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def outbox_jobs(uow: MemoryUnitOfWorkFactory) -> list[tuple[str, object]]:
    return sorted(
        (e.message.actor, e.message.args.get("scheduled_for"))
        for e in uow.db.tables.outbox.values()
    )


def test_interval_ticks_align_to_the_epoch_and_daily_ticks_to_the_utc_time() -> None:
    assert EVERY_5.last_tick(at(10, 7, 30)) == at(10, 5)
    assert EVERY_5.last_tick(at(10, 10)) == at(10, 10)
    assert DAILY.last_tick(at(2, 30)) == at(2, 30)
    assert DAILY.last_tick(at(2, 29)) == at(2, 30, day=1)
    assert DAILY.last_tick(at(23, 0)) == at(2, 30)


def test_a_row_has_exactly_one_kind_of_timing() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ScheduledJob(name="x", job="x")
    with pytest.raises(ValueError, match="exactly one"):
        ScheduledJob(name="x", job="x", every=timedelta(minutes=1), daily_at=time(1, 0))


def test_the_schedule_holds_the_billing_sweeps() -> None:
    rows = {row.name: row for row in SCHEDULE}
    assert rows["billing_renewals"].daily_at is not None
    assert rows["billing_reconcile"].every == timedelta(minutes=5)
    assert rows["billing_expire_stale"].daily_at == time(2, 30)
    billing = [row for name, row in rows.items() if name.startswith("billing_")]
    assert all(row.billing and row.job == row.name for row in billing)
    # The export sweep is not billing work: the billing kill switch must not stop it.
    assert rows["exports_fail_stale"].every == timedelta(minutes=10)
    assert not rows["exports_fail_stale"].billing


async def test_each_tick_fires_once(svc: Services, uow: MemoryUnitOfWorkFactory) -> None:
    scheduler = Scheduler(svc, InProcessScheduleLock(), schedule=[EVERY_5, DAILY])

    assert await scheduler.tick(at(2, 30, 1)) == ["reconcile", "stale"]
    assert await scheduler.tick(at(2, 31)) == []
    assert await scheduler.tick(at(2, 34, 59)) == []
    assert await scheduler.tick(at(2, 35)) == ["reconcile"]

    assert outbox_jobs(uow) == [
        ("billing_expire_stale", "2026-03-02T02:30:00+00:00"),
        ("billing_reconcile", "2026-03-02T02:30:00+00:00"),
        ("billing_reconcile", "2026-03-02T02:35:00+00:00"),
    ]


async def test_two_schedulers_on_one_lock_fire_each_tick_once(
    clock: ManualClock, uow: MemoryUnitOfWorkFactory
) -> None:
    lock = InProcessScheduleLock()
    first = Scheduler(make_services(clock, uow=uow), lock, schedule=[EVERY_5, DAILY])
    second = Scheduler(make_services(clock, uow=uow), lock, schedule=[EVERY_5, DAILY])

    fired = []
    for now in (at(2, 30), at(2, 32), at(2, 35), at(2, 40, 3)):
        a, b = await asyncio.gather(first.tick(now), second.tick(now))
        fired.append(sorted(a + b))

    assert fired == [["reconcile", "stale"], [], ["reconcile"], ["reconcile"]]
    assert [job for job, _ in outbox_jobs(uow)].count("billing_reconcile") == 3
    assert [job for job, _ in outbox_jobs(uow)].count("billing_expire_stale") == 1


async def test_a_tick_older_than_its_grace_is_not_fired(svc: Services) -> None:
    scheduler = Scheduler(svc, InProcessScheduleLock(), schedule=[DAILY])
    assert await scheduler.tick(at(14, 0)) == []  # started long after 02:30: wait for tomorrow
    assert await scheduler.tick(at(2, 30, 5, day=3)) == ["stale"]


async def test_kill_switch_skips_billing_rows_only(
    clock: ManualClock, uow: MemoryUnitOfWorkFactory
) -> None:
    billing = ScheduledJob(
        name="reconcile", job="billing_reconcile", every=timedelta(minutes=5), billing=True
    )
    svc = make_services(clock, uow=uow, billing=BillingPolicy(schedule_enabled=False))
    lock = InProcessScheduleLock()
    scheduler = Scheduler(svc, lock, schedule=[billing, REPORT])

    assert await scheduler.tick(at(10, 0)) == ["report"]
    assert [job for job, _ in outbox_jobs(uow)] == ["send_report"]

    # Switched back on (a restart with the new setting): the skipped row resumes next tick.
    switched_on = attrs.evolve(svc, billing=BillingPolicy(schedule_enabled=True))
    scheduler = Scheduler(switched_on, lock, schedule=[billing, REPORT])
    assert await scheduler.tick(at(10, 5)) == ["reconcile", "report"]


class UowThatFailsOnce:
    def __init__(self, inner: MemoryUnitOfWorkFactory) -> None:
        self.inner = inner
        self.failures = 1

    def __call__(self) -> object:
        if self.failures:
            self.failures -= 1
            raise DatabaseUnavailable("database away")
        return self.inner()


async def test_a_tick_whose_job_could_not_be_written_is_given_back(
    clock: ManualClock, uow: MemoryUnitOfWorkFactory
) -> None:
    lock = InProcessScheduleLock()
    svc = make_services(clock, uow=UowThatFailsOnce(uow))
    scheduler = Scheduler(svc, lock, schedule=[EVERY_5])

    assert await scheduler.tick(at(10, 0)) == []
    assert await scheduler.tick(at(10, 0, 1)) == ["reconcile"]
    assert outbox_jobs(uow) == [("billing_reconcile", "2026-03-02T10:00:00+00:00")]


async def test_run_ticks_on_the_services_clock_until_stopped(
    svc: Services, uow: MemoryUnitOfWorkFactory, clock: ManualClock
) -> None:
    clock.set(at(10, 0, 1))
    scheduler = Scheduler(svc, InProcessScheduleLock(), schedule=[EVERY_5])
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop, interval_seconds=0.01))
    await asyncio.sleep(0.05)
    clock.set(at(10, 5, 1))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    assert [t for _, t in outbox_jobs(uow)] == [
        "2026-03-02T10:00:00+00:00",
        "2026-03-02T10:05:00+00:00",
    ]


def test_schedule_names_must_be_unique(svc: Services) -> None:
    with pytest.raises(ValueError, match="unique"):
        Scheduler(svc, InProcessScheduleLock(), schedule=[EVERY_5, EVERY_5])
