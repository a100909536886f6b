"""The production job queue: Dramatiq messages on Redis.

Senders (API processes, the outbox relay) need no actors: a Dramatiq message names its actor,
and the worker processes, which declare the actors, run it. So this module builds the
:class:`dramatiq.Message` itself and never imports ``fitdata_workers``.
"""

from __future__ import annotations

import asyncio
from typing import Final

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from fitdata_core.errors import QueueUnavailable
from fitdata_core.ports.infrastructure import JobMessage

#: The Dramatiq queue every fitdata actor listens on.
QUEUE_NAME: Final = "fitdata"
#: The Redis key namespace of the broker; workers must use the same one.
DEFAULT_NAMESPACE: Final = "fitdata"


def to_dramatiq_message(
    message: JobMessage, *, queue_name: str = QUEUE_NAME
) -> dramatiq.Message[None]:
    """The Dramatiq message for a job; its ``message_id`` is the outbox message id, which is
    what lets workers recognise a message delivered twice."""
    return dramatiq.Message(
        queue_name=queue_name,
        actor_name=message.actor,
        args=(),
        kwargs=dict(message.args),
        options={},
        message_id=message.id,
        message_timestamp=int(message.created_at.timestamp() * 1000),
    )


class DramatiqJobQueue:
    """Implements :class:`fitdata_core.ports.JobQueue` by enqueueing on a Redis broker."""

    def __init__(
        self,
        redis_url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        queue_name: str = QUEUE_NAME,
        connect_timeout: float = 2.0,
        socket_timeout: float = 5.0,
    ) -> None:
        # Short timeouts: a Redis that is down must fail the send fast (the outbox keeps the
        # message and the relay tries again), not hang the relay.
        self._client = redis.Redis.from_url(
            redis_url, socket_connect_timeout=connect_timeout, socket_timeout=socket_timeout
        )
        # No middleware: enqueueing needs none, and the workers' broker has the real stack.
        self._broker = RedisBroker(  # type: ignore[no-untyped-call]
            client=self._client, namespace=namespace, middleware=[]
        )
        self._queue_name = queue_name

    async def send(self, message: JobMessage) -> None:
        """Enqueue the job. Raises ``QueueUnavailable`` when Redis cannot be reached."""
        dramatiq_message = to_dramatiq_message(message, queue_name=self._queue_name)
        try:
            await asyncio.to_thread(self._broker.enqueue, dramatiq_message)
        except redis.RedisError as exc:
            raise QueueUnavailable("The job queue (Redis) is unreachable.") from exc

    async def aclose(self) -> None:
        await asyncio.to_thread(self._broker.close)
        await asyncio.to_thread(self._client.close)
