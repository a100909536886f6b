"""The outbox relay: once per message, nothing lost while the queue is down, leases expire."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from workers_support import eventually, outbox_state, write_job

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.memory import MemoryJobQueue, MemoryUnitOfWorkFactory
from fitdata_core.errors import DatabaseUnavailable, QueueUnavailable
from fitdata_core.ports.infrastructure import JobMessage
from fitdata_core.services import Services
from fitdata_workers.relay import OutboxRelay

LEASE = 60


def relay_for(svc: Services, queue: MemoryJobQueue, **kwargs: object) -> OutboxRelay:
    return OutboxRelay(svc.uow, queue, svc.clock, lease_seconds=LEASE, **kwargs)  # type: ignore[arg-type]


async def test_relay_delivers_each_committed_message_once(
    svc: Services, uow: MemoryUnitOfWorkFactory
) -> None:
    queue = MemoryJobQueue()
    written = [await write_job(svc, "export_members", job_id=f"job-{i}") for i in range(3)]
    relay = relay_for(svc, queue)

    assert await relay.relay_once() == 3
    assert await relay.relay_once() == 0

    assert sorted(m.id for m in queue.sent) == sorted(m.id for m in written)
    assert {m.args["job_id"] for m in queue.sent} == {"job-0", "job-1", "job-2"}
    assert all(at is not None for at in outbox_state(uow).values())


async def test_a_job_of_a_rolled_back_transaction_is_never_sent(svc: Services) -> None:
    queue = MemoryJobQueue()
    async with svc.uow() as unit:
        await unit.outbox.add(svc.job("export_members", job_id="never"))
        # no commit: the transaction rolls back with its job

    assert await relay_for(svc, queue).relay_once() == 0
    assert queue.sent == []


async def test_queue_down_loses_nothing_and_delivers_each_message_once_after_it_returns(
    svc: Services, clock: ManualClock, uow: MemoryUnitOfWorkFactory
) -> None:
    queue = MemoryJobQueue()
    written = [await write_job(svc, "export_members", job_id=f"job-{i}") for i in range(4)]
    relay = relay_for(svc, queue)

    queue.down = True
    assert await relay.relay_once() == 0
    assert queue.sent == []
    assert all(at is None for at in outbox_state(uow).values())

    queue.down = False
    # Still leased by the failed round: nothing is sent before the lease runs out...
    assert await relay.relay_once() == 0
    clock.advance(timedelta(seconds=LEASE))
    # ...and then everything is, exactly once.
    assert await relay.relay_once() == 4
    clock.advance(timedelta(seconds=LEASE * 3))
    assert await relay.relay_once() == 0

    assert Counter(m.id for m in queue.sent) == Counter(m.id for m in written)
    assert all(at is not None for at in outbox_state(uow).values())


class FlakyQueue(MemoryJobQueue):
    """Accepts ``accept`` messages, then goes down."""

    def __init__(self, accept: int) -> None:
        super().__init__()
        self.accept = accept

    async def send(self, message: JobMessage) -> None:
        if len(self.sent) >= self.accept:
            raise QueueUnavailable("went down mid-batch")
        await super().send(message)


async def test_queue_failing_mid_batch_keeps_the_rest_for_later(
    svc: Services, clock: ManualClock, uow: MemoryUnitOfWorkFactory
) -> None:
    queue = FlakyQueue(accept=2)
    written = [await write_job(svc, "export_members", job_id=f"job-{i}") for i in range(5)]
    relay = relay_for(svc, queue)

    assert await relay.relay_once() == 2
    delivered = {k for k, at in outbox_state(uow).items() if at is not None}
    assert delivered == {m.id for m in queue.sent}
    assert len(delivered) == 2

    queue.accept = 100
    clock.advance(timedelta(seconds=LEASE))
    assert await relay.relay_once() == 3
    assert sorted(m.id for m in queue.sent) == sorted(m.id for m in written)


class UowThatCannotMark:
    """A database that lets the relay claim but fails when it marks messages delivered (the
    relay dies between sending and acknowledging)."""

    def __init__(self, inner: MemoryUnitOfWorkFactory) -> None:
        self.inner = inner
        self.broken = True

    def __call__(self) -> object:
        unit = self.inner()
        if self.broken:

            async def refuse(*_: object, **__: object) -> None:
                raise DatabaseUnavailable("connection lost")

            unit.outbox.mark_delivered = refuse  # type: ignore[method-assign]
        return unit


async def test_an_unacknowledged_message_is_sent_again_when_its_lease_expires(
    svc: Services, clock: ManualClock, uow: MemoryUnitOfWorkFactory
) -> None:
    queue = MemoryJobQueue()
    message = await write_job(svc, "export_members", job_id="job-1")
    broken = UowThatCannotMark(uow)
    relay = OutboxRelay(broken, queue, clock, lease_seconds=LEASE)  # type: ignore[arg-type]

    with pytest.raises(DatabaseUnavailable):
        await relay.relay_once()
    assert [m.id for m in queue.sent] == [message.id]
    assert outbox_state(uow)[message.id] is None

    broken.broken = False
    clock.advance(timedelta(seconds=LEASE - 1))
    assert await relay.relay_once() == 0  # lease still held
    clock.advance(timedelta(seconds=1))
    assert await relay.relay_once() == 1  # redelivered: at least once
    assert [m.id for m in queue.sent] == [message.id, message.id]
    assert outbox_state(uow)[message.id] is not None


async def test_without_mark_on_send_the_consumer_acknowledges(
    svc: Services, clock: ManualClock, uow: MemoryUnitOfWorkFactory
) -> None:
    queue = MemoryJobQueue()
    message = await write_job(svc, "export_members", job_id="job-1")
    relay = relay_for(svc, queue, mark_on_send=False)

    assert await relay.relay_once() == 1
    assert outbox_state(uow)[message.id] is None
    clock.advance(timedelta(seconds=LEASE))
    assert await relay.relay_once() == 1  # not acknowledged yet: sent again after the lease


async def test_run_relays_in_the_background_until_stopped(
    svc: Services, uow: MemoryUnitOfWorkFactory
) -> None:
    queue = MemoryJobQueue()
    relay = relay_for(svc, queue, batch_size=2)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop, interval_seconds=0.01))
    try:
        written = [await write_job(svc, "export_members", job_id=f"job-{i}") for i in range(5)]
        await eventually(lambda: len(queue.sent) == 5, what="all five relayed")
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=2)
    assert sorted(m.id for m in queue.sent) == sorted(m.id for m in written)
    assert task.done()
    assert task.exception() is None


async def test_run_survives_a_database_outage(svc: Services, uow: MemoryUnitOfWorkFactory) -> None:
    queue = MemoryJobQueue()
    broken = UowThatCannotMark(uow)
    relay = OutboxRelay(broken, queue, svc.clock, lease_seconds=0)  # type: ignore[arg-type]
    await write_job(svc, "export_members", job_id="job-1")
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop, interval_seconds=0.01))
    try:
        await eventually(lambda: len(queue.sent) >= 2, what="retries through the outage")
        broken.broken = False
        await eventually(
            lambda: all(at is not None for at in outbox_state(uow).values()), what="acknowledged"
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=2)
    assert not task.cancelled()
