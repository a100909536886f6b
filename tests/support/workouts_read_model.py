"""Checks of the workouts' read model (migration 0012) against the workouts themselves.

Two independent answers to compare with what the read model holds and gives:

- per range, the workouts-summary rows of the reference statement over ``workouts``
  (:func:`_workouts_summary_statement`, which the SQLite path still runs);
- the read model's whole content, worked out in Python from the workouts' rows: per
  (org, UTC day, kind) the sums, per (org, year, kind, member) the days as a bit string. A
  leftover row (zero workouts, no day) or a missing one shows up here even when no range
  happens to look at it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date
from typing import Any

import sqlalchemy as sa

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.analytics import (
    _Query,
    _workouts_read_model_statement,
    _workouts_summary_row,
    _workouts_summary_statement,
)
from fitdata_core.rules.analytics import DateRange

DayTotals = dict[tuple[str, date, str], tuple[int, int, int, int]]
MemberYears = dict[tuple[str, int, str, str], str]


def _summary(conn: sa.Connection, statement: sa.Select[Any]) -> list[dict[str, Any]]:
    return [_workouts_summary_row(r) for r in conn.execute(statement).mappings()]


def from_workouts(conn: sa.Connection, org: str, first: date, last: date) -> list[dict[str, Any]]:
    """The tab's rows from the reference statement over ``workouts``."""
    return _summary(
        conn, _workouts_summary_statement(_Query(org, DateRange(first, last), "postgresql"))
    )


def from_read_model(conn: sa.Connection, org: str, first: date, last: date) -> list[dict[str, Any]]:
    """The tab's rows from the read model, as the reader computes them on Postgres."""
    q = _Query(org, DateRange(first, last), "postgresql")
    return _summary(conn, _workouts_read_model_statement(q))


def expected_read_model(workouts: list[dict[str, Any]]) -> tuple[DayTotals, MemberYears]:
    """What the read model must hold for these workouts (rows as ``workouts`` columns)."""
    totals: dict[tuple[str, date, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    days: dict[tuple[str, int, str, str], set[int]] = defaultdict(set)
    for w in workouts:
        day = w["performed_at"].astimezone(UTC).date()
        found = totals[w["organization_id"], day, w["kind"]]
        found[0] += 1
        if w["duration_minutes"] is not None:
            found[1] += w["duration_minutes"]
            found[2] += 1
        found[3] += w["calories"] or 0
        key = (w["organization_id"], day.year, w["kind"], w["user_id"])
        days[key].add(day.timetuple().tm_yday)
    member_years = {
        key: "".join("1" if i + 1 in set_days else "0" for i in range(366))
        for key, set_days in days.items()
    }
    return {key: (a, b, c, d) for key, (a, b, c, d) in totals.items()}, member_years


def actual_read_model(conn: sa.Connection) -> tuple[DayTotals, MemberYears]:
    """What the read model holds."""
    m = t.workout_member_years.c
    totals = {
        (r.organization_id, r.day, r.kind): (r.workouts, r.minutes, r.timed, r.calories)
        for r in conn.execute(sa.select(t.workout_day_totals))
    }
    # The bits as text, '0'/'1' from the left: the layout the triggers and the masks share.
    bits = sa.cast(m.days, sa.Text).label("days")
    member_years = {
        (r.organization_id, r.year, r.kind, r.user_id): r.days
        for r in conn.execute(sa.select(m.organization_id, m.year, m.kind, m.user_id, bits))
    }
    return totals, member_years


def all_workouts(conn: sa.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sa.select(t.workouts)).mappings()]
