"""The packaged migrations build exactly the schema ``tables.py`` describes, on both backends."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url

from fitdata_adapters.db import migrate
from fitdata_adapters.db.engine import create_sync_engine
from fitdata_adapters.db.tables import schema_metadata

pytestmark = pytest.mark.integration


def _table_names(url: str) -> set[str]:
    engine = create_sync_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_builds_the_schema_of_tables_py(empty_db_url: str) -> None:
    assert migrate.current_revision(empty_db_url) is None
    migrate.upgrade(empty_db_url)
    assert migrate.current_revision(empty_db_url) == migrate.head_revision()
    # Postgres has the workouts' read model too (migration 0012); SQLite has no such tables.
    expected = schema_metadata(make_url(empty_db_url).get_backend_name()).tables
    assert _table_names(empty_db_url) == {*expected, "alembic_version"}
    # The `alembic check` of this project: nothing to autogenerate.
    assert migrate.schema_differences(empty_db_url) == []


def test_upgrade_is_idempotent(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    migrate.upgrade(empty_db_url)
    assert migrate.current_revision(empty_db_url) == migrate.head_revision()


def test_the_check_notices_drift(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    engine = create_sync_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP INDEX ix_outbox_delivered_at_created_at"))
    finally:
        engine.dispose()
    differences = migrate.schema_differences(empty_db_url)
    assert [d[0] for d in differences] == ["add_index"]
    assert differences[0][1].name == "ix_outbox_delivered_at_created_at"


def test_downgrade_to_base_and_back(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    engine = create_sync_engine(empty_db_url, foreign_keys=False)
    try:
        with engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), "base")
    finally:
        engine.dispose()
    assert _table_names(empty_db_url) <= {"alembic_version"}
    migrate.upgrade(empty_db_url)
    assert migrate.schema_differences(empty_db_url) == []


def test_concurrent_upgrades_on_postgres_serialise(empty_pg_url: str) -> None:
    # Every API and worker process migrates at start-up; they must not trip over each other.
    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(migrate.upgrade, empty_pg_url) for _ in range(4)]:
            future.result(timeout=120)
    assert migrate.current_revision(empty_pg_url) == migrate.head_revision()
    assert migrate.schema_differences(empty_pg_url) == []
