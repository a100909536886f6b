"""DramatiqJobQueue -> real Redis -> a Dramatiq worker running registered handlers."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import SkipMessage
from workers_integration_support import FakeRuntime, make_services, wait_for

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.memory import MemoryUnitOfWorkFactory
from fitdata_adapters.queue.dramatiq_queue import DramatiqJobQueue, to_dramatiq_message
from fitdata_core.errors import QueueUnavailable, StorageUnavailable
from fitdata_core.ports.infrastructure import JobMessage
from fitdata_core.services import Services
from fitdata_workers.actors import declare_actors
from fitdata_workers.broker import JobGuard, make_broker
from fitdata_workers.main import WorkerProcess
from fitdata_workers.registry import JobRegistry

pytestmark = pytest.mark.integration


def job(actor: str, message_id: str | None = None, **args: str | int | None) -> JobMessage:
    return JobMessage(
        id=message_id or f"msg-{time.monotonic_ns()}",
        actor=actor,
        args=args,
        created_at=datetime.now(UTC),
    )


class Recorder:
    """What the test handlers did, from the worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, object]]] = []
        self.running = 0
        self.peak = 0

    def add(self, name: str, **args: object) -> None:
        with self.lock:
            self.calls.append((name, args))

    def count(self, name: str) -> int:
        with self.lock:
            return sum(1 for n, _ in self.calls if n == name)


@pytest.fixture
def svc() -> Services:
    return make_services(ManualClock())


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def jobs(recorder: Recorder) -> JobRegistry:
    registry = JobRegistry()
    attempts: dict[str, int] = {}

    @registry.job("record")
    async def record(s: Services, *, job_id: str) -> None:
        recorder.add("record", job_id=job_id)

    @registry.job("slow")
    async def slow(s: Services, *, job_id: str) -> None:
        with recorder.lock:
            recorder.running += 1
            recorder.peak = max(recorder.peak, recorder.running)
        await asyncio.sleep(0.4)
        with recorder.lock:
            recorder.running -= 1
        recorder.add("slow", job_id=job_id)

    @registry.job("flaky")
    async def flaky(s: Services, *, job_id: str) -> None:
        attempts[job_id] = attempts.get(job_id, 0) + 1
        recorder.add("flaky", attempt=attempts[job_id])
        if attempts[job_id] < 3:
            raise StorageUnavailable("bucket away")

    @registry.job("buggy")
    async def buggy(s: Services, *, job_id: str) -> None:
        recorder.add("buggy", job_id=job_id)
        raise ZeroDivisionError("a bug is not retried")

    return registry


@pytest.fixture
def start_worker(
    redis_url: str, namespace: str, svc: Services, jobs: JobRegistry
) -> Iterator[Callable[..., dramatiq.Worker]]:
    started: list[dramatiq.Worker] = []

    def start(threads: int = 4) -> dramatiq.Worker:
        broker = make_broker(redis_url, namespace=namespace, min_backoff_ms=20, max_backoff_ms=100)
        declare_actors(broker, jobs, lambda: svc)
        worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=threads)
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
        worker.broker.close()


@pytest.fixture
async def queue(redis_url: str, namespace: str) -> DramatiqJobQueue:
    return DramatiqJobQueue(redis_url, namespace=namespace)


async def test_a_sent_job_runs_its_registered_handler(
    start_worker: Callable[..., dramatiq.Worker], queue: DramatiqJobQueue, recorder: Recorder
) -> None:
    start_worker()
    await queue.send(job("record", job_id="exp-1"))
    await wait_for(lambda: recorder.count("record") == 1, what="the handler to run")
    assert recorder.calls == [("record", {"job_id": "exp-1"})]
    await queue.aclose()


async def test_the_same_message_id_never_runs_twice_at_once(
    start_worker: Callable[..., dramatiq.Worker], queue: DramatiqJobQueue, recorder: Recorder
) -> None:
    # Dramatiq's AsyncIO middleware keeps one event loop per process, so one process here;
    # the guard across processes is tested on JobGuard directly below.
    start_worker(threads=8)
    message = job("slow", job_id="exp-1")
    for _ in range(4):  # the relay delivered it several times (leases ran out)
        await queue.send(message)
    await wait_for(lambda: recorder.count("slow") >= 1, what="the handler to run")
    await asyncio.sleep(1.0)  # room for any duplicate to (wrongly) run
    assert recorder.peak == 1
    assert recorder.count("slow") == 1


def test_the_guard_is_shared_by_worker_processes(redis_url: str, namespace: str) -> None:
    client = redis.Redis.from_url(redis_url)
    first = JobGuard(client, prefix=f"{namespace}:guard:", lock_ttl_seconds=30)
    second = JobGuard(client, prefix=f"{namespace}:guard:", lock_ttl_seconds=30)
    broker = StubBroker()
    message = to_dramatiq_message(job("record", job_id="x"))
    try:
        first.before_process_message(broker, message)
        with pytest.raises(SkipMessage, match="already running"):
            second.before_process_message(broker, message)
        second.after_skip_message(broker, message)  # must not free the first one's lock
        with pytest.raises(SkipMessage, match="already running"):
            second.before_process_message(broker, message)
        first.after_process_message(broker, message, exception=StorageUnavailable("retry me"))
        # Failed (to be retried): the lock is free again, and the retry may run.
        second.before_process_message(broker, message)
        second.after_process_message(broker, message)
        # Succeeded: a late duplicate is skipped.
        with pytest.raises(SkipMessage, match="already done"):
            first.before_process_message(broker, message)
    finally:
        broker.close()
        client.close()


async def test_outages_are_retried_and_bugs_are_not(
    start_worker: Callable[..., dramatiq.Worker], queue: DramatiqJobQueue, recorder: Recorder
) -> None:
    start_worker()
    await queue.send(job("flaky", job_id="exp-1"))
    await queue.send(job("buggy", job_id="exp-2"))
    await wait_for(lambda: recorder.count("flaky") == 3, what="two retries")
    await asyncio.sleep(0.5)
    assert recorder.count("flaky") == 3
    assert recorder.count("buggy") == 1


async def test_an_unknown_job_is_logged_and_dead_lettered_and_the_worker_goes_on(
    start_worker: Callable[..., dramatiq.Worker],
    queue: DramatiqJobQueue,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    start_worker()
    with caplog.at_level(logging.ERROR):
        await queue.send(job("nobody_home", job_id="x"))
        await queue.send(job("record", job_id="after"))
        await wait_for(lambda: recorder.count("record") == 1, what="the next job")
    assert "undefined actor 'nobody_home'" in caplog.text


async def test_a_scheduled_job_without_a_handler_is_logged_not_lost_in_dramatiq(
    start_worker: Callable[..., dramatiq.Worker],
    queue: DramatiqJobQueue,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    start_worker()
    with caplog.at_level(logging.ERROR, logger="fitdata.workers"):
        await queue.send(job("billing_reconcile", scheduled_for="2026-01-01T00:00:00+00:00"))
        await wait_for(
            lambda: "no handler registered for job 'billing_reconcile'" in caplog.text,
            what="the unknown-job error",
        )


async def test_send_raises_queue_unavailable_when_redis_is_down() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = DramatiqJobQueue(f"redis://127.0.0.1:{port}/0", connect_timeout=0.5)
    with pytest.raises(QueueUnavailable):
        await down.send(job("record", job_id="x"))


async def test_worker_process_relays_its_outbox_into_redis_and_runs_the_jobs(
    redis_url: str, namespace: str, jobs: JobRegistry, recorder: Recorder
) -> None:
    uow = MemoryUnitOfWorkFactory()
    svc = make_services(ManualClock(), uow=uow)
    message = svc.job("record", job_id="from-outbox")
    async with svc.uow() as unit:
        await unit.outbox.add(message)
        await unit.commit()

    runtime = FakeRuntime(svc, DramatiqJobQueue(redis_url, namespace=namespace))
    closed = threading.Event()

    async def close() -> None:
        closed.set()

    broker = make_broker(redis_url, namespace=namespace)
    process = WorkerProcess(runtime, broker, jobs, threads=2, close=close, worker_timeout_ms=100)
    process.start()
    try:
        await wait_for(lambda: recorder.count("record") == 1, what="outbox -> Redis -> handler")
        await wait_for(
            lambda: uow.db.tables.outbox[message.id].delivered_at is not None,
            what="the outbox entry marked delivered",
        )
    finally:
        await asyncio.to_thread(process.stop)
    assert recorder.calls == [("record", {"job_id": "from-outbox"})]
    assert closed.is_set()
