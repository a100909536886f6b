"""The job registry: which async handler runs for which job name.

Feature code registers a handler with the :func:`job` decorator in its own module and adds
that module to :mod:`fitdata_workers.handlers`, the one place that imports them all::

    from fitdata_workers.registry import job

    @job(EXPORT_MEMBERS)  # the name, from fitdata_core.job_names
    async def export_members(svc: Services, *, job_id: str) -> None: ...

Handlers take :class:`~fitdata_core.services.Services` and primitive keyword arguments only
(the ``JobMessage.args``), and must tolerate at-least-once delivery: a message can arrive
again after it has run (guard on the job's state). Both runners, the embedded worker and the
Dramatiq actors, call :meth:`JobRegistry.dispatch`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator

from fitdata_core.ports.infrastructure import JobMessage
from fitdata_core.services import Services

log = logging.getLogger("fitdata.workers")


#: ``async def handler(svc: Services, **primitive_kwargs) -> None``.
H = Callable[..., Awaitable[None]]


class JobRegistry:
    """Maps job names (the Dramatiq actor names) to handlers."""

    def __init__(self) -> None:
        self._handlers: dict[str, H] = {}

    def job(self, name: str) -> Callable[[H], H]:
        """Register the decorated ``async def handler(svc, *, ...)`` under ``name``."""

        def register(handler: H) -> H:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"job handler {name!r} must be an async function")
            existing = self._handlers.get(name)
            if existing is not None and existing is not handler:
                raise ValueError(f"job {name!r} is already registered")
            self._handlers[name] = handler
            return handler

        return register

    def get(self, name: str) -> H | None:
        return self._handlers.get(name)

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    async def dispatch(self, svc: Services, message: JobMessage) -> bool:
        """Run the handler for ``message``. Returns False when nothing could run it.

        An unknown job name or arguments the handler does not accept are permanent faults of
        the message, not of the infrastructure: they are logged (and reported) rather than
        raised, so a bad message never crashes or clogs a worker. Errors raised by the handler
        itself propagate, so the runner can retry :class:`~fitdata_core.errors.Unavailable`.
        """
        handler = self._handlers.get(message.actor)
        if handler is None:
            log.error("no handler registered for job %r (message %s)", message.actor, message.id)
            svc.errors.capture_message(
                "unknown job", level="error", job=message.actor, message_id=message.id
            )
            return False
        kwargs = dict(message.args)
        try:
            inspect.signature(handler).bind(svc, **kwargs)
        except TypeError as exc:
            log.error(
                "job %r (message %s) has arguments its handler refuses: %s",
                message.actor,
                message.id,
                exc,
            )
            svc.errors.capture_message(
                "job arguments refused", level="error", job=message.actor, message_id=message.id
            )
            return False
        await handler(svc, **kwargs)
        return True


#: The process-wide registry that feature code registers into.
registry = JobRegistry()

#: ``@job("name")`` registers into :data:`registry`.
job = registry.job
