"""Dramatiq on a real Redis: a unique namespace per test, cleaned up afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A Redis key namespace only this test uses; its keys are deleted at the end."""
    name = f"fitdata-test-{secrets.token_hex(4)}"
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{name}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
