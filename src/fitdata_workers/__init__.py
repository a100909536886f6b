"""Background work: the job registry, the outbox relay, the embedded worker, the scheduler, and
the Dramatiq worker processes (:mod:`fitdata_workers.main`). See ``docs/workers.md``."""

from fitdata_workers.embedded import EmbeddedWorker
from fitdata_workers.registry import JobRegistry, job, registry
from fitdata_workers.relay import OutboxRelay
from fitdata_workers.scheduler import (
    SCHEDULE,
    InProcessScheduleLock,
    ScheduledJob,
    ScheduleLock,
    Scheduler,
)

__all__ = [
    "SCHEDULE",
    "EmbeddedWorker",
    "InProcessScheduleLock",
    "JobRegistry",
    "OutboxRelay",
    "ScheduleLock",
    "ScheduledJob",
    "Scheduler",
    "job",
    "registry",
]
