"""``workouts-summary`` on Postgres: the workouts query and the read model, side by side.

On a database at revision 0012 or later (a migrated copy of a ``bench/api.py
--keep-database`` seeding, say), for the gym with the most workouts: each range's two
statements run alternately ``--rounds`` times in one session, each in a read-only transaction
as :class:`~fitdata_adapters.db.analytics.SqlAnalyticsReader` runs them (the workouts query
after its ``SET LOCAL``), and the medians and minimums of the wall time to the last row are
printed. The two must return the same rows (asserted). ``--explain`` prints ``EXPLAIN
(ANALYZE, BUFFERS)`` of both for the first range.

    uv run python bench/workouts_summary.py postgresql://postgres@127.0.0.1/fitdata_copy
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fitdata_adapters.db import tables
from fitdata_adapters.db.analytics import (
    _Query,
    _stream_from_org_index,
    _workouts_read_model_statement,
    _workouts_summary_statement,
)
from fitdata_adapters.db.engine import create_engine, read_only
from fitdata_core.rules.analytics import DateRange

# The default range on the seeding's last day (one calendar year), a year across New Year,
# and a month.
RANGES = (
    (date(2026, 1, 1), date(2026, 12, 3)),
    (date(2025, 12, 4), date(2026, 12, 3)),
    (date(2026, 3, 1), date(2026, 3, 31)),
)


async def _timed(engine: AsyncEngine, statement: sa.Select[Any], old: bool) -> tuple[float, Any]:
    started = time.perf_counter()
    async with engine.connect() as conn:  # the pool's connection, as the reader takes it
        await read_only(conn)
        if old:
            await _stream_from_org_index(conn)
        rows = (await conn.execute(statement)).all()
    return (time.perf_counter() - started) * 1000, rows


async def _explain(conn: AsyncConnection, statement: sa.Select[Any], old: bool) -> str:
    compiled = statement.compile(dialect=conn.dialect)
    async with conn.begin():
        if old:
            await _stream_from_org_index(conn)
        result = await conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), compiled.params
        )
        return "\n".join(row[0] for row in result)


async def main(url: str, rounds: int, explain: bool) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            w = tables.workouts.c
            busiest = await conn.execute(
                sa.select(w.organization_id, sa.func.count())
                .group_by(w.organization_id)
                .order_by(sa.func.count().desc())
                .limit(1)
            )
            org_id, workouts = busiest.one()
            await conn.rollback()
            print(f"gym {org_id}: {workouts} workouts; {rounds} alternating rounds per range")
            for first, last in RANGES:
                q = _Query(str(org_id), DateRange(first, last), "postgresql")
                old_statement = _workouts_summary_statement(q)
                new_statement = _workouts_read_model_statement(q)
                old_ms, new_ms = [], []
                for _ in range(rounds):
                    ms, old_rows = await _timed(engine, old_statement, old=True)
                    old_ms.append(ms)
                    ms, new_rows = await _timed(engine, new_statement, old=False)
                    new_ms.append(ms)
                    assert [tuple(r) for r in new_rows] == [tuple(r) for r in old_rows]
                print(
                    f"{first}..{last}: workouts query median {statistics.median(old_ms):.1f} ms"
                    f" (min {min(old_ms):.1f}), read model median"
                    f" {statistics.median(new_ms):.1f} ms (min {min(new_ms):.1f})"
                )
            if explain:
                q = _Query(str(org_id), DateRange(*RANGES[0]), "postgresql")
                for old, statement in (
                    (True, _workouts_summary_statement(q)),
                    (False, _workouts_read_model_statement(q)),
                ):
                    print(f"\n--- {'workouts query' if old else 'read model'} ---")
                    print(await _explain(conn, statement, old))
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="a Postgres database at revision 0012 or later")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.rounds, args.explain))
