"""The SQL analytics reader computes every tab's exact figures, on SQLite and on Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from analytics_seed import ORG, OTHER_ORG, seed, seed_empty_org
from sqlalchemy.engine import make_url

from fitdata_adapters.db import tables
from fitdata_adapters.db.analytics import SqlAnalyticsReader
from fitdata_adapters.db.engine import create_engine
from fitdata_core.errors import DatabaseUnavailable, InvalidInput
from fitdata_core.rules.analytics import TAB_COLUMNS, AnalyticsTab
from support.services import free_port

pytestmark = pytest.mark.integration

START, END = date(2026, 1, 1), date(2026, 3, 31)
D = Decimal


@pytest.fixture(params=["sqlite", "postgres"])
async def reader_and_engine(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[SqlAnalyticsReader, Any]]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "clean_pg_url")
    engine = create_engine(url)
    try:
        yield SqlAnalyticsReader(engine), engine
    finally:
        await engine.dispose()


@pytest.fixture
async def reader(reader_and_engine: tuple[SqlAnalyticsReader, Any]) -> SqlAnalyticsReader:
    analytics, engine = reader_and_engine
    await seed(engine)
    return analytics


async def _tab(reader: SqlAnalyticsReader, tab: AnalyticsTab) -> list[dict[str, Any]]:
    rows = await reader.rows(ORG, tab.value, start=START, end=END)
    keys = [c.key for c in TAB_COLUMNS[tab]]
    assert all(list(r) == keys for r in rows), "rows must be keyed in column order"
    return rows


def _values(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in rows]


async def test_revenue_summary(reader: SqlAnalyticsReader) -> None:
    rows = await _tab(reader, AnalyticsTab.REVENUE_SUMMARY)
    assert _values(rows) == [
        ("ILS", D("400.40"), 3, D("133.47"), 2, D("50.00")),
        ("USD", D("10.00"), 1, D("10.00"), 1, D("0.00")),
    ]
    assert all(isinstance(v, Decimal) for v in (rows[0]["totalRevenue"], rows[0]["averagePayment"]))


async def test_revenue_trend(reader: SqlAnalyticsReader) -> None:
    assert _values(await _tab(reader, AnalyticsTab.REVENUE_TREND)) == [
        ("2026-01", "ILS", D("300.30"), 2),
        ("2026-01", "USD", D("0.00"), 0),
        ("2026-02", "ILS", D("0.00"), 0),
        ("2026-02", "USD", D("10.00"), 1),
        ("2026-03", "ILS", D("100.10"), 1),
        ("2026-03", "USD", D("0.00"), 0),
    ]


async def test_plan_distribution(reader: SqlAnalyticsReader) -> None:
    assert _values(await _tab(reader, AnalyticsTab.PLAN_DISTRIBUTION)) == [
        ("Monthly", 2, D("50.00")),
        ("Annual", 1, D("25.00")),
        ("No plan", 1, D("25.00")),
    ]


async def test_members_summary(reader: SqlAnalyticsReader) -> None:
    assert _values(await _tab(reader, AnalyticsTab.MEMBERS_SUMMARY)) == [(5, 4, 0, 1, 0, 4)]


async def test_members_growth(reader: SqlAnalyticsReader) -> None:
    assert _values(await _tab(reader, AnalyticsTab.MEMBERS_GROWTH)) == [
        ("2026-01", 1, 2),
        ("2026-02", 2, 4),
        ("2026-03", 1, 5),
    ]


async def test_popular_classes(reader: SqlAnalyticsReader) -> None:
    assert _values(await _tab(reader, AnalyticsTab.POPULAR_CLASSES)) == [
        ("HIIT", 1, 5, 4),
        ("Yoga", 2, 5, 3),
        ("Open gym", 1, 3, 3),
    ]


async def test_class_utilization(reader: SqlAnalyticsReader) -> None:
    assert _values(await _tab(reader, AnalyticsTab.CLASS_UTILIZATION)) == [
        ("2026-01", 2, 15, 8, D("53.33")),
        ("2026-02", 1, 10, 2, D("20.00")),
    ]


async def test_workouts_summary(reader: SqlAnalyticsReader) -> None:
    assert _values(await _tab(reader, AnalyticsTab.WORKOUTS_SUMMARY)) == [
        ("run", 3, 2, 75, D("37.50"), 500),
        ("strength", 1, 1, 60, D("60.00"), 400),
    ]


async def test_a_one_day_range_includes_the_whole_day(reader: SqlAnalyticsReader) -> None:
    day = date(2026, 3, 31)
    rows = await reader.rows(ORG, "revenue-summary", start=day, end=day)
    assert _values(rows) == [("ILS", D("100.10"), 1, D("100.10"), 1, D("0.00"))]


async def test_an_organization_without_data(
    reader_and_engine: tuple[SqlAnalyticsReader, Any],
) -> None:
    analytics, engine = reader_and_engine
    await seed_empty_org(engine)
    expected: dict[AnalyticsTab, list[tuple[Any, ...]]] = {
        AnalyticsTab.MEMBERS_SUMMARY: [(0, 0, 0, 0, 0, 0)],
        AnalyticsTab.MEMBERS_GROWTH: [("2026-01", 0, 0), ("2026-02", 0, 0), ("2026-03", 0, 0)],
    }
    for tab in AnalyticsTab:
        assert _values(await _tab(analytics, tab)) == expected.get(tab, []), tab


async def test_unknown_tab_is_invalid_input(reader: SqlAnalyticsReader) -> None:
    with pytest.raises(InvalidInput):
        await reader.rows(ORG, "revenue", start=START, end=END)


async def test_an_unreachable_database_is_database_unavailable() -> None:
    # Nothing listens on a port that was free a moment ago: the connection is refused.
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/fitdata")
    try:
        with pytest.raises(DatabaseUnavailable):
            await SqlAnalyticsReader(engine).rows(ORG, "revenue-summary", start=START, end=END)
    finally:
        await engine.dispose()


async def test_postgres_buckets_months_in_utc_whatever_the_session_time_zone(
    clean_pg_url: str,
) -> None:
    # 2026-03-31 23:59:59 UTC is already April in Jerusalem; it must stay in March.
    url = make_url(clean_pg_url).update_query_dict({"options": "-c timezone=Asia/Jerusalem"})
    engine = create_engine(url)
    try:
        await seed(engine)
        async with engine.connect() as conn:
            assert await conn.scalar(sa.text("SHOW timezone")) == "Asia/Jerusalem"
        rows = await SqlAnalyticsReader(engine).rows(
            ORG, "revenue-trend", start=date(2026, 3, 1), end=date(2026, 3, 31)
        )
    finally:
        await engine.dispose()
    assert _values(rows) == [("2026-03", "ILS", D("100.10"), 1)]


async def _insert(engine: Any, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(table.insert(), rows)


async def test_another_orgs_bookings_do_not_change_an_orgs_figures(
    reader_and_engine: tuple[SqlAnalyticsReader, Any],
) -> None:
    analytics, engine = reader_and_engine
    await seed(engine)
    before = {
        tab: await _tab(analytics, tab)
        for tab in (AnalyticsTab.POPULAR_CLASSES, AnalyticsTab.CLASS_UTILIZATION)
    }
    # Another gym's bookings, among them rows that name this org's sessions (a stray
    # import, a bug elsewhere): they are the other org's, so they must not count here.
    stray = [
        {
            "id": f"other-{session}-{i}",
            "session_id": session,
            "organization_id": OTHER_ORG,
            "user_id": "x1",
            "status": "attended",
            "booked_at": datetime(2026, 1, 2, tzinfo=UTC),
        }
        for session in ("s1", "s2", "s3", "s4", "sx")
        for i in range(3)
    ]
    await _insert(engine, tables.class_bookings, stray)

    for tab, rows in before.items():
        assert await _tab(analytics, tab) == rows, tab
    assert _values(before[AnalyticsTab.POPULAR_CLASSES]) == [
        ("HIIT", 1, 5, 4),
        ("Yoga", 2, 5, 3),
        ("Open gym", 1, 3, 3),
    ]


async def test_another_orgs_plan_never_names_an_orgs_members_plan(
    reader_and_engine: tuple[SqlAnalyticsReader, Any],
) -> None:
    analytics, engine = reader_and_engine
    await seed(engine)
    foreign = {
        "id": "plan-foreign",
        "organization_id": OTHER_ORG,
        "name": "Other gym's secret plan",
        "kind": "membership",
        "price_amount": D("1.00"),
        "price_currency": "ILS",
        "session_count": None,
        "validity_days": 30,
        "is_active": True,
        "external_id": None,
        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    await _insert(engine, tables.plans, [foreign])
    async with engine.begin() as conn:
        await conn.execute(
            tables.memberships.update()
            .where(tables.memberships.c.id == "m4")
            .values(plan_id="plan-foreign")
        )

    assert _values(await _tab(analytics, AnalyticsTab.PLAN_DISTRIBUTION)) == [
        ("Monthly", 2, D("50.00")),
        ("Annual", 1, D("25.00")),
        ("No plan", 1, D("25.00")),
    ]
