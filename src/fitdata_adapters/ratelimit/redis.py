"""A sliding-window rate limiter in Redis, shared by every process that uses the same Redis.

One Lua script does the whole decision atomically, on Redis's own clock, so API processes on
different machines (with skewed clocks) count against the same window.

Redis down means **fail closed**: :meth:`RedisRateLimiter.hit` raises
:class:`~fitdata_core.errors.Unavailable` (HTTP 503, safe to retry) instead of letting the
request through. A limiter that silently stops limiting would let anyone start unbounded
exports while Redis is away; a clear 503 is the lesser evil.
"""

from __future__ import annotations

import math
import uuid
from typing import Final

import redis
import redis.asyncio

from fitdata_core.errors import Unavailable
from fitdata_core.ports.infrastructure import RateLimitResult

# KEYS[1] the window's sorted set; ARGV: window ms, limit, a unique member for this hit.
# Each member is one allowed hit scored by its time in ms. Returns {allowed, remaining,
# retry_after_ms}.
_SLIDING_WINDOW: Final = """
local key = KEYS[1]
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  local retry = window
  if oldest[2] then
    retry = tonumber(oldest[2]) + window - now
  end
  return {0, 0, retry}
end
redis.call('ZADD', key, now, ARGV[3])
redis.call('PEXPIRE', key, window)
return {1, limit - count - 1, 0}
"""


class RedisRateLimiter:
    """Implements :class:`fitdata_core.ports.RateLimiter` on Redis (sliding window)."""

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = "fitdata:rl:",
        connect_timeout: float = 1.0,
        socket_timeout: float = 2.0,
    ) -> None:
        self._prefix = prefix
        self._client = redis.asyncio.Redis.from_url(
            redis_url, socket_connect_timeout=connect_timeout, socket_timeout=socket_timeout
        )
        self._script = self._client.register_script(_SLIDING_WINDOW)

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateLimitResult:
        """Count one request under ``key``. Raises ``Unavailable`` when Redis is unreachable."""
        if limit < 1 or window_seconds < 1:
            raise ValueError("limit and window_seconds must be positive")
        try:
            allowed, remaining, retry_ms = await self._script(
                keys=[self._prefix + key],
                args=[window_seconds * 1000, limit, uuid.uuid4().hex],
            )
        except redis.RedisError as exc:
            raise Unavailable(
                "The rate limiter (Redis) is unreachable.", code="RATE_LIMITER_UNAVAILABLE"
            ) from exc
        if allowed:
            return RateLimitResult(allowed=True, remaining=int(remaining), retry_after=0)
        retry_after = max(1, math.ceil(int(retry_ms) / 1000))
        return RateLimitResult(allowed=False, remaining=0, retry_after=retry_after)

    async def aclose(self) -> None:
        await self._client.connection_pool.disconnect()
