"""Billing periods: one calendar month at a time.

The rule for short months: a period ends on the same day of the next month, clamped to that
month's last day when the day does not exist there. So a period starting on 31 January ends on
28 (or 29) February, and the next one on 28 March: once clamped, the shorter day becomes the
anchor. This is what the existing system does (``addMonths`` chained from the period end) and
it never bills twice in one calendar month. Times of day and time zones are kept as given.
"""

from __future__ import annotations

import calendar
from datetime import datetime

__all__ = [
    "add_months",
    "next_period_end",
]


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by ``months`` calendar months, clamping the day to the month's end."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def next_period_end(period_start: datetime) -> datetime:
    """Where a one-month period that starts at ``period_start`` ends."""
    return add_months(period_start, 1)
