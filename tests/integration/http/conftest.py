"""Shared set-up of the HTTP integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import structlog
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_adapters.bootstrap import Runtime
from fitdata_http import create_app


@pytest.fixture(autouse=True)
def _default_structlog() -> None:
    """Undo logging set-up an earlier test left behind (the CLI's writes to a captured,
    since-closed stderr), so this app's own log lines cannot fail these tests."""
    structlog.reset_defaults()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The database of a test module's ``runtime`` fixture: each test runs on both."""
    fixture = {"sqlite": "sqlite_url", "postgres": "clean_pg_url"}[request.param]
    return str(request.getfixturevalue(fixture))


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A test client of the app over the test module's ``runtime``."""
    async with AsyncTestClient(app=create_app(runtime)) as test_client:
        yield test_client
