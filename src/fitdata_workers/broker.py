"""The Dramatiq broker of the worker processes: Redis, AsyncIO, retries, time limit, guard.

:func:`make_broker` builds it; :func:`fitdata_workers.actors.declare_actors` adds one actor per
registered job. The middleware stack:

- ``TimeLimit``: a job running longer than ``time_limit_ms`` is interrupted.
- ``Retries``: exponential backoff, and only for :class:`~fitdata_core.errors.Unavailable`
  (an outage may pass; a bug or a refused input will not, so it fails at once).
- ``AsyncIO``: the event loop thread the async handlers run on.
- ``CurrentMessage``: lets an actor see its message id.
- :class:`JobGuard`: holds a short Redis lock per message id while it runs, so one message
  delivered twice never runs twice at once; a message that already succeeded is skipped when
  it comes again.

A message for an actor this worker does not declare is logged by Dramatiq and moved to the
dead-letter queue (nothing crashes). Actors exist for every registered job and every
scheduled job, so a scheduled job whose handler is missing reaches the registry, which logs
an error.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any, Final

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AsyncIO,
    CurrentMessage,
    Middleware,
    Retries,
    ShutdownNotifications,
    SkipMessage,
    TimeLimit,
)

from fitdata_adapters.queue.dramatiq_queue import DEFAULT_NAMESPACE
from fitdata_core.errors import Unavailable

log = logging.getLogger("fitdata.workers.broker")

DEFAULT_MAX_RETRIES: Final = 10
DEFAULT_MIN_BACKOFF_MS: Final = 5_000
DEFAULT_MAX_BACKOFF_MS: Final = 30 * 60_000
DEFAULT_TIME_LIMIT_MS: Final = 30 * 60_000
#: How long a message that succeeded is remembered, to skip late duplicates.
DEFAULT_DONE_TTL_SECONDS: Final = 7 * 24 * 3600

# Deletes the lock only if it still holds our token (it may have expired and been retaken).
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def retry_only_unavailable(max_retries: int) -> Any:
    """The ``retry_when`` predicate: retry outages, up to ``max_retries`` times."""

    def retry_when(retries: int, exception: BaseException) -> bool:
        return isinstance(exception, Unavailable) and retries < max_retries

    return retry_when


class JobGuard(Middleware):
    """Per-message-id guard in Redis, shared by every worker process on the broker."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        *,
        prefix: str,
        lock_ttl_seconds: int,
        done_ttl_seconds: int = DEFAULT_DONE_TTL_SECONDS,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._lock_ttl = lock_ttl_seconds
        self._done_ttl = done_ttl_seconds
        self._release = client.register_script(_RELEASE)
        # Tokens of the locks this process holds, by (thread, message id): a message is
        # processed start to end on one worker thread.
        self._tokens: dict[tuple[int, str], str] = {}
        self._tokens_guard = threading.Lock()

    def _lock_key(self, message_id: str) -> str:
        return f"{self._prefix}lock:{message_id}"

    def _done_key(self, message_id: str) -> str:
        return f"{self._prefix}done:{message_id}"

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        message_id = message.message_id
        token = uuid.uuid4().hex
        try:
            if self._client.exists(self._done_key(message_id)):
                log.info("message %s already ran; duplicate skipped", message_id)
                raise SkipMessage("already done")
            won = self._client.set(self._lock_key(message_id), token, nx=True, ex=self._lock_ttl)
        except redis.RedisError:
            # Redis hiccup between fetch and run: run unguarded rather than drop the job;
            # handlers tolerate a repeat.
            log.warning("message guard unavailable for %s; running unguarded", message_id)
            return
        if not won:
            log.info("message %s is already running elsewhere; duplicate skipped", message_id)
            raise SkipMessage("already running")
        with self._tokens_guard:
            self._tokens[(threading.get_ident(), message_id)] = token

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None and self._owns(message.message_id):
            try:
                self._client.set(self._done_key(message.message_id), b"1", ex=self._done_ttl)
            except redis.RedisError:
                log.warning("could not record message %s as done", message.message_id)
        self._unlock(message.message_id)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._unlock(message.message_id)

    def _owns(self, message_id: str) -> bool:
        with self._tokens_guard:
            return (threading.get_ident(), message_id) in self._tokens

    def _unlock(self, message_id: str) -> None:
        with self._tokens_guard:
            token = self._tokens.pop((threading.get_ident(), message_id), None)
        if token is None:
            return
        try:
            self._release(keys=[self._lock_key(message_id)], args=[token])
        except redis.RedisError:
            log.warning("could not release the lock of message %s; it expires", message_id)


def make_broker(
    redis_url: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    max_retries: int = DEFAULT_MAX_RETRIES,
    min_backoff_ms: int = DEFAULT_MIN_BACKOFF_MS,
    max_backoff_ms: int = DEFAULT_MAX_BACKOFF_MS,
    time_limit_ms: int = DEFAULT_TIME_LIMIT_MS,
) -> RedisBroker:
    """The workers' broker. ``namespace`` must match the senders' ``DramatiqJobQueue``."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2.0)
    middleware = [
        TimeLimit(time_limit=time_limit_ms),
        ShutdownNotifications(),
        Retries(
            max_retries=max_retries,
            min_backoff=min_backoff_ms,
            max_backoff=max_backoff_ms,
            retry_when=retry_only_unavailable(max_retries),
        ),
        AsyncIO(),
        CurrentMessage(),
        JobGuard(
            client,
            prefix=f"{namespace}:guard:",
            # A little beyond the time limit: the lock outlives any legitimate run and expires
            # soon after a crashed worker's, when Dramatiq hands its message to another.
            lock_ttl_seconds=time_limit_ms // 1000 + 30,
        ),
    ]
    return RedisBroker(  # type: ignore[no-untyped-call]
        client=client, namespace=namespace, middleware=middleware
    )
