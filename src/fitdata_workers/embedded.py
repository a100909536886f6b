"""The in-process worker of embedded mode: relay, job runner and scheduler inside the server.

``fitdata serve`` without Redis starts one :class:`EmbeddedWorker` next to the HTTP app::

    worker = EmbeddedWorker(runtime)
    await worker.start()
    ...
    await worker.stop()

Embedded mode is one process by definition (SQLite, in-memory rate limiter), so what would
be shared state in production is plain memory here: the in-process schedule lock, and the
set of messages in flight that keeps one message id from running twice at once.

Delivery is acknowledged when a job has *run*, not when it was queued: the relay here does
not mark messages delivered; the worker marks each one after its handler finished (or was
given up). A crash of the process therefore loses nothing: after restart the outbox leases
run out and the relay sends the unfinished messages again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from fitdata_adapters.queue.local import LocalJobQueue
from fitdata_core.errors import ConfigurationError, Unavailable
from fitdata_core.ports.infrastructure import JobMessage
from fitdata_workers.registry import JobRegistry
from fitdata_workers.relay import DEFAULT_INTERVAL_SECONDS, DEFAULT_LEASE_SECONDS, OutboxRelay
from fitdata_workers.runtime import WorkerRuntime
from fitdata_workers.scheduler import (
    SCHEDULE,
    InProcessScheduleLock,
    ScheduledJob,
    ScheduleLock,
    Scheduler,
)

log = logging.getLogger("fitdata.workers.embedded")


class EmbeddedWorker:
    """Relays the outbox into the runtime's :class:`LocalJobQueue`, runs its jobs with bounded
    concurrency, retries :class:`~fitdata_core.errors.Unavailable` with exponential backoff,
    and runs the scheduler."""

    def __init__(
        self,
        runtime: WorkerRuntime,
        *,
        concurrency: int = 4,
        registry: JobRegistry | None = None,
        schedule: Sequence[ScheduledJob] = SCHEDULE,
        schedule_lock: ScheduleLock | None = None,
        max_attempts: int = 5,
        backoff_base_seconds: float = 1.0,
        backoff_max_seconds: float = 300.0,
        relay_interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        scheduler_interval_seconds: float = 1.0,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        run_scheduler: bool = True,
    ) -> None:
        queue = runtime.queue
        if not isinstance(queue, LocalJobQueue):
            raise ConfigurationError(
                "The embedded worker needs the in-process job queue; with FITDATA_REDIS_URL set,"
                " run `fitdata worker` and `fitdata scheduler` instead."
            )
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if registry is None:
            from fitdata_workers.handlers import registry as default_registry

            registry = default_registry
        self._svc = runtime.services
        self._queue = queue
        self._registry = registry
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base_seconds
        self._backoff_max = backoff_max_seconds
        self._relay_interval = relay_interval_seconds
        self._scheduler_interval = scheduler_interval_seconds
        self.relay = OutboxRelay(
            self._svc.uow,
            self._queue,
            self._svc.clock,
            lease_seconds=lease_seconds,
            mark_on_send=False,
        )
        self.scheduler: Scheduler | None = (
            Scheduler(self._svc, schedule_lock or InProcessScheduleLock(), schedule=schedule)
            if run_scheduler
            else None
        )
        self._stop = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._retry_timers: dict[asyncio.TimerHandle, JobMessage] = {}
        self._in_flight: set[str] = set()
        self._attempts: dict[str, int] = {}
        self._slots = asyncio.Semaphore(concurrency)

    @property
    def in_flight(self) -> frozenset[str]:
        """Ids of the messages running now."""
        return frozenset(self._in_flight)

    async def start(self) -> None:
        """Start the relay, the job runner and (unless disabled) the scheduler."""
        if self._loops:
            raise RuntimeError("the embedded worker is already running")
        self._stop.clear()
        self._loops.append(
            asyncio.create_task(self.relay.run(self._stop, interval_seconds=self._relay_interval))
        )
        self._loops.append(asyncio.create_task(self._dispatch_loop()))
        if self.scheduler is not None:
            self._loops.append(
                asyncio.create_task(
                    self.scheduler.run(self._stop, interval_seconds=self._scheduler_interval)
                )
            )
        log.info("embedded worker started (concurrency %d)", self._concurrency)

    async def stop(self, *, timeout_seconds: float = 30.0) -> None:
        """Stop taking work, let running jobs finish for up to ``timeout_seconds``, then
        cancel the rest. Unfinished jobs stay unacknowledged in the outbox and run again
        after the next start."""
        self._stop.set()
        for timer, message in self._retry_timers.items():
            timer.cancel()
            # Unacknowledged in the outbox: the relay sends it again once its lease runs out.
            self._queue.done(message.id)
        self._retry_timers.clear()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()
        if self._running:
            _, pending = await asyncio.wait(self._running, timeout=timeout_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        log.info("embedded worker stopped")

    async def _dispatch_loop(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                message = await self._queue.get()
            except BaseException:
                self._slots.release()
                raise
            task = asyncio.create_task(self._run(message))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, message: JobMessage) -> None:
        try:
            await self._process(message)
        finally:
            self._slots.release()

    async def _process(self, message: JobMessage) -> None:
        if message.id in self._in_flight:
            # Another copy of this message is running; it settles the message for both.
            log.info("message %s (%s) is already running; skipped", message.id, message.actor)
            return
        self._in_flight.add(message.id)
        try:
            await self._registry.dispatch(self._svc, message)
        except Unavailable as exc:
            if self._retry_later(message, exc):
                return
        except asyncio.CancelledError:
            # Stopped mid-run: unacknowledged, so it runs again after the lease runs out.
            self._queue.done(message.id)
            raise
        except Exception as exc:
            log.exception("job %s (message %s) failed", message.actor, message.id)
            self._svc.errors.capture_exception(exc, job=message.actor, message_id=message.id)
        finally:
            self._in_flight.discard(message.id)
        await self._settle(message)

    def _retry_later(self, message: JobMessage, exc: Unavailable) -> bool:
        """Schedule a retry with exponential backoff; False when attempts are used up."""
        attempt = self._attempts.get(message.id, 0) + 1
        if attempt >= self._max_attempts:
            log.error(
                "job %s (message %s) gave up after %d attempts: %s",
                message.actor,
                message.id,
                attempt,
                exc,
            )
            self._svc.errors.capture_exception(exc, job=message.actor, message_id=message.id)
            return False
        if self._stop.is_set():
            # Leave it unacknowledged: it runs again after the next start.
            self._queue.done(message.id)
            return True
        self._attempts[message.id] = attempt
        delay = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
        log.warning(
            "job %s (message %s) hit an outage, retry %d in %.1fs: %s",
            message.actor,
            message.id,
            attempt,
            delay,
            exc,
        )
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None

        def requeue() -> None:
            if timer is not None:
                self._retry_timers.pop(timer, None)
            self._queue.requeue(message)

        timer = loop.call_later(delay, requeue)
        self._retry_timers[timer] = message
        return True

    async def _settle(self, message: JobMessage) -> None:
        """Acknowledge the message in the outbox and release its id in the queue."""
        self._attempts.pop(message.id, None)
        try:
            async with self._svc.uow() as uow:
                await uow.outbox.mark_delivered([message.id], self._svc.clock.now())
                await uow.commit()
        except Exception:
            # It runs again once its lease runs out; handlers tolerate that.
            log.exception("could not acknowledge message %s in the outbox", message.id)
        finally:
            self._queue.done(message.id)
