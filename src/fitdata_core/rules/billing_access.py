"""What a subscription grants right now: full access, a grace period, or none.

The rules (the spec left past-due access open; this is the decision):

* **full**: an active subscription, until its period ends. When the owner scheduled a
  cancellation, full access still runs to the period end (``reason="cancel-scheduled"``).
* **grace**: a past-due subscription keeps its paid features while dunning runs. The renewal
  sweep retries it on every (daily) run and cancels it on the
  :data:`~fitdata_core.model.billing.MAX_FAILED_PAYMENTS`-th failure, so grace lasts at most
  that many days after the period ended; ``until`` is that cancellation point.
* **none**: no subscription, or a cancelled one: lite features only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import attrs

from fitdata_core.model.billing import (
    MAX_FAILED_PAYMENTS,
    PlatformSubscription,
    SubscriptionStatus,
)

__all__ = [
    "RETRY_INTERVAL",
    "AccessLevel",
    "AccessState",
    "access_state",
]

# One renewal attempt per daily sweep: the longest a past-due subscription can last.
RETRY_INTERVAL = timedelta(days=1)


class AccessLevel(StrEnum):
    """How much of its paid tier an organization may use right now."""

    FULL = "full"
    GRACE = "grace"
    NONE = "none"


@attrs.frozen
class AccessState:
    """The access level of a subscription, why, and until when."""

    level: AccessLevel
    reason: str
    until: datetime | None = None


def _grace_ends_at(subscription: PlatformSubscription) -> datetime | None:
    """The latest moment dunning can end (the last retry) for a past-due subscription."""
    if subscription.current_period_end is None:
        return None
    return subscription.current_period_end + RETRY_INTERVAL * MAX_FAILED_PAYMENTS


def access_state(subscription: PlatformSubscription | None) -> AccessState:
    """The access ``subscription`` grants; see the module docstring for the rules."""
    if subscription is None:
        return AccessState(AccessLevel.NONE, "no-subscription")
    if subscription.status is SubscriptionStatus.CANCELLED:
        reason = subscription.cancel_reason.value if subscription.cancel_reason else "cancelled"
        return AccessState(AccessLevel.NONE, reason)
    if subscription.status is SubscriptionStatus.PAST_DUE:
        return AccessState(AccessLevel.GRACE, "payment-failed", _grace_ends_at(subscription))
    reason = "cancel-scheduled" if subscription.cancel_at_period_end else "active"
    return AccessState(AccessLevel.FULL, reason, subscription.current_period_end)
