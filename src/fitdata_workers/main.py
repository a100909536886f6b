"""Entry points of the production worker and scheduler processes (``fitdata worker`` and
``fitdata scheduler`` call these; ``fitdata serve`` in embedded mode uses
:class:`fitdata_workers.embedded.EmbeddedWorker` instead).

Each worker process bootstraps one runtime, declares the actors on a Redis broker, runs a
Dramatiq worker, and runs the outbox relay on the worker's event loop, so a deployment with
workers always relays its outbox. Any number of worker and scheduler processes may run.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from types import FrameType
from typing import Any

import attrs
import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import Middleware

from fitdata_adapters.settings import Settings
from fitdata_core.errors import ConfigurationError
from fitdata_workers.actors import declare_actors
from fitdata_workers.broker import (
    DEFAULT_MAX_BACKOFF_MS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MIN_BACKOFF_MS,
    DEFAULT_TIME_LIMIT_MS,
    make_broker,
)
from fitdata_workers.registry import JobRegistry
from fitdata_workers.relay import OutboxRelay
from fitdata_workers.runtime import WorkerRuntime
from fitdata_workers.scheduler import Scheduler

log = logging.getLogger("fitdata.workers")

DEFAULT_THREADS = 8


@attrs.frozen
class WorkerOptions:
    """Tuning of the Dramatiq workers, from ``FITDATA_WORKER_*`` environment variables."""

    max_retries: int = DEFAULT_MAX_RETRIES
    min_backoff_ms: int = DEFAULT_MIN_BACKOFF_MS
    max_backoff_ms: int = DEFAULT_MAX_BACKOFF_MS
    time_limit_ms: int = DEFAULT_TIME_LIMIT_MS

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> WorkerOptions:
        env = os.environ if environ is None else environ

        def number(name: str, default: int) -> int:
            raw = env.get(f"FITDATA_WORKER_{name}", "").strip()
            if not raw:
                return default
            try:
                return int(raw)
            except ValueError as exc:
                raise ConfigurationError(
                    f"FITDATA_WORKER_{name} must be a whole number, got {raw!r}."
                ) from exc

        return cls(
            max_retries=number("MAX_RETRIES", DEFAULT_MAX_RETRIES),
            min_backoff_ms=number("MIN_BACKOFF_MS", DEFAULT_MIN_BACKOFF_MS),
            max_backoff_ms=number("MAX_BACKOFF_MS", DEFAULT_MAX_BACKOFF_MS),
            time_limit_ms=number("TIME_LIMIT_MS", DEFAULT_TIME_LIMIT_MS),
        )


class _RelayAndRuntime(Middleware):
    """Runs the outbox relay on the worker's event loop, and closes the runtime there after
    the worker threads stopped (its connections belong to that loop)."""

    def __init__(
        self, relay: OutboxRelay | None, close: Callable[[], Coroutine[Any, Any, None]] | None
    ) -> None:
        self._relay = relay
        self._close = close
        self._relay_future: Future[None] | None = None
        self._stop: asyncio.Event | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self._relay is None:
            return
        loop = _event_loop()
        relay = self._relay

        async def relay_forever() -> None:
            self._stop = asyncio.Event()
            await relay.run(self._stop)

        self._relay_future = asyncio.run_coroutine_threadsafe(relay_forever(), loop)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self._relay_future is None:
            return
        stop = self._stop
        if stop is not None:
            _event_loop().call_soon_threadsafe(stop.set)
        try:
            self._relay_future.result(timeout=10)
        except Exception:
            log.exception("outbox relay did not stop cleanly")
            self._relay_future.cancel()
        self._relay_future = None

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self._close is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), _event_loop()).result(timeout=30)
        except Exception:
            log.exception("runtime did not close cleanly")


def _event_loop() -> asyncio.AbstractEventLoop:
    loop_thread = get_event_loop_thread()
    if loop_thread is None:
        raise RuntimeError("the broker needs the AsyncIO middleware (see make_broker)")
    return loop_thread.loop


class WorkerProcess:
    """One worker process's Dramatiq worker plus its outbox relay.

    ``start()`` returns once the worker runs; ``stop()`` drains running jobs, stops the relay
    and closes the runtime (via ``close``).
    """

    def __init__(
        self,
        runtime: WorkerRuntime,
        broker: dramatiq.Broker,
        registry: JobRegistry,
        *,
        threads: int = DEFAULT_THREADS,
        relay: bool = True,
        close: Callable[[], Coroutine[Any, Any, None]] | None = None,
        worker_timeout_ms: int = 1000,
    ) -> None:
        services = runtime.services
        declare_actors(broker, registry, lambda: services)
        broker.add_middleware(
            _RelayAndRuntime(
                OutboxRelay(services.uow, runtime.queue, services.clock) if relay else None,
                close,
            )
        )
        self.broker = broker
        self.worker = dramatiq.Worker(
            broker, worker_threads=threads, worker_timeout=worker_timeout_ms
        )

    def start(self) -> None:
        self.worker.start()

    def stop(self, *, timeout_ms: int = 600_000) -> None:
        self.worker.stop(timeout=timeout_ms)
        self.broker.close()


def _require_redis(settings: Settings, what: str) -> str:
    if settings.redis_url is None:
        raise ConfigurationError(
            f"{what} needs FITDATA_REDIS_URL; without Redis, `fitdata serve` runs jobs and the"
            " schedule in-process."
        )
    return settings.redis_url


def _configure_logging(settings: Settings) -> None:
    # Dramatiq and these modules log through the standard library.
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d received; stopping", signum)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(timeout=1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _worker_process_main(settings: Settings, threads: int) -> None:
    from fitdata_adapters.bootstrap import bootstrap
    from fitdata_workers.handlers import registry

    _configure_logging(settings)
    redis_url = _require_redis(settings, "The worker")
    options = WorkerOptions.from_env()
    runtime = bootstrap(settings)
    broker = make_broker(
        redis_url,
        max_retries=options.max_retries,
        min_backoff_ms=options.min_backoff_ms,
        max_backoff_ms=options.max_backoff_ms,
        time_limit_ms=options.time_limit_ms,
    )
    process = WorkerProcess(runtime, broker, registry, threads=threads, close=runtime.aclose)
    process.start()
    log.info("worker %d running %d threads, jobs: %s", os.getpid(), threads, registry.names())
    try:
        _wait_for_signal()
    finally:
        process.stop()


def run_worker(settings: Settings, *, processes: int = 1, threads: int = DEFAULT_THREADS) -> None:
    """Run Dramatiq worker processes until SIGINT/SIGTERM (blocking).

    Each process has its own runtime, ``threads`` worker threads and an outbox relay. With
    ``processes > 1`` this process supervises that many children and forwards the stop.
    """
    _require_redis(settings, "The worker")
    if processes < 1 or threads < 1:
        raise ValueError("processes and threads must be at least 1")
    if processes == 1:
        _worker_process_main(settings, threads)
        return
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_worker_process_main, args=(settings, threads), name=f"worker-{i}")
        for i in range(processes)
    ]
    for child in children:
        child.start()
    try:
        _wait_for_signal()
    finally:
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)
        for child in children:
            child.join()


async def _run_scheduler(settings: Settings, redis_url: str, stop: asyncio.Event) -> None:
    from fitdata_adapters.bootstrap import bootstrap
    from fitdata_workers.redis_lock import RedisScheduleLock

    runtime = bootstrap(settings)
    lock = RedisScheduleLock(redis_url)
    try:
        await Scheduler(runtime.services, lock).run(stop)
    finally:
        await lock.aclose()
        await runtime.aclose()


def run_scheduler(settings: Settings) -> None:
    """Run the scheduler until SIGINT/SIGTERM (blocking). Any number may run: each tick is
    claimed in Redis, so it fires once."""
    _configure_logging(settings)
    redis_url = _require_redis(settings, "The scheduler")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("scheduler running")
        await _run_scheduler(settings, redis_url, stop)

    asyncio.run(main())
