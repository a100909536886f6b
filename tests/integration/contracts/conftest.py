"""Every contract test runs once per backend: memory, SQLite and Postgres.

The ``uow_factory`` fixture is the only thing a contract test gets: the same
``UnitOfWorkFactory`` port the use cases see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fitdata_adapters.db.engine import create_engine
from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
from fitdata_adapters.memory import MemoryUnitOfWorkFactory
from fitdata_core.ports.repositories import UnitOfWorkFactory

BACKENDS = ("memory", "sqlite", "postgres")
_URL_FIXTURES = {"sqlite": "sqlite_url", "postgres": "clean_pg_url"}


@pytest.fixture(params=BACKENDS)
async def uow_factory(request: pytest.FixtureRequest) -> AsyncIterator[UnitOfWorkFactory]:
    if request.param == "memory":
        yield MemoryUnitOfWorkFactory()
        return
    engine = create_engine(request.getfixturevalue(_URL_FIXTURES[request.param]))
    try:
        yield SqlUnitOfWorkFactory(engine)
    finally:
        await engine.dispose()
