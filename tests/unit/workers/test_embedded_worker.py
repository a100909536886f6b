"""The embedded worker: outbox -> in-process queue -> handler, inside one event loop."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from workers_support import FakeRuntime, eventually, make_services, outbox_state, write_job

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.memory import MemoryErrorReporter, MemoryJobQueue, MemoryUnitOfWorkFactory
from fitdata_adapters.queue.local import LocalJobQueue
from fitdata_core.errors import ConfigurationError, StorageUnavailable
from fitdata_core.services import Services
from fitdata_workers.embedded import EmbeddedWorker
from fitdata_workers.registry import JobRegistry
from fitdata_workers.scheduler import ScheduledJob

FAST = {
    "relay_interval_seconds": 0.01,
    "scheduler_interval_seconds": 0.01,
    "backoff_base_seconds": 0.01,
    "schedule": (),
}


def embedded(svc: Services, jobs: JobRegistry, **options: object) -> EmbeddedWorker:
    settings = {**FAST, **options}
    return EmbeddedWorker(FakeRuntime(svc, LocalJobQueue()), registry=jobs, **settings)  # type: ignore[arg-type]


def delivered(uow: MemoryUnitOfWorkFactory, message_id: str) -> bool:
    return outbox_state(uow).get(message_id) is not None


async def test_a_committed_job_runs_once_and_is_acknowledged(
    svc: Services, uow: MemoryUnitOfWorkFactory
) -> None:
    jobs = JobRegistry()
    ran: list[str] = []

    @jobs.job("export_members")
    async def export_members(s: Services, *, job_id: str) -> None:
        ran.append(job_id)

    worker = embedded(svc, jobs)
    await worker.start()
    try:
        message = await write_job(svc, "export_members", job_id="exp-1")
        await eventually(lambda: delivered(uow, message.id), what="job acknowledged")
        await asyncio.sleep(0.05)  # a few more relay rounds: nothing runs again
    finally:
        await worker.stop()
    assert ran == ["exp-1"]


async def test_outages_are_retried_with_backoff_until_the_job_succeeds(
    svc: Services, uow: MemoryUnitOfWorkFactory, errors: MemoryErrorReporter
) -> None:
    jobs = JobRegistry()
    attempts: list[float] = []

    @jobs.job("export_members")
    async def export_members(s: Services, *, job_id: str) -> None:
        attempts.append(asyncio.get_running_loop().time())
        if len(attempts) < 3:
            raise StorageUnavailable("bucket away")

    worker = embedded(svc, jobs, backoff_base_seconds=0.05)
    await worker.start()
    try:
        message = await write_job(svc, "export_members", job_id="exp-1")
        await eventually(lambda: delivered(uow, message.id), what="job acknowledged")
    finally:
        await worker.stop()
    assert len(attempts) == 3
    # Exponential: the second wait is about twice the first.
    assert attempts[1] - attempts[0] >= 0.05
    assert attempts[2] - attempts[1] >= 0.1
    assert errors.reports == []


async def test_an_outage_that_outlasts_the_attempts_is_reported_and_given_up(
    svc: Services, uow: MemoryUnitOfWorkFactory, errors: MemoryErrorReporter
) -> None:
    jobs = JobRegistry()
    attempts: list[int] = []

    @jobs.job("export_members")
    async def export_members(s: Services, *, job_id: str) -> None:
        attempts.append(1)
        raise StorageUnavailable("bucket away")

    worker = embedded(svc, jobs, max_attempts=3)
    await worker.start()
    try:
        message = await write_job(svc, "export_members", job_id="exp-1")
        await eventually(lambda: delivered(uow, message.id), what="job given up")
    finally:
        await worker.stop()
    assert len(attempts) == 3
    assert [(r.kind, r.context["job"]) for r in errors.reports] == [("exception", "export_members")]


async def test_a_bug_is_reported_once_not_retried_and_the_worker_goes_on(
    svc: Services, uow: MemoryUnitOfWorkFactory, errors: MemoryErrorReporter
) -> None:
    jobs = JobRegistry()
    ran: list[str] = []

    @jobs.job("broken")
    async def broken(s: Services) -> None:
        ran.append("broken")
        raise ZeroDivisionError("bug")

    @jobs.job("fine")
    async def fine(s: Services) -> None:
        ran.append("fine")

    worker = embedded(svc, jobs)
    await worker.start()
    try:
        bad = await write_job(svc, "broken")
        good = await write_job(svc, "fine")
        await eventually(lambda: delivered(uow, bad.id) and delivered(uow, good.id))
    finally:
        await worker.stop()
    assert sorted(ran) == ["broken", "fine"]
    assert [r.message for r in errors.reports] == ["bug"]


async def test_an_unknown_job_is_logged_and_acknowledged(
    svc: Services, uow: MemoryUnitOfWorkFactory, caplog: pytest.LogCaptureFixture
) -> None:
    worker = embedded(svc, JobRegistry())
    await worker.start()
    try:
        with caplog.at_level(logging.ERROR, logger="fitdata.workers"):
            message = await write_job(svc, "billing_renewals", scheduled_for="x")
            await eventually(lambda: delivered(uow, message.id))
    finally:
        await worker.stop()
    assert "no handler registered for job 'billing_renewals'" in caplog.text


async def test_concurrency_is_bounded(svc: Services, uow: MemoryUnitOfWorkFactory) -> None:
    jobs = JobRegistry()
    running = 0
    peak = 0
    finished: list[int] = []

    @jobs.job("slow")
    async def slow(s: Services, *, n: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.03)
        running -= 1
        finished.append(n)

    worker = embedded(svc, jobs, concurrency=3)
    await worker.start()
    try:
        for n in range(10):
            await write_job(svc, "slow", n=n)
        await eventually(lambda: len(finished) == 10, what="all ten jobs")
    finally:
        await worker.stop()
    assert peak == 3
    assert sorted(finished) == list(range(10))


async def test_one_message_never_runs_twice_at_once(
    svc: Services, uow: MemoryUnitOfWorkFactory
) -> None:
    jobs = JobRegistry()
    release = asyncio.Event()
    starts: list[str] = []

    @jobs.job("slow")
    async def slow(s: Services, *, n: int) -> None:
        starts.append(s.clock.now().isoformat())
        await release.wait()

    queue = LocalJobQueue()
    worker = EmbeddedWorker(FakeRuntime(svc, queue), registry=jobs, **FAST)  # type: ignore[arg-type]
    await worker.start()
    try:
        message = svc.job("slow", n=1)
        await queue.send(message)
        await eventually(lambda: message.id in worker.in_flight, what="job running")
        await queue.send(message)  # a redelivery while it runs: still pending, not queued
        queue.requeue(message)  # even forced in, the worker refuses to run it twice at once
        await asyncio.sleep(0.05)
        assert len(starts) == 1
        release.set()
        await eventually(lambda: not queue.is_pending(message.id), what="job settled")
    finally:
        await worker.stop()
    assert len(starts) == 1


async def test_a_job_cut_short_by_a_stop_runs_again_after_restart(
    clock: ManualClock, uow: MemoryUnitOfWorkFactory
) -> None:
    jobs = JobRegistry()
    runs: list[str] = []
    hang = asyncio.Event()

    @jobs.job("export_members")
    async def export_members(s: Services, *, job_id: str) -> None:
        runs.append(job_id)
        if len(runs) == 1:
            await hang.wait()  # the process "dies" during the first run

    svc = make_services(clock, uow=uow)
    first = embedded(svc, jobs)
    await first.start()
    message = await write_job(svc, "export_members", job_id="exp-1")
    await eventually(lambda: len(runs) == 1, what="first run")
    await first.stop(timeout_seconds=0.05)
    assert not delivered(uow, message.id)

    second = embedded(make_services(clock, uow=uow), jobs)  # a new process, same database
    await second.start()
    try:
        clock.advance(timedelta(seconds=60))  # the first process's lease runs out
        await eventually(lambda: delivered(uow, message.id), what="second run")
    finally:
        await second.stop()
    assert runs == ["exp-1", "exp-1"]


async def test_the_scheduler_runs_in_process(
    clock: ManualClock, svc: Services, uow: MemoryUnitOfWorkFactory
) -> None:
    jobs = JobRegistry()
    ticks: list[str] = []

    @jobs.job("ping")
    async def ping(s: Services, *, scheduled_for: str) -> None:
        ticks.append(scheduled_for)

    schedule = (ScheduledJob(name="ping", job="ping", every=timedelta(minutes=1)),)
    worker = embedded(svc, jobs, schedule=schedule)
    await worker.start()
    try:
        await eventually(lambda: len(ticks) == 1, what="first tick")
        clock.advance(timedelta(minutes=1))
        await eventually(lambda: len(ticks) == 2, what="second tick")
        await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    assert ticks == [clock.now().replace(minute=0).isoformat(), clock.now().isoformat()]


def test_it_needs_the_in_process_queue(svc: Services) -> None:
    with pytest.raises(ConfigurationError, match="FITDATA_REDIS_URL"):
        EmbeddedWorker(FakeRuntime(svc, MemoryJobQueue()), registry=JobRegistry())


async def test_send_never_blocks_and_dedupes_pending_ids(svc: Services) -> None:
    queue = LocalJobQueue()
    messages = [svc.job("x", n=n) for n in range(1000)]
    for message in messages:
        await queue.send(message)
    await queue.send(messages[0])
    assert queue.qsize() == 1000
    first = await queue.get()
    queue.done(first.id)
    await queue.send(first)  # finished: a later send queues it again
    assert queue.qsize() == 1000
