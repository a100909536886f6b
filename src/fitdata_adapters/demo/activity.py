"""A year of gym life for the analytics read models: payments, classes, bookings, workouts.

The rows are generated from a seeded random source and each member's timeline (when they
joined, which plan they pay for, when they left), so the same seed gives the same history.
The generators are pure; :func:`insert_activity` writes them with SQLAlchemy Core (the
workouts with one ``COPY`` on Postgres, for the read model's statement triggers).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from sqlalchemy.ext.asyncio import AsyncConnection

from fitdata_adapters.db import tables
from fitdata_adapters.db.repositories.base import SqlSession
from fitdata_adapters.db.repositories.pg_bulk import copy_rows
from fitdata_core.rules.analytics import ATTENDED_BOOKING, CANCELLED_BOOKING, PAID, REFUNDED

Row = dict[str, Any]

# Bookings of sessions that have not happened yet stay "booked"; past ones resolve to one of
# these outcomes with these weights.
_PAST_BOOKING_OUTCOMES = ((ATTENDED_BOOKING, 85), ("no_show", 7), (CANCELLED_BOOKING, 8))
_SELF_LOGGED_KINDS = ("strength", "running", "cardio", "swimming")
_INSERT_CHUNK = 2000


def gym_timezone() -> tzinfo:
    """Israel time; a fixed +02:00 where the system has no time-zone database."""
    try:
        return ZoneInfo("Asia/Jerusalem")
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=2), "IST")


@attrs.frozen
class PlanSpec:
    """A plan the demo gym sells; ``months`` is how often a member pays for it."""

    name: str
    price: Decimal
    months: int
    weight: int


@attrs.frozen
class ClassSpec:
    """A weekly class: ``weekday`` is Monday=0 … Sunday=6, ``popularity`` the share of
    capacity usually booked."""

    weekday: int
    start: time
    name: str
    duration_minutes: int
    capacity: int
    popularity: float


@attrs.frozen
class MemberTimeline:
    """When a member was active and what they paid for."""

    user_id: str
    plan_id: str | None
    plan: PlanSpec | None
    joined_at: datetime
    left_at: datetime | None
    # 0..1: how keen they are (booking and training frequency).
    keenness: float

    def active_at(self, when: datetime) -> bool:
        return self.joined_at <= when and (self.left_at is None or when < self.left_at)


def _row_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _add_months(when: datetime, months: int) -> datetime:
    month_index = when.month - 1 + months
    year = when.year + month_index // 12
    month = month_index % 12 + 1
    day = min(when.day, 28)
    return when.replace(year=year, month=month, day=day)


def payment_rows(
    rng: random.Random,
    org_id: str,
    members: Sequence[MemberTimeline],
    *,
    since: datetime,
    now: datetime,
) -> list[Row]:
    """A charge per billing period while the member was active; a few fail and are retried
    the next day, a few are refunded."""
    rows: list[Row] = []
    for member in members:
        if member.plan is None or member.plan_id is None:
            continue
        due = member.joined_at
        end = min(now, member.left_at) if member.left_at else now
        while due <= end:
            if due >= since:
                rows.extend(_charges(rng, org_id, member, due, now))
            due = _add_months(due, member.plan.months)
    return rows


def _charges(
    rng: random.Random, org_id: str, member: MemberTimeline, due: datetime, now: datetime
) -> list[Row]:
    assert member.plan is not None
    base = {
        "organization_id": org_id,
        "user_id": member.user_id,
        "plan_id": member.plan_id,
        "amount": member.plan.price,
        "currency": "ILS",
    }
    roll = rng.random()
    if roll < 0.04:
        retry_at = due + timedelta(days=1)
        rows = [{**base, "id": _row_id(rng), "status": "failed", "paid_at": due}]
        if retry_at <= now:
            rows.append({**base, "id": _row_id(rng), "status": PAID, "paid_at": retry_at})
        return rows
    status = REFUNDED if roll < 0.06 else PAID
    return [{**base, "id": _row_id(rng), "status": status, "paid_at": due}]


def session_rows(
    rng: random.Random,
    org_id: str,
    schedule: Sequence[ClassSpec],
    coaches: Mapping[str, str],
    location_id: str | None,
    *,
    since: datetime,
    until: datetime,
) -> list[Row]:
    """Every scheduled class between ``since`` and ``until`` (local gym time, stored UTC).
    ``coaches`` maps a class name to the coach's user id."""
    zone = gym_timezone()
    rows: list[Row] = []
    day = since.astimezone(zone).date()
    last_day = until.astimezone(zone).date()
    while day <= last_day:
        for spec in schedule:
            if spec.weekday != day.weekday():
                continue
            # A few sessions a year are called off (holidays, a sick coach).
            if rng.random() < 0.02:
                continue
            starts_at = datetime.combine(day, spec.start, tzinfo=zone).astimezone(UTC)
            rows.append(
                {
                    "id": _row_id(rng),
                    "organization_id": org_id,
                    "name": spec.name,
                    "coach_user_id": coaches.get(spec.name),
                    "location_id": location_id,
                    "starts_at": starts_at,
                    "duration_minutes": spec.duration_minutes,
                    "capacity": spec.capacity,
                }
            )
        day += timedelta(days=1)
    return rows


def booking_rows(
    rng: random.Random,
    org_id: str,
    sessions: Sequence[Row],
    schedule: Sequence[ClassSpec],
    members: Sequence[MemberTimeline],
    *,
    now: datetime,
) -> list[Row]:
    """Bookings by members active at the time, keen members more often; past bookings
    resolved to attended / no-show / cancelled, future ones still booked."""
    popularity = {spec.name: spec.popularity for spec in schedule}
    outcomes = [name for name, _ in _PAST_BOOKING_OUTCOMES]
    weights = [weight for _, weight in _PAST_BOOKING_OUTCOMES]
    rows: list[Row] = []
    for session in sessions:
        starts_at: datetime = session["starts_at"]
        eligible = [m for m in members if m.active_at(starts_at)]
        if not eligible:
            continue
        wanted = round(session["capacity"] * popularity[session["name"]] * rng.uniform(0.6, 1.1))
        keen = [m for m in eligible if rng.random() < 0.3 + m.keenness * 0.7]
        chosen = rng.sample(keen, min(wanted, len(keen)))
        for member in chosen:
            booked_at = starts_at - timedelta(minutes=rng.randrange(60, 4 * 24 * 60))
            status = "booked" if starts_at > now else rng.choices(outcomes, weights)[0]
            rows.append(
                {
                    "id": _row_id(rng),
                    "session_id": session["id"],
                    "organization_id": org_id,
                    "user_id": member.user_id,
                    "status": status,
                    "booked_at": min(booked_at, now),
                }
            )
    return rows


def workout_rows(
    rng: random.Random,
    org_id: str,
    sessions: Sequence[Row],
    bookings: Sequence[Row],
    members: Sequence[MemberTimeline],
    *,
    since: datetime,
    now: datetime,
) -> list[Row]:
    """A workout for every attended class, plus training members log on their own."""
    by_id = {session["id"]: session for session in sessions}
    rows: list[Row] = []
    for booking in bookings:
        if booking["status"] != ATTENDED_BOOKING:
            continue
        session = by_id[booking["session_id"]]
        minutes = session["duration_minutes"]
        rows.append(
            {
                "id": _row_id(rng),
                "organization_id": org_id,
                "user_id": booking["user_id"],
                "performed_at": session["starts_at"],
                "kind": session["name"].lower(),
                "duration_minutes": minutes,
                "calories": round(minutes * rng.uniform(6.0, 11.0)),
            }
        )
    for member in members:
        start = max(member.joined_at, since)
        end = min(member.left_at, now) if member.left_at else now
        weeks = max(0, (end - start).days // 7)
        for _ in range(round(weeks * member.keenness * 1.2)):
            span = max(1, int((end - start).total_seconds()))
            performed_at = start + timedelta(seconds=rng.randrange(span))
            minutes = rng.choice((30, 40, 45, 60, 75))
            rows.append(
                {
                    "id": _row_id(rng),
                    "organization_id": org_id,
                    "user_id": member.user_id,
                    "performed_at": performed_at,
                    "kind": rng.choice(_SELF_LOGGED_KINDS),
                    "duration_minutes": minutes,
                    "calories": round(minutes * rng.uniform(5.0, 10.0)),
                }
            )
    return rows


@attrs.frozen
class Activity:
    payments: list[Row]
    sessions: list[Row]
    bookings: list[Row]
    workouts: list[Row]


def _chunks(rows: Sequence[Row]) -> Iterable[Sequence[Row]]:
    for start in range(0, len(rows), _INSERT_CHUNK):
        yield rows[start : start + _INSERT_CHUNK]


async def insert_activity(conn: AsyncConnection, activity: Activity) -> None:
    """Write the rows inside the caller's transaction (sessions before their bookings)."""
    for table, rows in (
        (tables.member_payments, activity.payments),
        (tables.class_sessions, activity.sessions),
        (tables.class_bookings, activity.bookings),
    ):
        for chunk in _chunks(rows):
            await conn.execute(table.insert(), list(chunk))
    if conn.dialect.name == "postgresql":
        await _copy_workouts(conn, activity.workouts)
    else:
        for chunk in _chunks(activity.workouts):
            await conn.execute(tables.workouts.insert(), list(chunk))


async def _copy_workouts(conn: AsyncConnection, rows: Sequence[Row]) -> None:
    """The workouts in one ``COPY`` (Postgres).

    ``executemany`` sends one ``INSERT`` per row, and each fires the read model's statement
    triggers (migration 0012) for a one-row transition table: the demo gym's 185,000
    workouts took 21.3 s that way against 15.6 s without the triggers. One ``COPY`` fires
    them once, for all the rows: 4.2 s (bench/README.md)."""
    columns = [column.name for column in tables.workouts.columns]
    session = SqlSession()
    session.bind(conn)
    await copy_rows(session, tables.workouts, columns, ([row[c] for c in columns] for row in rows))
