"""The analytics tabs computed in SQL from the read-model tables (Postgres and SQLite).

Each tab is one or two SQLAlchemy Core queries; what the figures mean is defined in
:mod:`fitdata_core.rules.analytics` and this module only computes them. Every query reads the
org's rows only, joined tables included (a booking or plan of another org never counts, and
never costs: the scans follow the org's indexes). Portability notes:

- Months are bucketed per dialect: ``to_char(timezone('UTC', ts), 'YYYY-MM')`` on Postgres,
  ``strftime('%Y-%m', ts)`` on SQLite (which stores UTC as naive text).
- Money is summed as whole cents (``round(amount * 100)`` cast to an integer) and turned into
  ``Decimal`` in Python: SQLite keeps ``NUMERIC`` as a float, and summing floats would drift.
- A date range is the UTC days ``start``..``end``: ``start 00:00 <= ts < (end + 1 day) 00:00``.
- ``workouts-summary`` reads the workouts on SQLite, and on Postgres the read model that the
  triggers of migration 0012 keep (per-day totals, per-member-year day bits).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fitdata_adapters.db.engine import read_only
from fitdata_adapters.db.errors import translate_errors
from fitdata_adapters.db.tables import (
    class_bookings,
    class_sessions,
    member_payments,
    memberships,
    plans,
    workout_day_totals,
    workout_member_years,
    workouts,
)
from fitdata_core.rules.analytics import (
    ATTENDED_BOOKING,
    CANCELLED_BOOKING,
    MEMBER_ROLE,
    PAID,
    REFUNDED,
    AnalyticsTab,
    DateRange,
    members_growth_rows,
    money,
    parse_tab,
    percentage,
    ratio,
    revenue_trend_rows,
)

__all__ = ["SqlAnalyticsReader"]

NO_PLAN = "No plan"
_STATUSES = ("active", "invited", "suspended", "cancelled")

Row = dict[str, Any]


@attrs.frozen
class _Query:
    """What every tab query needs: the org, the range and its UTC bounds, the dialect."""

    org_id: str
    date_range: DateRange
    dialect: str

    @property
    def lo(self) -> datetime:
        return datetime.combine(self.date_range.start, time(0), UTC)

    @property
    def hi(self) -> datetime:
        return datetime.combine(self.date_range.end + timedelta(days=1), time(0), UTC)

    def in_range(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        return sa.and_(column >= self.lo, column < self.hi)

    def month(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        if self.dialect == "postgresql":
            return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM")
        return sa.func.strftime("%Y-%m", column)


def _cents(amount: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    return sa.cast(sa.func.round(amount * 100), sa.BigInteger)


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _int(value: Any) -> int:
    return int(value or 0)


async def _revenue_summary(conn: AsyncConnection, q: _Query) -> list[Row]:
    p = member_payments.c
    paid = p.status == PAID
    # Two levels instead of COUNT(DISTINCT user_id): that aggregate sorts all of a currency's
    # payments, which spilled to disk on a year of a 10k-member gym. Per (currency, payer)
    # first, a hash table of payers that fits in memory, then per currency.
    per_payer = (
        sa.select(
            p.currency,
            sa.func.sum(sa.case((paid, _cents(p.amount)), else_=0)).label("paid_cents"),
            _count_if(paid).label("paid_count"),
            sa.func.sum(sa.case((p.status == REFUNDED, _cents(p.amount)), else_=0)).label(
                "refunded_cents"
            ),
        )
        .where(p.organization_id == q.org_id, q.in_range(p.paid_at), p.status.in_([PAID, REFUNDED]))
        .group_by(p.currency, p.user_id)
        .subquery()
    )
    c = per_payer.c
    stmt = (
        sa.select(
            c.currency,
            sa.func.sum(c.paid_cents).label("paid_cents"),
            sa.func.sum(c.paid_count).label("paid_count"),
            _count_if(c.paid_count > 0).label("payers"),
            sa.func.sum(c.refunded_cents).label("refunded_cents"),
        )
        .group_by(c.currency)
        .order_by(c.currency)
    )
    rows = []
    for r in (await conn.execute(stmt)).mappings():
        total, count = money(_int(r["paid_cents"])), _int(r["paid_count"])
        rows.append(
            {
                "currency": r["currency"],
                "totalRevenue": total,
                "paymentCount": count,
                "averagePayment": ratio(total, count),
                "payingMembers": _int(r["payers"]),
                "refundedAmount": money(_int(r["refunded_cents"])),
            }
        )
    return rows


async def _revenue_trend(conn: AsyncConnection, q: _Query) -> list[Row]:
    p = member_payments.c
    # Bucket in a subquery and group the outer query by its column: Postgres would not accept
    # GROUP BY on a repeated expression whose format string is a separate bound parameter.
    paid = (
        sa.select(q.month(p.paid_at).label("month"), p.currency, _cents(p.amount).label("cents"))
        .where(p.organization_id == q.org_id, q.in_range(p.paid_at), p.status == PAID)
        .subquery()
    )
    stmt = (
        sa.select(
            paid.c.month,
            paid.c.currency,
            sa.func.sum(paid.c.cents).label("cents"),
            sa.func.count().label("payments"),
        )
        .group_by(paid.c.month, paid.c.currency)
        .order_by(paid.c.month, paid.c.currency)
    )
    found = [
        {
            "month": r["month"],
            "currency": r["currency"],
            "revenue": money(_int(r["cents"])),
            "paymentCount": _int(r["payments"]),
        }
        for r in (await conn.execute(stmt)).mappings()
    ]
    return revenue_trend_rows(q.date_range, found)


def _members(q: _Query) -> sa.ColumnElement[bool]:
    """Memberships of the org with the member role that existed by the range's end."""
    m = memberships.c
    return sa.and_(m.organization_id == q.org_id, m.role == MEMBER_ROLE, m.created_at < q.hi)


async def _plan_distribution(conn: AsyncConnection, q: _Query) -> list[Row]:
    m = memberships.c
    stmt = (
        sa.select(plans.c.name, sa.func.count().label("members"))
        # The org's own plans only: a plan id of another org's plan must not show its name.
        .select_from(
            memberships.outerjoin(
                plans, sa.and_(plans.c.id == m.plan_id, plans.c.organization_id == q.org_id)
            )
        )
        .where(_members(q), m.status == "active")
        .group_by(plans.c.name)
    )
    counts = [
        (r["name"] or NO_PLAN, _int(r["members"])) for r in (await conn.execute(stmt)).mappings()
    ]
    total = sum(n for _, n in counts)
    counts.sort(key=lambda item: (-item[1], item[0]))
    return [{"plan": name, "members": n, "percentage": percentage(n, total)} for name, n in counts]


async def _members_summary(conn: AsyncConnection, q: _Query) -> list[Row]:
    m = memberships.c
    stmt = sa.select(
        sa.func.count().label("total"),
        *(_count_if(m.status == s).label(s) for s in _STATUSES),
        _count_if(m.created_at >= q.lo).label("new"),
    ).where(_members(q))
    r = (await conn.execute(stmt)).mappings().one()
    return [
        {
            "totalMembers": _int(r["total"]),
            "activeMembers": _int(r["active"]),
            "invitedMembers": _int(r["invited"]),
            "suspendedMembers": _int(r["suspended"]),
            "cancelledMembers": _int(r["cancelled"]),
            "newMembers": _int(r["new"]),
        }
    ]


async def _members_growth(conn: AsyncConnection, q: _Query) -> list[Row]:
    m = memberships.c
    before = await conn.scalar(sa.select(sa.func.count()).where(_members(q), m.created_at < q.lo))
    joined = (
        sa.select(q.month(m.created_at).label("month"))
        .where(_members(q), m.created_at >= q.lo)
        .subquery()
    )
    stmt = sa.select(joined.c.month, sa.func.count().label("joined")).group_by(joined.c.month)
    by_month = {r["month"]: _int(r["joined"]) for r in (await conn.execute(stmt)).mappings()}
    return members_growth_rows(q.date_range, joined_before=_int(before), joined_by_month=by_month)


def _sessions_with_bookings(q: _Query, *extra: sa.ColumnElement[bool]) -> sa.Subquery:
    """One row per session of the org in the range with its booking counts (bookings not
    multiplied by a join, so capacities can be summed beside them).

    Only the org's bookings of those sessions are read: the sessions are found through their
    ``(organization_id, starts_at)`` index and their bookings through ``session_id``, so the
    cost follows the range, not the whole platform's bookings."""
    s, b = class_sessions.c, class_bookings.c
    return (
        sa.select(
            s.id,
            s.name,
            s.capacity,
            q.month(s.starts_at).label("month"),
            _count_if(b.status != CANCELLED_BOOKING).label("bookings"),
            _count_if(b.status == ATTENDED_BOOKING).label("attended"),
        )
        .select_from(
            class_sessions.outerjoin(
                class_bookings,
                sa.and_(b.session_id == s.id, b.organization_id == q.org_id),
            )
        )
        .where(s.organization_id == q.org_id, q.in_range(s.starts_at), *extra)
        .group_by(s.id, s.name, s.capacity, s.starts_at)
        .subquery()
    )


async def _popular_classes(conn: AsyncConnection, q: _Query) -> list[Row]:
    sessions = _sessions_with_bookings(q)
    bookings = sa.func.sum(sessions.c.bookings)
    stmt = (
        sa.select(
            sessions.c.name,
            sa.func.count().label("sessions"),
            bookings.label("bookings"),
            sa.func.sum(sessions.c.attended).label("attended"),
        )
        .group_by(sessions.c.name)
        .order_by(bookings.desc(), sessions.c.name)
    )
    return [
        {
            "className": r["name"],
            "sessions": _int(r["sessions"]),
            "bookings": _int(r["bookings"]),
            "attended": _int(r["attended"]),
        }
        for r in (await conn.execute(stmt)).mappings()
    ]


async def _class_utilization(conn: AsyncConnection, q: _Query) -> list[Row]:
    sessions = _sessions_with_bookings(q, class_sessions.c.capacity.is_not(None))
    stmt = (
        sa.select(
            sessions.c.month,
            sa.func.count().label("sessions"),
            sa.func.sum(sessions.c.capacity).label("capacity"),
            sa.func.sum(sessions.c.bookings).label("bookings"),
        )
        .group_by(sessions.c.month)
        .order_by(sessions.c.month)
    )
    rows = []
    for r in (await conn.execute(stmt)).mappings():
        capacity, bookings = _int(r["capacity"]), _int(r["bookings"])
        rows.append(
            {
                "month": r["month"],
                "sessions": _int(r["sessions"]),
                "capacity": capacity,
                "bookings": bookings,
                "utilization": percentage(bookings, capacity),
            }
        )
    return rows


def _workouts_summary_statement(q: _Query) -> sa.Select[Any]:
    """Per kind: workouts, distinct members, minutes (and how many were timed), calories,
    from the workouts themselves: SQLite's query, and on Postgres the reference the read
    model's answer is tested against.

    Two levels instead of ``COUNT(DISTINCT user_id)``: per (kind, member) first, then per kind,
    where the members are simply the rows. The index ``(organization_id, kind, user_id)``
    (migration 0006) hands the rows over in that order, so both levels stream: no sort and no
    hash table, whatever the gym's size. ``COUNT(DISTINCT)`` sorted each kind's members again
    (a quarter of the query's time on a 10k-member gym, and a spill once a kind outgrows
    ``work_mem``)."""
    w = workouts.c
    per_member = (
        sa.select(
            w.kind,
            sa.func.count().label("workouts"),
            sa.func.sum(w.duration_minutes).label("minutes"),
            sa.func.count(w.duration_minutes).label("timed"),
            sa.func.sum(w.calories).label("calories"),
        )
        .where(w.organization_id == q.org_id, q.in_range(w.performed_at))
        .group_by(w.kind, w.user_id)
        .subquery()
    )
    c = per_member.c
    total = sa.func.sum(c.workouts)
    return (
        sa.select(
            c.kind,
            total.label("workouts"),
            sa.func.count().label("members"),
            sa.func.sum(c.minutes).label("minutes"),
            sa.func.sum(c.timed).label("timed"),
            sa.func.sum(c.calories).label("calories"),
        )
        .group_by(c.kind)
        .order_by(total.desc(), c.kind)
    )


_HASH_AND_SEQSCAN = ("enable_hashagg", "enable_seqscan")


async def _stream_from_org_index(conn: AsyncConnection) -> None:
    """Keep this transaction's plans on the streaming path (Postgres; nothing elsewhere), for
    :func:`_workouts_summary_statement` where it still runs on Postgres: the reference the
    read model is tested against, and the "old" side of ``bench/workouts_summary.py``.

    Left alone, the planner picks a sequential scan feeding a hash table when one gym fills
    most of the table (it costs the index scan higher then), and it sizes that table from an
    estimate of the (kind, member) groups that was 2.3x low on the 10k-member demo gym: the
    hash spilled to disk. Streaming from the org's index needs memory for one group only."""
    if conn.dialect.name == "postgresql":
        # ``SET LOCAL`` twice in one round trip; both end with the transaction.
        off = (sa.func.set_config(name, "off", sa.true()) for name in _HASH_AND_SEQSCAN)
        await conn.execute(sa.select(*off))


#: Bits in a member-year's ``days``: one per day-of-year, a leap year's 366th included.
YEAR_BITS = 366


def year_masks(date_range: DateRange) -> list[tuple[int, str]]:
    """``(year, mask)`` for each year the range touches: bit *i* of the mask (from the left,
    as Postgres numbers a bit string's bits) is set when day-of-year *i + 1* is in the range,
    the layout of ``workout_member_years.days``."""
    masks = []
    for year in range(date_range.start.year, date_range.end.year + 1):
        first = max(date_range.start, date(year, 1, 1)).timetuple().tm_yday
        last = min(date_range.end, date(year, 12, 31)).timetuple().tm_yday
        masks.append(
            (year, "0" * (first - 1) + "1" * (last - first + 1) + "0" * (YEAR_BITS - last))
        )
    return masks


def _bits(value: str) -> sa.ColumnElement[Any]:
    return sa.cast(sa.literal(value, sa.String()), BIT(YEAR_BITS))


def _members_from_read_model(q: _Query) -> sa.Subquery:
    """Per kind, the members with a workout of it in the range: the member-years with a bit
    set inside the range's mask for that year.

    Within one year (the default range, and most asked for) each (kind, member) has one row:
    count them. Across years a member may have a row in each, so the years' (kind, member)
    pairs are joined (``FULL JOIN``: found in any year) and the joined pairs counted. Postgres
    hashes the smaller year's pairs and streams the other's through: on the 10k-member gym a
    year across New Year took 36 ms that way against 50 ms for grouping all the pairs by
    (kind, member) first, whose hash table held every pair of the range."""
    m = workout_member_years.c
    years = []
    for year, mask in year_masks(q.date_range):
        found = [m.organization_id == q.org_id, m.year == year]
        if "0" in mask:
            found.append(m.days.op("&")(_bits(mask)) != _bits("0" * YEAR_BITS))
        # else: the whole year is in the range, and a member-year row has a day set.
        years.append(sa.select(m.kind, m.user_id).where(*found).subquery())
    if len(years) == 1:
        (only,) = years
        return (
            sa.select(only.c.kind, sa.func.count().label("members"))
            .group_by(only.c.kind)
            .subquery()
        )
    pairs = years[0]
    for other in years[1:]:
        joined = pairs.outerjoin(
            other,
            sa.and_(other.c.kind == pairs.c.kind, other.c.user_id == pairs.c.user_id),
            full=True,
        )
        pairs = (
            sa.select(
                sa.func.coalesce(pairs.c.kind, other.c.kind).label("kind"),
                sa.func.coalesce(pairs.c.user_id, other.c.user_id).label("user_id"),
            )
            .select_from(joined)
            .subquery()
        )
    return (
        sa.select(pairs.c.kind, sa.func.count().label("members")).group_by(pairs.c.kind).subquery()
    )


def _workouts_read_model_statement(q: _Query) -> sa.Select[Any]:
    """:func:`_workouts_summary_statement`'s rows from the read model of migration 0012
    (Postgres): the range's day totals summed per kind, beside its members per kind.

    Every kind with a workout in the range has both a day total and a member in it, so the
    inner join loses nothing."""
    d = workout_day_totals.c
    totals = (
        sa.select(
            d.kind,
            sa.func.sum(d.workouts).label("workouts"),
            sa.func.sum(d.minutes).label("minutes"),
            sa.func.sum(d.timed).label("timed"),
            sa.func.sum(d.calories).label("calories"),
        )
        .where(
            d.organization_id == q.org_id,
            d.day >= q.date_range.start,
            d.day <= q.date_range.end,
        )
        .group_by(d.kind)
        .subquery()
    )
    members = _members_from_read_model(q)
    return (
        sa.select(
            totals.c.kind,
            totals.c.workouts,
            members.c.members,
            totals.c.minutes,
            totals.c.timed,
            totals.c.calories,
        )
        .join_from(totals, members, members.c.kind == totals.c.kind)
        .order_by(totals.c.workouts.desc(), totals.c.kind)
    )


async def _workouts_summary(conn: AsyncConnection, q: _Query) -> list[Row]:
    if q.dialect == "postgresql":
        # Kept in step with every write by the triggers of migration 0012: a row per kind and
        # day, and one per kind and member a year, instead of every workout of the range.
        statement = _workouts_read_model_statement(q)
    else:
        statement = _workouts_summary_statement(q)
    return [_workouts_summary_row(r) for r in (await conn.execute(statement)).mappings()]


def _workouts_summary_row(r: Any) -> Row:
    """A row of either workouts-summary statement as the tab shows it."""
    return {
        "kind": r["kind"],
        "workouts": _int(r["workouts"]),
        "members": _int(r["members"]),
        "totalMinutes": _int(r["minutes"]),
        "averageMinutes": ratio(_int(r["minutes"]), _int(r["timed"])),
        "totalCalories": _int(r["calories"]),
    }


_TABS: dict[AnalyticsTab, Callable[[AsyncConnection, _Query], Awaitable[list[Row]]]] = {
    AnalyticsTab.REVENUE_SUMMARY: _revenue_summary,
    AnalyticsTab.REVENUE_TREND: _revenue_trend,
    AnalyticsTab.PLAN_DISTRIBUTION: _plan_distribution,
    AnalyticsTab.MEMBERS_SUMMARY: _members_summary,
    AnalyticsTab.MEMBERS_GROWTH: _members_growth,
    AnalyticsTab.POPULAR_CLASSES: _popular_classes,
    AnalyticsTab.CLASS_UTILIZATION: _class_utilization,
    AnalyticsTab.WORKOUTS_SUMMARY: _workouts_summary,
}


class SqlAnalyticsReader:
    """:class:`~fitdata_core.ports.AnalyticsReader` over the read-model tables.

    Raises ``InvalidInput`` for an unknown tab and ``DatabaseUnavailable`` when the database
    cannot be reached.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def rows(self, org_id: str, tab: str, *, start: date, end: date) -> list[dict[str, Any]]:
        compute = _TABS[parse_tab(tab)]
        query = _Query(org_id, DateRange(start, end), self._engine.dialect.name)
        with translate_errors():
            async with self._engine.connect() as conn:
                await read_only(conn)  # a plain BEGIN on SQLite: never holds the write lock
                return await compute(conn, query)
