"""Fixtures for ArboxSource against the Arbox sandbox over real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from fitdata_adapters.arbox import ArboxSource, RetryPolicy
from fitdata_adapters.arbox_sandbox import ArboxSandbox, SandboxConfig, SandboxThread
from fitdata_core.ports.providers import SourceCredentials

API_KEY = "it-key-6c1f0b"
EMAIL = "owner@it-gym.test"
PASSWORD = "it-pw-93ad7e"
FAST_RETRIES = RetryPolicy(
    max_attempts=3, max_total_seconds=10, initial_wait=0.01, max_wait=0.05, jitter=0.01
)

KEY = SourceCredentials(api_key=API_KEY)
LOGIN = SourceCredentials(email=EMAIL, password=PASSWORD)
BOTH = SourceCredentials(api_key=API_KEY, email=EMAIL, password=PASSWORD)


@pytest.fixture(scope="module")
def arbox_server() -> Iterator[SandboxThread]:
    with SandboxThread(SandboxConfig(api_key=API_KEY, email=EMAIL, password=PASSWORD)) as server:
        yield server


@pytest.fixture
def arbox(arbox_server: SandboxThread) -> ArboxSandbox:
    """The sandbox's Python handle; every test starts from an empty source."""
    arbox_server.sandbox.reset()
    return arbox_server.sandbox


@pytest.fixture
async def make_source(
    arbox_server: SandboxThread,
) -> AsyncIterator[Callable[..., ArboxSource]]:
    made: list[ArboxSource] = []

    def make(**options: Any) -> ArboxSource:
        options.setdefault("retry_policy", FAST_RETRIES)
        options.setdefault("timeout", 10.0)
        source = ArboxSource(base_url=arbox_server.base_url + "/", **options)
        made.append(source)
        return source

    yield make
    for source in made:
        await source.aclose()


@pytest.fixture
def source(make_source: Callable[..., ArboxSource]) -> ArboxSource:
    return make_source()
