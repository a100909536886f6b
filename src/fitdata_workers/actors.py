"""Dramatiq actors generated from the job registry: one per job name, on queue ``fitdata``.

Each actor takes the job's primitive keyword arguments, rebuilds the
:class:`~fitdata_core.ports.infrastructure.JobMessage` (the Dramatiq message id *is* the outbox
message id) and runs :meth:`JobRegistry.dispatch` on the AsyncIO middleware's event loop, with
the :class:`~fitdata_core.services.Services` of this worker process.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import CurrentMessage

from fitdata_adapters.queue.dramatiq_queue import QUEUE_NAME
from fitdata_core.ports.infrastructure import JobMessage
from fitdata_core.services import Services
from fitdata_workers.registry import JobRegistry
from fitdata_workers.scheduler import SCHEDULE


def job_names(registry: JobRegistry) -> list[str]:
    """Every job a worker must accept: the registered ones and the scheduled ones (a scheduled
    job whose handler is not registered yet is dispatched to a logged error, not lost in a
    Dramatiq "actor not found")."""
    return sorted(set(registry.names()) | {entry.job for entry in SCHEDULE})


def declare_actors(
    broker: dramatiq.Broker,
    registry: JobRegistry,
    services: Callable[[], Services],
    *,
    names: Iterable[str] | None = None,
    queue_name: str = QUEUE_NAME,
) -> dict[str, dramatiq.Actor[Any, Any]]:
    """Declare one actor per job name on ``broker``; ``services`` gives this process's
    Services (called per job, so it may build them lazily)."""
    return {
        name: _declare(broker, registry, services, name, queue_name)
        for name in (job_names(registry) if names is None else names)
    }


def _declare(
    broker: dramatiq.Broker,
    registry: JobRegistry,
    services: Callable[[], Services],
    name: str,
    queue_name: str,
) -> dramatiq.Actor[Any, Any]:
    def run(**kwargs: str | int | None) -> None:
        current = CurrentMessage.get_current_message()
        message = JobMessage(
            id=current.message_id if current is not None else str(uuid.uuid4()),
            actor=name,
            args=kwargs,
            created_at=(
                datetime.fromtimestamp(current.message_timestamp / 1000, UTC)
                if current is not None
                else datetime.now(UTC)
            ),
        )
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("the broker needs the AsyncIO middleware (see make_broker)")
        loop_thread.run_coroutine(registry.dispatch(services(), message))

    run.__name__ = run.__qualname__ = name
    declare = dramatiq.actor(broker=broker, actor_name=name, queue_name=queue_name)
    actor: dramatiq.Actor[Any, Any] = declare(run)
    return actor
