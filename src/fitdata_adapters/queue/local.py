"""The in-process job queue of embedded mode, consumed by ``fitdata_workers.embedded``."""

from __future__ import annotations

import asyncio

from fitdata_core.ports.infrastructure import JobMessage


class LocalJobQueue:
    """An unbounded asyncio queue that knows which messages it holds or is running.

    ``send`` never blocks. A message whose id is already pending (queued or being run) is not
    queued again: the outbox relay re-sends a message whose lease ran out, and in embedded
    mode that simply means "still pending". :meth:`done` ends a message's pending state.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[JobMessage] = asyncio.Queue()
        self._pending: set[str] = set()

    async def send(self, message: JobMessage) -> None:
        if message.id in self._pending:
            return
        self._pending.add(message.id)
        self._queue.put_nowait(message)

    async def get(self) -> JobMessage:
        """Wait for the next message. The consumer must call :meth:`done` when finished."""
        return await self._queue.get()

    def requeue(self, message: JobMessage) -> None:
        """Put a still-pending message back (a retry after backoff)."""
        self._pending.add(message.id)
        self._queue.put_nowait(message)

    def done(self, message_id: str) -> None:
        """The message finished (or was given up): a later send of its id queues it again."""
        self._pending.discard(message_id)

    def is_pending(self, message_id: str) -> bool:
        return message_id in self._pending

    def qsize(self) -> int:
        return self._queue.qsize()
