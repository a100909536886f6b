"""The analytics tabs: their columns, their date range, and what each figure means.

Every tab is computed by an :class:`~fitdata_core.ports.AnalyticsReader` from the read-model
tables and returned as rows keyed by the column keys below (:data:`TAB_COLUMNS`, the one
table of columns). Dates are calendar days in UTC; a range includes both ends.

What is counted:

- *Revenue* is the sum of member payments whose status is ``paid`` (:data:`PAID`), by
  currency (amounts in different currencies are never added); *refunds* sum the ``refunded``
  ones. Money is ``Decimal`` with two places.
- *Members* are memberships with the role ``member`` (staff are not members); "joined" is
  when the membership was created.
- A *booking* is a class booking that was not cancelled (booked, attended or no-show);
  *attended* counts only ``attended``.
- Months are ``YYYY-MM`` in UTC.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

import attrs

from fitdata_core.errors import InvalidInput

__all__ = [
    "ATTENDED_BOOKING",
    "CANCELLED_BOOKING",
    "DEFAULT_RANGE_MONTHS",
    "MAX_RANGE_YEARS",
    "MEMBER_ROLE",
    "PAID",
    "REFUNDED",
    "TAB_COLUMNS",
    "VALID_TABS",
    "AnalyticsTab",
    "Column",
    "DateRange",
    "add_months",
    "analytics_filename",
    "header_of",
    "keys_of",
    "members_growth_rows",
    "money",
    "parse_tab",
    "percentage",
    "ratio",
    "resolve_range",
    "revenue_trend_rows",
]

PAID = "paid"
REFUNDED = "refunded"
CANCELLED_BOOKING = "cancelled"
ATTENDED_BOOKING = "attended"
MEMBER_ROLE = "member"

DEFAULT_RANGE_MONTHS = 12
MAX_RANGE_YEARS = 5


class AnalyticsTab(StrEnum):
    """The analytics tabs an owner can download as CSV."""

    REVENUE_SUMMARY = "revenue-summary"
    REVENUE_TREND = "revenue-trend"
    PLAN_DISTRIBUTION = "plan-distribution"
    MEMBERS_SUMMARY = "members-summary"
    MEMBERS_GROWTH = "members-growth"
    POPULAR_CLASSES = "popular-classes"
    CLASS_UTILIZATION = "class-utilization"
    WORKOUTS_SUMMARY = "workouts-summary"


@attrs.frozen
class Column:
    """One column of an analytics tab: its row key and its CSV header."""

    key: str
    header: str


def _cols(*pairs: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(key, header) for key, header in pairs)


TAB_COLUMNS: Mapping[AnalyticsTab, tuple[Column, ...]] = {
    # One row per currency paid in during the range.
    AnalyticsTab.REVENUE_SUMMARY: _cols(
        ("currency", "Currency"),
        ("totalRevenue", "Total revenue"),
        ("paymentCount", "Payments"),
        ("averagePayment", "Average payment"),
        ("payingMembers", "Paying members"),
        ("refundedAmount", "Refunded"),
    ),
    # One row per month of the range and currency seen in it; quiet months show zero.
    AnalyticsTab.REVENUE_TREND: _cols(
        ("month", "Month"),
        ("currency", "Currency"),
        ("revenue", "Revenue"),
        ("paymentCount", "Payments"),
    ),
    # Active members by plan (members without a plan under "No plan"), joined by the range end.
    AnalyticsTab.PLAN_DISTRIBUTION: _cols(
        ("plan", "Plan"),
        ("members", "Active members"),
        ("percentage", "Share (%)"),
    ),
    # One row: members by status today, and how many joined during the range.
    AnalyticsTab.MEMBERS_SUMMARY: _cols(
        ("totalMembers", "Total members"),
        ("activeMembers", "Active"),
        ("invitedMembers", "Invited"),
        ("suspendedMembers", "Suspended"),
        ("cancelledMembers", "Cancelled"),
        ("newMembers", "Joined in range"),
    ),
    # One row per month of the range: members who joined, and all who had joined by its end.
    AnalyticsTab.MEMBERS_GROWTH: _cols(
        ("month", "Month"),
        ("newMembers", "New members"),
        ("totalMembers", "Total members"),
    ),
    # One row per class name with sessions in the range, most booked first.
    AnalyticsTab.POPULAR_CLASSES: _cols(
        ("className", "Class"),
        ("sessions", "Sessions"),
        ("bookings", "Bookings"),
        ("attended", "Attended"),
    ),
    # One row per month with capacity-limited sessions (unlimited sessions are left out).
    AnalyticsTab.CLASS_UTILIZATION: _cols(
        ("month", "Month"),
        ("sessions", "Sessions"),
        ("capacity", "Capacity"),
        ("bookings", "Bookings"),
        ("utilization", "Utilization (%)"),
    ),
    # One row per workout kind logged in the range, most logged first.
    AnalyticsTab.WORKOUTS_SUMMARY: _cols(
        ("kind", "Workout type"),
        ("workouts", "Workouts"),
        ("members", "Members"),
        ("totalMinutes", "Total minutes"),
        ("averageMinutes", "Average minutes"),
        ("totalCalories", "Total calories"),
    ),
}

VALID_TABS: tuple[str, ...] = tuple(t.value for t in AnalyticsTab)


def parse_tab(value: str) -> AnalyticsTab:
    """The tab named ``value``, or ``InvalidInput`` (field ``tab``) listing the valid ones."""
    try:
        return AnalyticsTab(value)
    except ValueError:
        raise InvalidInput(
            f"Unknown analytics tab {value!r}; valid tabs: {', '.join(VALID_TABS)}.", field="tab"
        ) from None


def header_of(tab: AnalyticsTab) -> tuple[str, ...]:
    """The CSV header of ``tab``, in column order."""
    return tuple(c.header for c in TAB_COLUMNS[tab])


def keys_of(tab: AnalyticsTab) -> tuple[str, ...]:
    """The row keys of ``tab``, in column order."""
    return tuple(c.key for c in TAB_COLUMNS[tab])


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the end of shorter months."""
    year, month_index = divmod(day.year * 12 + day.month - 1 + months, 12)
    month = month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@attrs.frozen
class DateRange:
    """Calendar days ``start``..``end`` in UTC, both included."""

    start: date
    end: date

    def months(self) -> list[str]:
        """Every month the range touches, as ``YYYY-MM``."""
        months: list[str] = []
        cursor = self.start.replace(day=1)
        while cursor <= self.end:
            months.append(f"{cursor:%Y-%m}")
            cursor = add_months(cursor, 1)
        return months


def resolve_range(start: date | None, end: date | None, *, today: date) -> DateRange:
    """The range to report on.

    ``end`` defaults to today; ``start`` to the first day of the month eleven months before
    ``end``'s, so the default covers twelve calendar months (the current one so far). A start
    after the end raises ``InvalidInput`` naming ``from``; a span of more than
    :data:`MAX_RANGE_YEARS` years raises it naming ``to``.
    """
    end = end or today
    start = start or add_months(end.replace(day=1), -(DEFAULT_RANGE_MONTHS - 1))
    if start > end:
        raise InvalidInput("from must be on or before to.", field="from")
    if end > add_months(start, 12 * MAX_RANGE_YEARS):
        raise InvalidInput(f"The date range may span at most {MAX_RANGE_YEARS} years.", field="to")
    return DateRange(start, end)


_CENTS = Decimal("0.01")


def money(cents: int | None) -> Decimal:
    """An amount given in whole cents, as a two-place ``Decimal``."""
    return (Decimal(cents or 0) / 100).quantize(_CENTS)


def percentage(part: int | Decimal, whole: int | Decimal) -> Decimal:
    """``part`` as a percentage of ``whole``, two places (zero when ``whole`` is zero)."""
    if not whole:
        return Decimal("0.00")
    return (Decimal(part) * 100 / Decimal(whole)).quantize(_CENTS, rounding=ROUND_HALF_UP)


def ratio(total: int | Decimal, count: int) -> Decimal:
    """``total / count`` to two places (zero when ``count`` is zero)."""
    if not count:
        return Decimal("0.00")
    return (Decimal(total) / count).quantize(_CENTS, rounding=ROUND_HALF_UP)


def revenue_trend_rows(
    date_range: DateRange, rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``revenue-trend`` with a row for every month of the range for each currency seen.

    ``rows`` are the months that had payments; quiet months get zero revenue.
    """
    by_key = {(r["month"], r["currency"]): dict(r) for r in rows}
    currencies = sorted({str(r["currency"]) for r in rows})
    return [
        by_key.get(
            (month, currency),
            {"month": month, "currency": currency, "revenue": money(0), "paymentCount": 0},
        )
        for month in date_range.months()
        for currency in currencies
    ]


def members_growth_rows(
    date_range: DateRange, *, joined_before: int, joined_by_month: Mapping[str, int]
) -> list[dict[str, Any]]:
    """``members-growth``: every month of the range with its joiners and the running total.

    ``joined_before`` is how many members had joined before the range starts.
    """
    rows: list[dict[str, Any]] = []
    total = joined_before
    for month in date_range.months():
        joined = joined_by_month.get(month, 0)
        total += joined
        rows.append({"month": month, "newMembers": joined, "totalMembers": total})
    return rows


def analytics_filename(tab: AnalyticsTab, today: date) -> str:
    """The download name: ``<tab>-<YYYY-MM-DD>.csv``."""
    return f"{tab.value}-{today.isoformat()}.csv"
