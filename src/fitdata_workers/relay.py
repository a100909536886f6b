"""The outbox relay: moves committed job messages from the outbox to the job queue.

A use case writes its job into ``uow.outbox`` in the same transaction as its rows, so a job
exists exactly when its rows do. The relay then:

1. claims a batch of undelivered messages with a lease (a committed ``lease_until``), so other
   relays running at the same time leave them alone;
2. sends each one to the :class:`~fitdata_core.ports.JobQueue`;
3. marks the sent ones delivered.

If the queue is down, sending stops for this round and the unsent messages keep their lease
until it runs out; a later round claims and sends them again. Nothing is lost, only delayed.
If the relay dies between sending and marking, the lease runs out and the message is sent
again: delivery is at least once, which is why handlers guard on job state and workers
refuse to run one message id twice at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fitdata_core.errors import Unavailable
from fitdata_core.ports.clock import Clock
from fitdata_core.ports.infrastructure import JobMessage, JobQueue
from fitdata_core.ports.repositories import UnitOfWorkFactory

log = logging.getLogger("fitdata.workers.relay")

DEFAULT_BATCH_SIZE = 100
DEFAULT_LEASE_SECONDS = 60
DEFAULT_INTERVAL_SECONDS = 0.5


class OutboxRelay:
    """Relays outbox messages to ``queue``.

    ``mark_on_send=False`` leaves marking to the consumer (the embedded worker marks a message
    delivered once it has run, so a crash of the one embedded process loses nothing either).
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        queue: JobQueue,
        clock: Clock,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        mark_on_send: bool = True,
    ) -> None:
        self._uow = uow_factory
        self._queue = queue
        self._clock = clock
        self._batch_size = batch_size
        self._lease_seconds = lease_seconds
        self._mark_on_send = mark_on_send

    async def relay_once(self) -> int:
        """Claim, send and mark one batch. Returns how many messages were sent."""
        async with self._uow() as uow:
            batch = await uow.outbox.claim_batch(
                limit=self._batch_size, now=self._clock.now(), lease_seconds=self._lease_seconds
            )
            await uow.commit()
        if not batch:
            return 0
        sent = await self._send(batch)
        if sent and self._mark_on_send:
            async with self._uow() as uow:
                await uow.outbox.mark_delivered(sent, self._clock.now())
                await uow.commit()
        return len(sent)

    async def _send(self, batch: list[JobMessage]) -> list[str]:
        sent: list[str] = []
        for message in batch:
            try:
                await self._queue.send(message)
            except Unavailable as exc:
                # The rest of the batch stays leased and is retried once the lease runs out.
                log.warning(
                    "job queue unavailable; %d message(s) wait for the next round: %s",
                    len(batch) - len(sent),
                    exc,
                )
                break
            sent.append(message.id)
        return sent

    async def run(
        self, stop: asyncio.Event, *, interval_seconds: float = DEFAULT_INTERVAL_SECONDS
    ) -> None:
        """Relay until ``stop`` is set: a full batch is followed at once by the next one,
        otherwise the relay waits ``interval_seconds``."""
        while not stop.is_set():
            try:
                sent = await self.relay_once()
            except Unavailable as exc:
                log.warning("outbox relay round failed: %s", exc)
                sent = 0
            except Exception:
                # Keep relaying: one bad round (a bug, a broken row) must not stop every job.
                log.exception("outbox relay round crashed")
                sent = 0
            if sent >= self._batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
