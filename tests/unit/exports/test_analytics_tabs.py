"""Analytics tabs: the column table, the date range rules, and the use case on a fake reader."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import pytest
from export_support import Gym

from fitdata_core.errors import InvalidInput, PermissionDenied
from fitdata_core.rules.analytics import (
    TAB_COLUMNS,
    VALID_TABS,
    AnalyticsTab,
    DateRange,
    add_months,
    analytics_filename,
    members_growth_rows,
    money,
    parse_tab,
    percentage,
    ratio,
    resolve_range,
    revenue_trend_rows,
)
from fitdata_core.services import Services
from fitdata_core.usecases.exports import analytics_rows, analytics_table


class FakeAnalytics:
    """Answers every tab with the rows it was given and remembers what it was asked."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.answer = rows
        self.asked: list[tuple[str, str, date, date]] = []

    async def rows(self, org_id: str, tab: str, *, start: date, end: date) -> list[dict[str, Any]]:
        self.asked.append((org_id, tab, start, end))
        return self.answer


SUMMARY = {
    "currency": "ILS",
    "totalRevenue": Decimal("300.00"),
    "paymentCount": 2,
    "averagePayment": Decimal("150.00"),
    "payingMembers": 2,
    "refundedAmount": Decimal("0.00"),
}


def _with_reader(svc: Services, reader: FakeAnalytics) -> Services:
    return attrs.evolve(svc, analytics=reader)


# --- the column table ------------------------------------------------------------------------


def test_every_tab_has_columns_with_unique_keys_and_headers() -> None:
    assert set(TAB_COLUMNS) == set(AnalyticsTab)
    assert VALID_TABS == (
        "revenue-summary",
        "revenue-trend",
        "plan-distribution",
        "members-summary",
        "members-growth",
        "popular-classes",
        "class-utilization",
        "workouts-summary",
    )
    for columns in TAB_COLUMNS.values():
        assert len({c.key for c in columns}) == len(columns)
        assert len({c.header for c in columns}) == len(columns)


def test_unknown_tab_is_refused_listing_the_valid_ones() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_tab("revenue")
    assert refused.value.field == "tab"
    assert "'revenue'" in refused.value.message
    assert ", ".join(VALID_TABS) in refused.value.message


# --- the date range --------------------------------------------------------------------------


def test_default_range_is_twelve_calendar_months_up_to_today() -> None:
    assert resolve_range(None, None, today=date(2026, 3, 17)) == DateRange(
        date(2025, 4, 1), date(2026, 3, 17)
    )
    assert len(resolve_range(None, None, today=date(2026, 3, 17)).months()) == 12


def test_one_given_end_fills_the_other() -> None:
    assert resolve_range(date(2026, 1, 5), None, today=date(2026, 3, 17)).end == date(2026, 3, 17)
    assert resolve_range(None, date(2025, 12, 31), today=date(2026, 3, 17)).start == date(
        2025, 1, 1
    )


def test_from_after_to_is_refused_naming_from() -> None:
    with pytest.raises(InvalidInput) as refused:
        resolve_range(date(2026, 3, 2), date(2026, 3, 1), today=date(2026, 3, 17))
    assert refused.value.field == "from"


def test_span_over_five_years_is_refused_naming_to() -> None:
    resolve_range(date(2020, 2, 29), date(2025, 2, 28), today=date(2026, 3, 17))
    with pytest.raises(InvalidInput) as refused:
        resolve_range(date(2020, 3, 1), date(2025, 3, 2), today=date(2026, 3, 17))
    assert refused.value.field == "to"
    assert "5 years" in refused.value.message


def test_add_months_clamps_to_shorter_months() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2026, 3, 1), -11) == date(2025, 4, 1)
    assert add_months(date(2025, 12, 15), 1) == date(2026, 1, 15)


# --- figures ---------------------------------------------------------------------------------


def test_money_and_ratios_are_two_place_decimals() -> None:
    assert money(12345) == Decimal("123.45")
    assert money(None) == Decimal("0.00")
    assert percentage(1, 3) == Decimal("33.33")
    assert percentage(2, 3) == Decimal("66.67")
    assert percentage(5, 0) == Decimal("0.00")
    assert ratio(Decimal("100.00"), 3) == Decimal("33.33")
    assert ratio(7, 0) == Decimal("0.00")


def test_revenue_trend_has_every_month_for_each_currency() -> None:
    found = [
        {"month": "2026-02", "currency": "ILS", "revenue": Decimal("10.00"), "paymentCount": 1},
        {"month": "2026-01", "currency": "USD", "revenue": Decimal("5.00"), "paymentCount": 1},
    ]
    rows = revenue_trend_rows(DateRange(date(2026, 1, 10), date(2026, 2, 3)), found)
    assert [(r["month"], r["currency"], r["revenue"], r["paymentCount"]) for r in rows] == [
        ("2026-01", "ILS", Decimal("0.00"), 0),
        ("2026-01", "USD", Decimal("5.00"), 1),
        ("2026-02", "ILS", Decimal("10.00"), 1),
        ("2026-02", "USD", Decimal("0.00"), 0),
    ]
    assert revenue_trend_rows(DateRange(date(2026, 1, 1), date(2026, 2, 1)), []) == []


def test_members_growth_carries_the_running_total_through_quiet_months() -> None:
    rows = members_growth_rows(
        DateRange(date(2025, 11, 20), date(2026, 2, 1)),
        joined_before=5,
        joined_by_month={"2025-12": 2, "2026-02": 1},
    )
    assert rows == [
        {"month": "2025-11", "newMembers": 0, "totalMembers": 5},
        {"month": "2025-12", "newMembers": 2, "totalMembers": 7},
        {"month": "2026-01", "newMembers": 0, "totalMembers": 7},
        {"month": "2026-02", "newMembers": 1, "totalMembers": 8},
    ]


def test_analytics_filename_names_the_tab_and_day() -> None:
    name = analytics_filename(AnalyticsTab.REVENUE_SUMMARY, date(2026, 3, 1))
    assert name == "revenue-summary-2026-03-01.csv"


# --- the use case ----------------------------------------------------------------------------


async def test_get_revenue_summary_as_owner_gives_header_and_rows_in_column_order(
    svc: Services, gym: Gym
) -> None:
    reader = FakeAnalytics([dict(reversed(list(SUMMARY.items())))])
    header, rows = await analytics_rows(
        _with_reader(svc, reader), gym.owner, gym.org_id, "revenue-summary"
    )
    assert header == (
        "Currency",
        "Total revenue",
        "Payments",
        "Average payment",
        "Paying members",
        "Refunded",
    )
    assert rows == [tuple(SUMMARY.values())]
    # The clock says 2026-03-01: the default range is April 2025 to today.
    assert reader.asked == [(gym.org_id, "revenue-summary", date(2025, 4, 1), date(2026, 3, 1))]


async def test_analytics_table_names_the_download(svc: Services, gym: Gym) -> None:
    table = await analytics_table(
        _with_reader(svc, FakeAnalytics([])),
        gym.admin,
        gym.org_id,
        "workouts-summary",
        date(2026, 1, 1),
        date(2026, 1, 31),
    )
    assert table.tab is AnalyticsTab.WORKOUTS_SUMMARY
    assert (table.start, table.end) == (date(2026, 1, 1), date(2026, 1, 31))
    assert table.rows == []
    assert table.filename == "workouts-summary-2026-03-01.csv"


async def test_member_calling_analytics_is_refused(svc: Services, gym: Gym) -> None:
    reader = FakeAnalytics([SUMMARY])
    with pytest.raises(PermissionDenied):
        await analytics_rows(_with_reader(svc, reader), gym.member, gym.org_id, "revenue-summary")
    with pytest.raises(PermissionDenied):
        await analytics_rows(_with_reader(svc, reader), gym.coach, gym.org_id, "no-such-tab")
    assert reader.asked == []


async def test_unknown_tab_is_400_for_an_owner(svc: Services, gym: Gym) -> None:
    with pytest.raises(InvalidInput) as refused:
        await analytics_rows(svc, gym.owner, gym.org_id, "revenue")
    assert refused.value.field == "tab"


async def test_bad_range_is_400_naming_the_field(svc: Services, gym: Gym) -> None:
    with pytest.raises(InvalidInput) as refused:
        await analytics_rows(
            svc, gym.owner, gym.org_id, "revenue-trend", date(2026, 2, 1), date(2026, 1, 1)
        )
    assert refused.value.field == "from"


async def test_a_reader_out_of_step_with_the_column_table_fails_loudly(
    svc: Services, gym: Gym
) -> None:
    reader = FakeAnalytics([{**SUMMARY, "extra": 1}])
    with pytest.raises(RuntimeError, match="expected"):
        await analytics_rows(_with_reader(svc, reader), gym.owner, gym.org_id, "revenue-summary")
