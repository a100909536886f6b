"""The pure billing rules: calendar-month periods, access states, prices, the kill switch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_adapters.bootstrap import billing_policy
from fitdata_adapters.settings import Settings
from fitdata_core.errors import BusinessRuleViolation, ConfigurationError
from fitdata_core.model.billing import (
    MAX_FAILED_PAYMENTS,
    RETRY_SPACING,
    CancelReason,
    SubscriptionStatus,
)
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.money import Money
from fitdata_core.policies import BillingPolicy
from fitdata_core.rules.billing_access import AccessLevel, access_state
from fitdata_core.rules.billing_periods import add_months, next_period_end
from support import builders


def _utc(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (_utc(2026, 1, 15), _utc(2026, 2, 15)),
        (_utc(2026, 1, 31), _utc(2026, 2, 28)),  # clamped to the shorter month
        (_utc(2028, 1, 31), _utc(2028, 2, 29)),  # leap year
        (_utc(2026, 3, 31), _utc(2026, 4, 30)),
        (_utc(2026, 12, 31), _utc(2027, 1, 31)),  # across the year
    ],
)
def test_a_period_is_one_calendar_month(start: datetime, end: datetime) -> None:
    assert next_period_end(start) == end


def test_once_clamped_the_shorter_day_is_the_anchor() -> None:
    assert next_period_end(next_period_end(_utc(2026, 1, 31))) == _utc(2026, 3, 28)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_a_period_is_28_to_31_days_and_keeps_the_time(moment: datetime) -> None:
    moment = moment.replace(tzinfo=UTC)
    end = add_months(moment, 1)
    assert timedelta(days=28) <= end - moment <= timedelta(days=31)
    assert (end.hour, end.minute, end.second, end.tzinfo) == (
        moment.hour,
        moment.minute,
        moment.second,
        UTC,
    )
    assert (end.year * 12 + end.month) - (moment.year * 12 + moment.month) == 1


def test_access_states() -> None:
    end = _utc(2026, 2, 15)
    active = builders.subscription("o", current_period_end=end)
    assert access_state(None).level is AccessLevel.NONE
    assert access_state(active) == access_state(active)  # pure
    assert (access_state(active).level, access_state(active).until) == (AccessLevel.FULL, end)
    scheduled = access_state(
        builders.subscription("o", current_period_end=end, cancel_at_period_end=True)
    )
    assert (scheduled.level, scheduled.reason, scheduled.until) == (
        AccessLevel.FULL,
        "cancel-scheduled",
        end,
    )
    past_due = access_state(
        builders.subscription(
            "o", status=SubscriptionStatus.PAST_DUE, current_period_end=end, failed_payment_count=1
        )
    )
    assert (past_due.level, past_due.until) == (AccessLevel.GRACE, end + timedelta(days=3))
    cancelled = access_state(
        builders.subscription(
            "o", status=SubscriptionStatus.CANCELLED, cancel_reason=CancelReason.EXPIRED_NO_TOKEN
        )
    )
    assert (cancelled.level, cancelled.reason, cancelled.until) == (
        AccessLevel.NONE,
        "expired-no-token",
        None,
    )


def test_prices_and_switch_of_the_billing_policy() -> None:
    assert BillingPolicy().price_of(PlatformTier.PRO).amount == Decimal("249.00")
    assert BillingPolicy(price_elite=Money("399.5")).price_of(PlatformTier.ELITE).amount == (
        Decimal("399.50")
    )
    with pytest.raises(BusinessRuleViolation, match="free tier"):
        BillingPolicy().price_of(PlatformTier.LITE)
    with pytest.raises(ConfigurationError, match="price_pro"):
        BillingPolicy(price_pro=Money("0"))
    with pytest.raises(ConfigurationError, match="number of ILS"):
        BillingPolicy(price_pro="zero")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="renewal_concurrency"):
        BillingPolicy(renewal_concurrency=0)
    assert BillingPolicy().schedule_enabled is True


@pytest.mark.parametrize(("raw", "enabled"), [("false", False), ("off", False), ("1", True)])
def test_the_kill_switch_is_parsed_once_from_the_environment(
    tmp_path: Path, raw: str, enabled: bool
) -> None:
    settings = Settings.from_env(
        {"FITDATA_DATA_DIR": str(tmp_path), "FITDATA_BILLING_SCHEDULE_ENABLED": raw}
    )

    assert billing_policy(settings).schedule_enabled is enabled


# --- dunning schedule (issue 7 item 2) -------------------------------------------------------

_moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@given(at=_moments, later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)))
def test_a_failed_renewal_schedules_the_next_attempt_from_its_own_time(
    at: datetime, later: timedelta
) -> None:
    sub = builders.subscription("org-1", current_period_end=at - timedelta(hours=1))

    past_due, events = sub.renewal_failed(at, "declined")

    assert past_due.status is SubscriptionStatus.PAST_DUE
    assert past_due.next_payment_attempt_at == at + RETRY_SPACING
    assert events[0].data["next_attempt_at"] == (at + RETRY_SPACING).isoformat()
    # Waiting is decided by the "as of" time alone: before the next attempt, wait; from it, go.
    sweep_at = at + later
    assert past_due.awaits_next_attempt(sweep_at) is (later < RETRY_SPACING)


@given(at=_moments, failures=st.integers(min_value=0, max_value=MAX_FAILED_PAYMENTS - 1))
def test_only_a_past_due_subscription_has_a_next_attempt(at: datetime, failures: int) -> None:
    sub = builders.subscription("org-1", current_period_end=at - timedelta(hours=1))
    for number in range(failures):
        sub, _ = sub.renewal_failed(at + number * RETRY_SPACING, "declined")
    if failures:
        assert sub.next_payment_attempt_at == at + failures * RETRY_SPACING
    renewed, _ = sub.renewal_succeeded(at, period_end=at + timedelta(days=30))
    cancelled, _ = sub.cancel(at, CancelReason.OWNER_REQUESTED)
    last, _ = sub.renewal_failed(at, "declined", max_failures=sub.failed_payment_count + 1)

    for done in (renewed, cancelled, last):
        assert done.next_payment_attempt_at is None
        assert not done.awaits_next_attempt(at)
    assert last.status is SubscriptionStatus.CANCELLED
