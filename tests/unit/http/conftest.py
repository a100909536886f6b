"""An app over the memory adapters, a client for it, and a seeded gym."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog
from http_support import Gym, make_runtime, seed_gym
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_adapters.bootstrap import Runtime
from fitdata_core.services import Services
from fitdata_http import create_app


@pytest.fixture(autouse=True)
def _default_structlog() -> None:
    """Undo any logging set-up an earlier test left behind (the CLI's points at a captured,
    since-closed stderr and may filter out info lines), so log assertions see every line."""
    structlog.reset_defaults()


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = make_runtime(tmp_path)
    try:
        yield rt
    finally:
        await rt.aclose()


@pytest.fixture
def services(runtime: Runtime) -> Services:
    return runtime.services


@pytest.fixture
def app(runtime: Runtime) -> Litestar:
    return create_app(runtime)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


@pytest.fixture
async def gym(services: Services) -> Gym:
    return await seed_gym(services)
