"""``workouts-summary`` on Postgres over many rows: the same figures as ``COUNT(DISTINCT)``
gave, another gym's rows never count, and nothing spills to disk even at the smallest
``work_mem``.

The hand-worked figures live in ``test_sql_analytics.py``; here a few thousand generated
workouts (three gyms sharing members, kinds and days; untimed and calorie-less ones; rows a
second either side of the range) are checked against the earlier query, kept below as the
reference, and against a count made in Python. On Postgres the reader answers from the read
model of migration 0012 (``test_workouts_read_model_pg.py`` checks it at the year's edges);
the plan test below concerns the statement over ``workouts``, which SQLite runs and the read
model is checked against.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from analytics_seed import _org, _user, _workout
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.analytics import (
    SqlAnalyticsReader,
    _Query,
    _stream_from_org_index,
    _workouts_summary_statement,
)
from fitdata_adapters.db.engine import create_engine
from fitdata_core.rules.analytics import DateRange, ratio

pytestmark = pytest.mark.integration

ORG, OTHERS = "gym-a", ("gym-b", "gym-c")
KINDS = ("run", "strength", "yoga", "cycling", "swim", "hiit", "rowing")
MEMBERS = 600


def _member(n: int) -> str:
    """A user id as long as the service's UUIDs: the distinct sort's memory follows it."""
    return f"{n:08d}-0000-4000-8000-000000000000"


# The smallest work_mem Postgres accepts: the earlier query's distinct sort spills here.
TINY_WORK_MEM = "64kB"
RANGES = (
    (date(2025, 12, 3), date(2026, 12, 2)),  # the default range on 2026-12-02
    (date(2026, 3, 1), date(2026, 3, 31)),
    (date(2026, 6, 15), date(2026, 6, 15)),  # one day, its first and last second included
    (date(2024, 1, 1), date(2024, 12, 31)),  # nothing in it
)


def _old_statement(q: _Query) -> sa.Select[Any]:
    """The query before the two-level aggregate, the reference for the figures."""
    w = t.workouts.c
    count = sa.func.count()
    return (
        sa.select(
            w.kind,
            count.label("workouts"),
            sa.func.count(sa.distinct(w.user_id)).label("members"),
            sa.func.sum(w.duration_minutes).label("minutes"),
            sa.func.count(w.duration_minutes).label("timed"),
            sa.func.sum(w.calories).label("calories"),
        )
        .where(w.organization_id == q.org_id, q.in_range(w.performed_at))
        .group_by(w.kind)
        .order_by(count.desc(), w.kind)
    )


def _generated_workouts() -> list[dict[str, Any]]:
    rng = random.Random(20261202)
    start = datetime(2025, 11, 1, tzinfo=UTC)
    rows = []
    for n in range(12_000):
        org = ORG if n % 3 else rng.choice(OTHERS)
        at = start + timedelta(seconds=rng.randrange(400 * 86_400))
        rows.append(
            _workout(
                f"w{n}",
                _member(rng.randrange(MEMBERS)),  # the same people train at several gyms
                rng.choice(KINDS[:5]) if org == ORG else rng.choice(KINDS),
                at,
                rng.choice((None, *range(10, 120, 7))),
                rng.choice((None, *range(50, 900, 37))),
                org=org,
            )
        )
    # A second either side of each range's bounds, in the gym and in another one.
    for i, (first, last) in enumerate(RANGES):
        lo = datetime.combine(first, datetime.min.time(), UTC)
        hi = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
        for j, at in enumerate((lo - timedelta(seconds=1), lo, hi - timedelta(seconds=1), hi)):
            rows.append(_workout(f"edge{i}-{j}", _member(j), "run", at, 30, 300, org=ORG))
            rows.append(_workout(f"edge{i}-{j}-b", _member(j), "run", at, 30, 300, org=OTHERS[0]))
    return rows


def _in_python(rows: list[dict[str, Any]], first: date, last: date) -> list[tuple[Any, ...]]:
    lo = datetime.combine(first, datetime.min.time(), UTC)
    hi = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["organization_id"] == ORG and lo <= row["performed_at"] < hi:
            by_kind[row["kind"]].append(row)
    figures = []
    for kind, found in by_kind.items():
        timed = [r["duration_minutes"] for r in found if r["duration_minutes"] is not None]
        calories = sum(r["calories"] or 0 for r in found)
        figures.append(
            (
                kind,
                len(found),
                len({r["user_id"] for r in found}),
                sum(timed),
                ratio(sum(timed), len(timed)),
                calories,
            )
        )
    return sorted(figures, key=lambda f: (-f[1], f[0]))


@pytest.fixture(scope="module")
def workouts_rows() -> list[dict[str, Any]]:
    return _generated_workouts()


@pytest.fixture
async def engine(clean_pg_url: str, workouts_rows: list[dict[str, Any]]) -> AsyncIterator[Any]:
    url = make_url(clean_pg_url).update_query_dict({"options": f"-c work_mem={TINY_WORK_MEM}"})
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(t.organizations.insert(), [_org(o) for o in (ORG, *OTHERS)])
            await conn.execute(t.users.insert(), [_user(_member(i)) for i in range(MEMBERS)])
            await conn.execute(t.workouts.insert(), workouts_rows)
        # As the demo seeding does: statistics, and a visibility map for index-only scans.
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("VACUUM (ANALYZE) workouts"))
        yield engine
    finally:
        await engine.dispose()


def _values(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in rows]


async def test_the_figures_are_the_count_distinct_ones_and_the_gyms_own(
    engine: AsyncEngine, workouts_rows: list[dict[str, Any]]
) -> None:
    reader = SqlAnalyticsReader(engine)
    for first, last in RANGES:
        rows = _values(await reader.rows(ORG, "workouts-summary", start=first, end=last))
        q = _Query(ORG, DateRange(first, last), "postgresql")
        async with engine.connect() as conn:
            old = (await conn.execute(_old_statement(q))).all()
        assert [(r[0], r[1], r[2], r[3], r[5]) for r in rows] == [
            (k, n, members, minutes or 0, calories or 0)
            for k, n, members, minutes, _, calories in old
        ], (first, last)
        assert rows == _in_python(workouts_rows, first, last), (first, last)
    # The ranges cover the gym's kinds only: another gym's kinds never show up.
    summary = await reader.rows(ORG, "workouts-summary", start=RANGES[0][0], end=RANGES[0][1])
    assert {r["kind"] for r in summary} == set(KINDS[:5])


async def test_another_gyms_workouts_do_not_change_the_figures(engine: AsyncEngine) -> None:
    reader = SqlAnalyticsReader(engine)
    first, last = RANGES[0]
    before = await reader.rows(ORG, "workouts-summary", start=first, end=last)
    # Another gym's workouts by the same people, of the same kinds, on the same days.
    stray = [
        _workout(
            f"stray{o}-{i}", _member(i), KINDS[i % 5], datetime(2026, 6, 1, tzinfo=UTC), 5, 5, org=o
        )
        for i in range(MEMBERS)
        for o in OTHERS
    ]
    async with engine.begin() as conn:
        await conn.execute(t.workouts.insert(), stray)
    assert await reader.rows(ORG, "workouts-summary", start=first, end=last) == before
    assert before, "the gym has workouts in the range"


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found.extend(_plan_nodes(child))
    return found


async def _explain(conn: AsyncConnection, statement: sa.Select[Any]) -> list[dict[str, Any]]:
    compiled = statement.compile(dialect=conn.dialect)
    raw = await conn.exec_driver_sql(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + str(compiled), compiled.params
    )
    document = raw.scalar_one()
    parsed = json.loads(document) if isinstance(document, str) else document
    return _plan_nodes(parsed[0]["Plan"])


async def test_nothing_spills_even_at_the_smallest_work_mem(engine: AsyncEngine) -> None:
    q = _Query(ORG, DateRange(*RANGES[0]), "postgresql")
    async with engine.connect() as conn:
        assert await conn.scalar(sa.text("SHOW work_mem")) == TINY_WORK_MEM
        # The check can fail: the earlier query's distinct sort writes temporary files here.
        old = await _explain(conn, _old_statement(q))
        assert sum(n.get("Temp Written Blocks", 0) for n in old) > 0
        await conn.rollback()

        await _stream_from_org_index(conn)
        nodes = await _explain(conn, _workouts_summary_statement(q))
    assert sum(n.get("Temp Written Blocks", 0) for n in nodes) == 0
    # Streaming from the org's index: no hash table, and the one sort orders the kinds only.
    assert "Hash" not in {n.get("Strategy") for n in nodes}
    assert [n["Node Type"] for n in nodes if n["Node Type"] == "Sort"] == ["Sort"]
    assert nodes[0]["Node Type"] == "Sort"
    assert nodes[0]["Actual Rows"] == len(KINDS[:5])
    assert any(
        n["Node Type"] == "Index Only Scan"
        and n["Index Name"] == "ix_workouts_organization_id_kind_user_id"
        for n in nodes
    )
