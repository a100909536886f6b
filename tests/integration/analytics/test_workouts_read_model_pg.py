"""The workouts' read model (migration 0012) gives the figures the workouts give, on Postgres.

Generated workouts of three gyms sharing members and kinds, from mid-December 2023 to early
January 2025, so ranges cross two New Years and a leap year (2024-02-29, and 2024-12-31 as
day 366); plus workouts on each edge day, in the first and last second of it. For each range
the reader's answer (which on Postgres reads the read model) is compared with the reference
statement over ``workouts``, and the read model's whole content with what Python works out
from the rows.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from analytics_seed import _org, _user, _workout

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.analytics import SqlAnalyticsReader, year_masks
from fitdata_adapters.db.engine import create_engine, create_sync_engine
from fitdata_core.rules.analytics import DateRange
from support.workouts_read_model import (
    actual_read_model,
    expected_read_model,
    from_read_model,
    from_workouts,
)

pytestmark = pytest.mark.integration

ORG, OTHERS = "gym-a", ("gym-b", "gym-c")
KINDS = ("run", "strength", "yoga", "cycling", "swim")
MEMBERS = 300
FIRST_DAY = datetime(2023, 12, 20, tzinfo=UTC)
DAYS = 388  # to 2025-01-10

EDGE_DAYS = (
    date(2023, 12, 31),
    date(2024, 1, 1),
    date(2024, 2, 28),
    date(2024, 2, 29),
    date(2024, 3, 1),
    date(2024, 12, 30),
    date(2024, 12, 31),  # day 366
    date(2025, 1, 1),
)

RANGES = (
    (date(2023, 12, 25), date(2024, 1, 5)),  # across New Year
    (date(2024, 12, 20), date(2025, 1, 10)),  # across New Year from a leap year's end
    (date(2023, 12, 30), date(2025, 1, 2)),  # three years: 2024 whole in between
    (date(2024, 1, 1), date(2024, 12, 31)),  # a whole (leap) year
    (date(2024, 2, 1), date(2024, 3, 31)),  # over the leap day
    (date(2024, 2, 29), date(2024, 2, 29)),  # the leap day alone
    (date(2024, 12, 31), date(2024, 12, 31)),  # day 366 alone
    (date(2024, 1, 1), date(2024, 1, 1)),  # a year's first day
    (date(2023, 12, 31), date(2023, 12, 31)),  # a year's last day (day 365)
    (date(2025, 1, 1), date(2025, 1, 1)),
    (date(2024, 6, 10), date(2024, 6, 30)),
    (date(2022, 3, 1), date(2022, 12, 31)),  # nothing in it, a year with no rows at all
    (date(2024, 7, 4), date(2024, 7, 4)),  # nothing in it, inside a year with rows
)
EMPTY_DAY = date(2024, 7, 4)


def _member(n: int) -> str:
    return f"{n:08d}-0000-4000-8000-000000000000"


def _generated_workouts() -> list[dict[str, Any]]:
    rng = random.Random(20240229)
    rows = []
    for n in range(6_000):
        org = ORG if n % 3 else rng.choice(OTHERS)
        at = FIRST_DAY + timedelta(seconds=rng.randrange(DAYS * 86_400))
        if at.date() == EMPTY_DAY:
            continue
        rows.append(
            _workout(
                f"w{n}",
                _member(rng.randrange(MEMBERS)),
                rng.choice(KINDS),
                at,
                rng.choice((None, *range(10, 120, 7))),
                rng.choice((None, *range(50, 900, 37))),
                org=org,
            )
        )
    # The first and last second of each edge day, and a second outside each side, by the same
    # member (one bit, several workouts) and in another gym.
    for i, day in enumerate(EDGE_DAYS):
        lo = datetime.combine(day, datetime.min.time(), UTC)
        for j, at in enumerate((lo, lo + timedelta(days=1, seconds=-1))):
            for org in (ORG, OTHERS[0]):
                rows.append(_workout(f"edge{i}-{j}-{org}", _member(i), "edge", at, 30, 300, org))
    return rows


@pytest.fixture(scope="module")
def workouts_rows() -> list[dict[str, Any]]:
    return _generated_workouts()


@pytest.fixture
def loaded(clean_pg_url: str, workouts_rows: list[dict[str, Any]]) -> Iterator[sa.Engine]:
    engine = create_sync_engine(clean_pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(t.organizations.insert(), [_org(o) for o in (ORG, *OTHERS)])
            conn.execute(t.users.insert(), [_user(_member(i)) for i in range(MEMBERS)])
            # Two statements: the second adds to day totals and member-years the first made.
            half = len(workouts_rows) // 2
            conn.execute(t.workouts.insert(), workouts_rows[:half])
            conn.execute(t.workouts.insert(), workouts_rows[half:])
        yield engine
    finally:
        engine.dispose()


def test_the_masks_set_the_range_days_of_each_year() -> None:
    masks = dict(year_masks(DateRange(date(2023, 12, 30), date(2025, 1, 2))))
    assert masks[2023] == "0" * 363 + "11" + "0"
    assert masks[2024] == "1" * 366
    assert masks[2025] == "11" + "0" * 364
    (leap,) = year_masks(DateRange(date(2024, 2, 29), date(2024, 2, 29)))
    assert leap == (2024, "0" * 59 + "1" + "0" * 306)
    (last,) = year_masks(DateRange(date(2024, 12, 31), date(2024, 12, 31)))
    assert last == (2024, "0" * 365 + "1")


def test_the_read_model_gives_the_workouts_figures(loaded: sa.Engine) -> None:
    with loaded.connect() as conn:
        for first, last in RANGES:
            for org in (ORG, *OTHERS):
                expected = from_workouts(conn, org, first, last)
                assert from_read_model(conn, org, first, last) == expected, (org, first, last)
            if first.year != 2022 and first != EMPTY_DAY:
                assert expected, (first, last)
        assert from_workouts(conn, ORG, EMPTY_DAY, EMPTY_DAY) == []
        assert from_workouts(conn, ORG, date(2022, 3, 1), date(2022, 12, 31)) == []
        # Day 366 and the leap day are counted: the edge member's workouts show there.
        assert {
            r["kind"] for r in from_read_model(conn, ORG, date(2024, 12, 31), date(2024, 12, 31))
        } >= {"edge"}


def test_the_read_model_holds_exactly_what_the_workouts_say(
    loaded: sa.Engine, workouts_rows: list[dict[str, Any]]
) -> None:
    with loaded.connect() as conn:
        assert actual_read_model(conn) == expected_read_model(workouts_rows)


async def test_the_reader_answers_from_the_read_model(loaded: sa.Engine) -> None:
    url = loaded.url.render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        reader = SqlAnalyticsReader(engine)
        for first, last in RANGES:
            rows = await reader.rows(ORG, "workouts-summary", start=first, end=last)
            with loaded.connect() as conn:
                assert rows == from_workouts(conn, ORG, first, last), (first, last)
        # The reader reads the read model, not the workouts: emptied behind the triggers'
        # back, it answers nothing (the check that the Postgres path is the read model).
        with loaded.begin() as conn:
            conn.execute(sa.text("DELETE FROM workout_day_totals"))
        assert (
            await reader.rows(ORG, "workouts-summary", start=RANGES[3][0], end=RANGES[3][1]) == []
        )
    finally:
        await engine.dispose()
