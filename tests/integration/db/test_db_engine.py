"""Engine set-up, error translation and SQLite's behaviour with several writers."""

from __future__ import annotations

import asyncio
import gc
from datetime import timedelta, timezone
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from fitdata_adapters.db import migrate
from fitdata_adapters.db.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    create_engine,
    normalize_url,
    sync_url,
)
from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
from fitdata_core.errors import Conflict, DatabaseUnavailable
from support import builders
from support.databases import create_database, drop_database, unique_database_name
from support.services import free_port

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("given", "async_form", "sync_form"),
    [
        (
            "postgresql://u:p%40ss@db:5432/fit",
            "postgresql+psycopg://u:p%40ss@db:5432/fit",
            "postgresql+psycopg://u:p%40ss@db:5432/fit",
        ),
        ("postgres://u@db/fit", "postgresql+psycopg://u@db/fit", "postgresql+psycopg://u@db/fit"),
        (
            "postgresql+psycopg://db/fit",
            "postgresql+psycopg://db/fit",
            "postgresql+psycopg://db/fit",
        ),
        ("sqlite:///data/fit.db", "sqlite+aiosqlite:///data/fit.db", "sqlite:///data/fit.db"),
        (
            "sqlite+aiosqlite:////abs/fit.db",
            "sqlite+aiosqlite:////abs/fit.db",
            "sqlite:////abs/fit.db",
        ),
    ],
)
def test_urls_are_mapped_to_our_drivers(given: str, async_form: str, sync_form: str) -> None:
    assert normalize_url(given) == async_form
    assert sync_url(given) == sync_form


async def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            pragmas = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            }
    finally:
        await engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
        "foreign_keys": 1,
    }


async def test_concurrent_sqlite_writers_serialise_without_lost_updates(sqlite_url: str) -> None:
    # Embedded mode: the API and an in-process worker write one file at the same time. Each
    # read-modify-write must wait its turn (BEGIN IMMEDIATE), not fail or lose an update.
    engine = create_engine(sqlite_url)
    uow_factory = SqlUnitOfWorkFactory(engine)
    org = builders.organization()
    async with uow_factory() as uow:
        await uow.organizations.add(org)
        await uow.subscriptions.save(builders.subscription(org.id))
        await uow.commit()

    async def bump() -> None:
        async with uow_factory() as uow:
            sub = await uow.subscriptions.get_by_org_for_update(org.id)
            assert sub is not None
            await asyncio.sleep(0)  # let the other writers pile up meanwhile
            await uow.subscriptions.save(
                attrs.evolve(sub, failed_payment_count=sub.failed_payment_count + 1)
            )
            await uow.commit()

    try:
        await asyncio.gather(*(bump() for _ in range(25)))
        async with uow_factory() as uow:
            final = await uow.subscriptions.get_by_org(org.id)
    finally:
        await engine.dispose()
    assert final is not None
    assert final.failed_payment_count == 25


async def test_sql_datetimes_come_back_in_utc(migrated_db_url: str) -> None:
    engine = create_engine(migrated_db_url)
    uow_factory = SqlUnitOfWorkFactory(engine)
    org = builders.organization(created_at=builders.T0.astimezone(timezone(timedelta(hours=-5))))
    try:
        async with uow_factory() as uow:
            await uow.organizations.add(org)
            await uow.commit()
        async with uow_factory() as uow:
            found = await uow.organizations.get(org.id)
    finally:
        await engine.dispose()
    assert found is not None
    assert found.created_at.utcoffset() == timedelta(0)
    assert found.created_at == builders.T0


async def test_postgres_datetimes_are_utc_whatever_the_session_time_zone(
    postgres_server_url: str,
) -> None:
    name = unique_database_name("fitdata_tz")
    url = create_database(postgres_server_url, name)
    try:
        migrate.upgrade(url)
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"ALTER DATABASE {name} SET timezone TO 'Asia/Jerusalem'"))
        await engine.dispose()  # new connections pick the database default up
        uow_factory = SqlUnitOfWorkFactory(engine)
        async with uow_factory() as uow:
            await uow.organizations.add(builders.organization(id="tz-org"))
            await uow.commit()
        async with uow_factory() as uow:
            found = await uow.organizations.get("tz-org")
        await engine.dispose()
    finally:
        drop_database(postgres_server_url, name)
    assert found is not None
    assert found.created_at.utcoffset() == timedelta(0)
    assert found.created_at == builders.T0


async def test_unique_violation_becomes_a_conflict_naming_what_clashed(
    migrated_db_url: str,
) -> None:
    engine = create_engine(migrated_db_url)
    uow_factory = SqlUnitOfWorkFactory(engine)
    try:
        async with uow_factory() as uow:
            await uow.users.add(builders.user(email="dana@example.com"))
            await uow.commit()
        async with uow_factory() as uow:
            with pytest.raises(Conflict) as caught:
                await uow.users.add(builders.user(email="Dana@Example.com"))
    finally:
        await engine.dispose()
    assert caught.value.message == "A user with this email already exists."
    assert isinstance(caught.value.__cause__, sa.exc.IntegrityError)


async def test_missing_parent_row_becomes_a_conflict(migrated_db_url: str) -> None:
    engine = create_engine(migrated_db_url)
    uow_factory = SqlUnitOfWorkFactory(engine)
    try:
        async with uow_factory() as uow:
            with pytest.raises(Conflict) as caught:
                await uow.plans.add(builders.plan("no-such-org"))
    finally:
        await engine.dispose()
    assert caught.value.message == "The change refers to a record that does not exist."


async def test_unreachable_postgres_is_database_unavailable() -> None:
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        with pytest.raises(DatabaseUnavailable):
            async with SqlUnitOfWorkFactory(engine)():
                pass
    finally:
        await engine.dispose()


async def test_unopenable_sqlite_file_is_database_unavailable(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'fit.db'}")
    try:
        with pytest.raises(DatabaseUnavailable):
            async with SqlUnitOfWorkFactory(engine)():
                pass
    finally:
        await engine.dispose()
        # aiosqlite leaves the half-opened connection in a reference cycle; collect it while
        # the loop is alive so its worker thread stops cleanly (omnilib/aiosqlite#241).
        gc.collect()
        await asyncio.sleep(0.05)


def test_migrating_an_unreachable_database_is_database_unavailable() -> None:
    with pytest.raises(DatabaseUnavailable):
        migrate.upgrade(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")


async def test_a_dead_pooled_connection_fails_one_unit_of_work_then_the_pool_reconnects(
    clean_pg_url: str,
) -> None:
    """The pool does not ping before lending a connection (a round trip per unit of work).
    A connection Postgres killed meanwhile fails its unit of work as ``DatabaseUnavailable``
    (503), never an unhandled driver error; the pool is then discarded and the next unit of
    work connects afresh."""
    engine = create_engine(clean_pg_url, pool_size=2)
    factory = SqlUnitOfWorkFactory(engine)
    org = builders.organization()
    try:
        async with factory() as uow:
            await uow.organizations.add(org)
            await uow.commit()
        async with factory(read_only=True) as uow:
            assert await uow.organizations.get(org.id) == org
        other = create_engine(clean_pg_url)
        try:
            async with other.connect() as killer:
                # Every other backend of this database: the pooled connection above.
                killed = await killer.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
                assert killed.scalars().all() == [True]
        finally:
            await other.dispose()
        with pytest.raises(DatabaseUnavailable):  # the dead connection: one 503, no 500
            async with factory(read_only=True) as uow:
                await uow.organizations.get(org.id)
        for _ in range(3):  # then every unit of work gets a live connection
            async with factory(read_only=True) as uow:
                assert await uow.organizations.get(org.id) == org
    finally:
        await engine.dispose()
