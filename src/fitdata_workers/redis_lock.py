"""The production :class:`~fitdata_workers.scheduler.ScheduleLock`: Redis ``SET NX EX``."""

from __future__ import annotations

import redis
import redis.asyncio

from fitdata_core.errors import Unavailable


class RedisScheduleLock:
    """Claims ticks in Redis, so schedulers on any number of machines fire each tick once."""

    def __init__(self, redis_url: str, *, prefix: str = "fitdata:schedule:") -> None:
        self._prefix = prefix
        self._client = redis.asyncio.Redis.from_url(
            redis_url, socket_connect_timeout=2.0, socket_timeout=5.0
        )

    async def claim(self, key: str, ttl_seconds: int) -> bool:
        try:
            won = await self._client.set(self._prefix + key, b"1", nx=True, ex=ttl_seconds)
        except redis.RedisError as exc:
            raise Unavailable("The schedule lock (Redis) is unreachable.") from exc
        return bool(won)

    async def release(self, key: str) -> None:
        try:
            await self._client.delete(self._prefix + key)
        except redis.RedisError as exc:
            raise Unavailable("The schedule lock (Redis) is unreachable.") from exc

    async def aclose(self) -> None:
        await self._client.connection_pool.disconnect()
