"""One contract, two limiters: the in-process one and the Redis one shared across processes.

``make_limiter()`` stands for "the limiter another process would have": for Redis a new
instance with its own connection; for memory the same instance (it is per process).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Callable

import pytest
import redis

from fitdata_adapters.memory import MemoryRateLimiter
from fitdata_adapters.ratelimit.redis import RedisRateLimiter
from fitdata_core.errors import Unavailable
from fitdata_core.ports.infrastructure import RateLimiter

pytestmark = pytest.mark.integration

MakeLimiter = Callable[[], RateLimiter]


@pytest.fixture(params=["memory", "redis"])
async def make_limiter(request: pytest.FixtureRequest) -> AsyncIterator[MakeLimiter]:
    if request.param == "memory":
        limiter = MemoryRateLimiter()
        yield lambda: limiter
        return
    url = request.getfixturevalue("redis_url")
    prefix = f"fitdata-test-{secrets.token_hex(4)}:rl:"
    made: list[RedisRateLimiter] = []

    def make() -> RateLimiter:
        made.append(RedisRateLimiter(url, prefix=prefix))
        return made[-1]

    yield make
    for limiter in made:
        await limiter.aclose()
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


async def test_ten_allowed_then_the_eleventh_refused(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    results = [await limiter.hit("export:org-1", limit=10, window_seconds=60) for _ in range(11)]

    assert all(r.allowed for r in results[:10])
    assert [r.remaining for r in results[:10]] == list(range(9, -1, -1))
    refused = results[10]
    assert not refused.allowed
    assert refused.remaining == 0
    assert 0 < refused.retry_after <= 60
    assert isinstance(refused.retry_after, int)


async def test_keys_are_counted_separately(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    for _ in range(2):
        await limiter.hit("export:org-1", limit=2, window_seconds=60)
    assert not (await limiter.hit("export:org-1", limit=2, window_seconds=60)).allowed
    assert (await limiter.hit("export:org-2", limit=2, window_seconds=60)).allowed


async def test_the_window_rolls_over(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    for _ in range(3):
        assert (await limiter.hit("k", limit=3, window_seconds=1)).allowed
    refused = await limiter.hit("k", limit=3, window_seconds=1)
    assert not refused.allowed
    assert refused.retry_after == 1
    await asyncio.sleep(1.05)
    assert (await limiter.hit("k", limit=3, window_seconds=1)).allowed


async def test_two_processes_share_the_count(make_limiter: MakeLimiter) -> None:
    first, second = make_limiter(), make_limiter()
    for i in range(10):
        limiter = first if i % 2 else second
        assert (await limiter.hit("export:org-1", limit=10, window_seconds=60)).allowed
    assert not (await first.hit("export:org-1", limit=10, window_seconds=60)).allowed
    assert not (await second.hit("export:org-1", limit=10, window_seconds=60)).allowed


async def test_concurrent_hits_never_exceed_the_limit(make_limiter: MakeLimiter) -> None:
    limiters = [make_limiter() for _ in range(4)]
    results = await asyncio.gather(
        *(limiters[i % 4].hit("burst", limit=10, window_seconds=60) for i in range(40))
    )
    assert sum(r.allowed for r in results) == 10


async def test_redis_down_fails_closed_with_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{port}/0", connect_timeout=0.5)
    try:
        with pytest.raises(Unavailable) as caught:
            await limiter.hit("k", limit=10, window_seconds=60)
    finally:
        await limiter.aclose()
    assert caught.value.code == "RATE_LIMITER_UNAVAILABLE"
