"""Fixtures of the exports QA suite: a database of its own with the demo gym, moto S3, SMTP,
and the live app (uvicorn + embedded worker) wired to all three."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from exports_live import (
    SPECIAL_PEOPLE,
    DemoGym,
    LiveApp,
    LiveAppFactory,
    MotoS3,
    Seeder,
    SmtpSink,
    free_socket,
    s3_env,
    settings_for,
)

from fitdata_adapters.bootstrap import bootstrap
from fitdata_adapters.db.engine import create_engine
from fitdata_adapters.db.migrate import upgrade
from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
from fitdata_adapters.demo.seed import seed_demo
from fitdata_adapters.memory import MemoryUnitOfWorkFactory
from fitdata_adapters.queue.local import LocalJobQueue
from fitdata_core.model.organizations import Role
from fitdata_core.ports.repositories import UnitOfWorkFactory
from support.databases import create_database, drop_database, unique_database_name
from support.fakes import NoPayments


@pytest.fixture(autouse=True)
def _default_structlog() -> None:
    """Undo logging set-up an earlier test left behind (the CLI's writes to a captured,
    since-closed stderr), so the app's log lines land where these tests look."""
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def exports_db_url(postgres_server_url: str) -> Iterator[str]:
    """A database of this suite's own (random name), migrated, dropped at the end."""
    name = unique_database_name("fitdata_exports")
    url = create_database(postgres_server_url, name)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(postgres_server_url, name)


@pytest.fixture(scope="session")
def demo_gym(exports_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> DemoGym:
    """The demo gym (Hebrew names, every role and status, a year of activity) plus the
    special people above, seeded once through the real seeding code."""
    settings = settings_for(
        tmp_path_factory.mktemp("seed"),
        database_url=exports_db_url,
        public_url="http://127.0.0.1:9",
    )

    async def seed() -> DemoGym:
        runtime = bootstrap(settings, payment_gateway=NoPayments(), queue=LocalJobQueue())
        try:
            gym = await seed_demo(runtime, member_count=60)
        finally:
            await runtime.aclose()
        return DemoGym(
            org_id=gym.org_id,
            owner=gym.login(Role.OWNER).user_id,
            admin=gym.login(Role.ADMIN).user_id,
            coach=gym.login(Role.COACH).user_id,
            member=gym.login(Role.MEMBER).user_id,
            owner_email=gym.login(Role.OWNER).email,
        )

    gym = asyncio.run(seed())
    seeder = Seeder(exports_db_url)
    try:
        seeder.people(gym.org_id, SPECIAL_PEOPLE)
    finally:
        seeder.close()
    return gym


@pytest.fixture
def seeder(exports_db_url: str) -> Iterator[Seeder]:
    seeder = Seeder(exports_db_url)
    yield seeder
    seeder.close()


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoS3]:
    server = MotoS3.start()
    yield server
    server.stop()


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    sink = await SmtpSink.start()
    yield sink
    await sink.stop()


@pytest.fixture
def live_app(
    exports_db_url: str, moto: MotoS3, smtp: SmtpSink, tmp_path: Path
) -> Iterator[LiveAppFactory]:
    """Starts the real app on Postgres, moto S3 (a fresh bucket) and the SMTP sink.

    ``live_app(**options)`` takes :class:`LiveApp`'s options (``overrides``, ``wrap_storage``,
    ``scheduler``), ``s3=`` (another :class:`MotoS3`) and ``bucket=`` (an existing bucket);
    the app is stopped at the end of the test.
    """
    started: list[LiveApp] = []

    def start(*, s3: MotoS3 | None = None, bucket: str | None = None, **options: Any) -> LiveApp:
        server = s3 or moto
        bucket = bucket or server.new_bucket()
        sock = free_socket()
        host, port = sock.getsockname()
        settings = settings_for(
            tmp_path / f"app{len(started)}",
            database_url=exports_db_url,
            public_url=f"http://{host}:{port}",
            smtp_url=smtp.url,
            **s3_env(server, bucket),
        )
        app = LiveApp(settings, sock, **options)
        started.append(app.start())
        return app

    yield start
    for app in started:
        app.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def uow_factory(
    request: pytest.FixtureRequest, exports_db_url: str
) -> AsyncIterator[UnitOfWorkFactory]:
    """Units of work on each backend in turn: memory, a migrated SQLite file, and Postgres."""
    if request.param == "memory":
        yield MemoryUnitOfWorkFactory()
        return
    url = exports_db_url if request.param == "postgres" else request.getfixturevalue("sqlite_url")
    engine = create_engine(url)
    try:
        yield SqlUnitOfWorkFactory(engine)
    finally:
        await engine.dispose()
