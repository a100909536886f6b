"""Migration 0012 builds the workouts' read model on Postgres from the workouts already there
(and nothing on SQLite); its downgrade takes it all away again; its rebuild function mends a
read model that writes with triggers off went past."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command

from fitdata_adapters.db import migrate
from fitdata_adapters.db import tables as t
from fitdata_adapters.db.engine import create_sync_engine
from support.workouts_read_model import (
    actual_read_model,
    expected_read_model,
    from_read_model,
    from_workouts,
)

pytestmark = pytest.mark.integration

CREATED = datetime(2023, 1, 1, tzinfo=UTC)
ORGS = ("gym-a", "gym-b")
USERS = tuple(f"user-{n}" for n in range(40))
READ_MODEL = {"workout_day_totals", "workout_member_years"}
TRIGGERS = {f"workouts_read_model_{event}" for event in ("insert", "delete", "update", "truncate")}
RANGES = (
    (date(2023, 12, 1), date(2024, 1, 31)),
    (date(2024, 2, 29), date(2024, 2, 29)),
    (date(2024, 1, 1), date(2024, 12, 31)),
    (date(2023, 12, 31), date(2025, 1, 1)),
)


def _workouts() -> list[dict[str, Any]]:
    rng = random.Random(12)
    start = datetime(2023, 12, 1, tzinfo=UTC)
    return [
        {
            "id": f"w{n}",
            "organization_id": rng.choice(ORGS),
            "user_id": rng.choice(USERS),
            "performed_at": start + timedelta(seconds=rng.randrange(420 * 86_400)),
            "kind": rng.choice(("run", "yoga", "swim")),
            "duration_minutes": rng.choice((None, 20, 45, 60)),
            "calories": rng.choice((None, 150, 400)),
        }
        for n in range(1_500)
    ]


def _fill_at_0011(url: str, rows: list[dict[str, Any]]) -> sa.Engine:
    migrate.upgrade(url, "0011")
    engine = create_sync_engine(url)
    with engine.begin() as conn:
        conn.execute(
            t.organizations.insert(),
            [{"id": o, "name": o, "platform_tier": "lite", "created_at": CREATED} for o in ORGS],
        )
        conn.execute(
            t.users.insert(),
            [
                {
                    "id": u,
                    "email": f"{u}@example.com",
                    "is_platform_admin": False,
                    "created_at": CREATED,
                }
                for u in USERS
            ],
        )
        conn.execute(t.workouts.insert(), rows)
    return engine


def _objects(url: str) -> tuple[set[str], set[str]]:
    """The read-model tables and the workouts' read-model triggers the database has."""
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            if conn.dialect.name == "postgresql":
                triggers = set(
                    conn.scalars(
                        sa.text(
                            "SELECT tgname FROM pg_trigger "
                            "WHERE tgrelid = 'workouts'::regclass AND NOT tgisinternal"
                        )
                    )
                )
            else:
                triggers = set(
                    conn.scalars(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
                )
    finally:
        engine.dispose()
    return names & READ_MODEL, triggers & TRIGGERS


def _downgrade(url: str, revision: str) -> None:
    engine = create_sync_engine(url, foreign_keys=False)
    try:
        with engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), revision)
    finally:
        engine.dispose()


def test_the_backfill_gives_the_workouts_figures_and_writes_keep_it(empty_pg_url: str) -> None:
    rows = _workouts()
    engine = _fill_at_0011(empty_pg_url, rows)
    try:
        migrate.upgrade(empty_pg_url)
        assert _objects(empty_pg_url) == (READ_MODEL, TRIGGERS)
        with engine.connect() as conn:
            assert actual_read_model(conn) == expected_read_model(rows)
            for first, last in RANGES:
                for org in ORGS:
                    expected = from_workouts(conn, org, first, last)
                    assert expected
                    assert from_read_model(conn, org, first, last) == expected
        # Statistics for what the backfill wrote.
        with psycopg.connect(empty_pg_url) as conn:
            analysed = conn.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL"
            ).fetchall()
        assert {name for (name,) in analysed} >= READ_MODEL
        # And the triggers carry on from the backfilled rows.
        with engine.begin() as conn:
            conn.execute(t.workouts.delete().where(t.workouts.c.id.in_(["w1", "w2", "w3"])))
            conn.execute(t.workouts.update().where(t.workouts.c.id == "w4").values(kind="row"))
        with engine.connect() as conn:
            remaining = [dict(r) for r in conn.execute(sa.select(t.workouts)).mappings()]
            assert actual_read_model(conn) == expected_read_model(remaining)
    finally:
        engine.dispose()


def test_the_downgrade_removes_it_and_the_upgrade_rebuilds_it(empty_pg_url: str) -> None:
    rows = _workouts()
    engine = _fill_at_0011(empty_pg_url, rows)
    try:
        migrate.upgrade(empty_pg_url)
        _downgrade(empty_pg_url, "0011")
        assert _objects(empty_pg_url) == (set(), set())
        with engine.begin() as conn:
            # Written while no trigger watched: the next upgrade's backfill must see it.
            conn.execute(t.workouts.delete().where(t.workouts.c.id == "w0"))
        migrate.upgrade(empty_pg_url)
        with engine.connect() as conn:
            assert actual_read_model(conn) == expected_read_model(rows[1:])
    finally:
        engine.dispose()


def test_sqlite_gets_nothing(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'fitdata.db'}"
    engine = _fill_at_0011(url, _workouts())
    engine.dispose()
    migrate.upgrade(url)
    assert migrate.current_revision(url) == "0012"
    assert _objects(url) == (set(), set())
    _downgrade(url, "0011")
    assert migrate.current_revision(url) == "0011"


def test_the_rebuild_function_mends_a_read_model_written_past(empty_pg_url: str) -> None:
    rows = _workouts()
    engine = _fill_at_0011(empty_pg_url, rows)
    try:
        migrate.upgrade(empty_pg_url)
        extra = {**rows[0], "id": "unseen", "performed_at": datetime(2024, 2, 29, tzinfo=UTC)}
        with engine.begin() as conn:
            # What a logical-replication apply or a trigger-less restore does: no trigger runs.
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            conn.execute(t.workouts.insert(), [extra])
        with engine.connect() as conn:
            assert actual_read_model(conn) != expected_read_model([*rows, extra])
        with engine.begin() as conn:
            written = conn.scalar(sa.text("SELECT workouts_read_model_rebuild()"))
        with engine.connect() as conn:
            day_totals, member_years = actual_read_model(conn)
            assert (day_totals, member_years) == expected_read_model([*rows, extra])
            assert written == len(day_totals)
    finally:
        engine.dispose()
