"""What the workers need from :class:`fitdata_adapters.bootstrap.Runtime`."""

from __future__ import annotations

from typing import Protocol

from fitdata_core.ports.infrastructure import JobQueue
from fitdata_core.services import Services


class WorkerRuntime(Protocol):
    """The services jobs run with and the queue the outbox relay sends to."""

    @property
    def services(self) -> Services: ...

    @property
    def queue(self) -> JobQueue: ...
