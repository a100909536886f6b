"""Statistics after bulk writes: ``analyze_tables`` runs ``ANALYZE`` on Postgres (and nothing
on SQLite), and the demo seeding analyses every table it filled."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fitdata_adapters.bootstrap import bootstrap
from fitdata_adapters.cli.runtime import NoPaymentGateway
from fitdata_adapters.db import tables
from fitdata_adapters.db.engine import create_engine, create_sync_engine
from fitdata_adapters.db.maintenance import analyze_statement, analyze_tables
from fitdata_adapters.db.migrate import upgrade
from fitdata_adapters.demo.seed import SEEDED_TABLES, seed_demo
from fitdata_adapters.settings import Settings

pytestmark = pytest.mark.integration

AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def migrated_pg(empty_pg_url: str) -> str:
    """A brand-new migrated database: no table has been analysed by hand yet."""
    upgrade(empty_pg_url)
    return empty_pg_url


def _last_analyzed(url: str, column: str = "last_analyze") -> dict[str, bool]:
    """Table name -> whether a manual ``ANALYZE`` (or ``VACUUM`` with ``last_vacuum``) has
    run on it (autovacuum's own runs are ``last_auto...`` and do not count)."""
    assert column in ("last_analyze", "last_vacuum")
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT relname, {column} IS NOT NULL FROM pg_stat_user_tables"  # noqa: S608
        ).fetchall()
    return dict(rows)


def test_the_statement_quotes_names_and_exists_only_on_postgres() -> None:
    odd = sa.Table("Odd Name", sa.MetaData(), sa.Column("id", sa.Integer))
    pg = postgresql.dialect()  # type: ignore[no-untyped-call]

    assert analyze_statement(pg, [tables.workouts, odd, tables.users, tables.workouts]) == (
        'ANALYZE "Odd Name", users, workouts'
    )
    assert analyze_statement(pg, []) is None
    assert analyze_statement(pg, [tables.users], vacuum=True) == "VACUUM (ANALYZE) users"
    assert analyze_statement(sqlite.dialect(), [tables.workouts]) is None  # type: ignore[no-untyped-call]


async def test_analyze_tables_sets_last_analyze_on_exactly_those_tables(migrated_pg: str) -> None:
    assert not any(_last_analyzed(migrated_pg).values())
    engine = create_engine(migrated_pg)
    try:
        await analyze_tables(engine, [tables.workouts, tables.class_bookings])
    finally:
        await engine.dispose()

    analysed = {name for name, done in _last_analyzed(migrated_pg).items() if done}
    assert analysed == {"workouts", "class_bookings"}


async def test_vacuum_also_vacuums_and_needs_the_engine(migrated_pg: str) -> None:
    engine = create_engine(migrated_pg)
    try:
        await analyze_tables(engine, [tables.workouts], vacuum=True)
        async with engine.connect() as conn:
            with pytest.raises(TypeError, match="VACUUM"):
                await analyze_tables(conn, [tables.users], vacuum=True)
    finally:
        await engine.dispose()

    assert {n for n, done in _last_analyzed(migrated_pg, "last_vacuum").items() if done} == {
        "workouts"
    }
    assert {n for n, done in _last_analyzed(migrated_pg).items() if done} == {"workouts"}


async def test_analyze_tables_inside_a_transaction_sees_its_rows(migrated_pg: str) -> None:
    engine = create_engine(migrated_pg)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                tables.organizations.insert(),
                [
                    {
                        "id": f"org-{i}",
                        "name": f"Gym {i}",
                        "platform_tier": "lite",
                        "created_at": AT,
                    }
                    for i in range(50)
                ],
            )
            await analyze_tables(conn, [tables.organizations])
    finally:
        await engine.dispose()

    with psycopg.connect(migrated_pg) as conn:
        row = conn.execute(
            "SELECT reltuples FROM pg_class WHERE relname = 'organizations'"
        ).fetchone()
    assert row is not None
    assert row[0] == 50


async def test_analyze_tables_does_nothing_on_sqlite(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        await analyze_tables(engine, [tables.workouts])
        async with engine.connect() as conn:
            # SQLite keeps statistics in sqlite_stat1 only once ANALYZE has run.
            found = await conn.scalar(
                sa.text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            )
    finally:
        await engine.dispose()
    assert found == 0


@pytest.fixture
def demo_settings(migrated_pg: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "FITDATA_MODE": "embedded",
            "FITDATA_DATABASE_URL": migrated_pg,
            "FITDATA_DATA_DIR": str(tmp_path / "var"),
        }
    )


async def test_demo_seeding_analyses_every_table_it_filled(demo_settings: Settings) -> None:
    url = demo_settings.database_url
    assert not any(_last_analyzed(url).values())
    runtime = bootstrap(demo_settings, payment_gateway=NoPaymentGateway())
    try:
        await seed_demo(runtime, member_count=12)
    finally:
        await runtime.aclose()

    analysed = _last_analyzed(url)
    assert {table.name for table in SEEDED_TABLES} <= {n for n, done in analysed.items() if done}
    # And the list is complete: every table that now holds rows was analysed.
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn:
            filled = {
                table.name
                for table in tables.schema_metadata("postgresql").sorted_tables
                if conn.scalar(sa.select(sa.exists().select_from(table)))
            }
    finally:
        engine.dispose()
    assert filled
    assert filled <= {table.name for table in SEEDED_TABLES}
