"""Platform billing: the subscription an organization pays and the transactions that pay it.

Two state machines, each an explicit table:

* :data:`TRANSACTION_TRANSITIONS`: ``pending -> completed | failed | cancelled``; every
  terminal state is final, so a completed payment never changes again and a cancelled one
  never completes.
* :data:`SUBSCRIPTION_TRANSITIONS`: ``active <-> past_due``, either ``-> cancelled``, and
  ``cancelled -> active`` only through a new paid checkout.

A past-due subscription carries the time of its next renewal attempt
(``next_payment_attempt_at``), set from the failed attempt's time; no other status has one.

The organization's effective tier is a pure function of its subscription
(:func:`effective_tier`), so it cannot drift from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import attrs

from fitdata_core.errors import BusinessRuleViolation, IllegalTransition
from fitdata_core.events import DomainEvent
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.money import Money
from fitdata_core.statemachine import TransitionTable

__all__ = [
    "MAX_FAILED_PAYMENTS",
    "SUBSCRIPTION_TRANSITIONS",
    "TRANSACTION_TRANSITIONS",
    "BillingTransaction",
    "CancelReason",
    "PlatformSubscription",
    "StoredCard",
    "SubscriptionStatus",
    "TransactionKind",
    "TransactionStatus",
    "effective_tier",
]

MAX_FAILED_PAYMENTS = 3

#: Dunning: a past-due subscription's next renewal attempt comes this long after the failed
#: one, measured in the sweep's "as of" time. A little under a day, so the next daily run
#: retries even when it starts a few seconds early.
RETRY_SPACING = timedelta(hours=20)


class TransactionStatus(StrEnum):
    """Where a billing transaction is; the allowed moves are in its transition table."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TransactionKind(StrEnum):
    """Why a billing transaction exists: a checkout on the hosted page, or a monthly renewal."""

    CHECKOUT = "checkout"
    RENEWAL = "renewal"


TRANSACTION_TRANSITIONS = TransitionTable[TransactionStatus](
    "billing transaction",
    {
        TransactionStatus.PENDING: frozenset(
            {TransactionStatus.COMPLETED, TransactionStatus.FAILED, TransactionStatus.CANCELLED}
        ),
    },
)


@attrs.frozen
class BillingTransaction:
    """One payment attempt for a platform tier (a Cardcom checkout or a token charge) and its
    outcome."""

    id: str
    organization_id: str
    kind: TransactionKind
    tier: PlatformTier
    amount: Money
    status: TransactionStatus
    created_at: datetime
    metadata: dict[str, Any] = attrs.field(factory=dict)
    low_profile_id: str | None = None
    external_uniq_id: str | None = None
    provider_transaction_id: str | None = None
    completed_at: datetime | None = None
    failure_reason: str | None = None
    alerted_at: datetime | None = None

    def _event(self, name: str, at: datetime, **data: Any) -> DomainEvent:
        return DomainEvent(name, "billing_transaction", self.id, at, data)

    def complete(
        self, at: datetime, *, provider_transaction_id: str | None
    ) -> tuple[BillingTransaction, list[DomainEvent]]:
        TRANSACTION_TRANSITIONS.check(self.status, TransactionStatus.COMPLETED)
        txn = attrs.evolve(
            self,
            status=TransactionStatus.COMPLETED,
            completed_at=at,
            provider_transaction_id=provider_transaction_id,
        )
        return txn, [self._event("transaction.completed", at, amount=str(self.amount.amount))]

    def fail(self, at: datetime, reason: str) -> tuple[BillingTransaction, list[DomainEvent]]:
        TRANSACTION_TRANSITIONS.check(self.status, TransactionStatus.FAILED)
        txn = attrs.evolve(
            self, status=TransactionStatus.FAILED, completed_at=at, failure_reason=reason
        )
        return txn, [self._event("transaction.failed", at, reason=reason)]

    def cancel(self, at: datetime, reason: str) -> tuple[BillingTransaction, list[DomainEvent]]:
        TRANSACTION_TRANSITIONS.check(self.status, TransactionStatus.CANCELLED)
        txn = attrs.evolve(
            self, status=TransactionStatus.CANCELLED, completed_at=at, failure_reason=reason
        )
        return txn, [self._event("transaction.cancelled", at, reason=reason)]

    def mark_alerted(self, at: datetime) -> BillingTransaction:
        return attrs.evolve(self, alerted_at=at)


class SubscriptionStatus(StrEnum):
    """Where a platform subscription is; the allowed moves are in its transition table."""

    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELLED = "cancelled"


SUBSCRIPTION_TRANSITIONS = TransitionTable[SubscriptionStatus](
    "platform subscription",
    {
        SubscriptionStatus.ACTIVE: frozenset(
            {SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.CANCELLED}
        ),
        SubscriptionStatus.PAST_DUE: frozenset(
            {SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.CANCELLED}
        ),
        SubscriptionStatus.CANCELLED: frozenset({SubscriptionStatus.ACTIVE}),
    },
)


class CancelReason(StrEnum):
    """Why a platform subscription ended."""

    OWNER_REQUESTED = "owner-requested"
    SCHEDULED_PERIOD_END = "scheduled-cancel-period-end"
    MAX_FAILED_PAYMENTS = "max-failed-payments"
    EXPIRED_NO_TOKEN = "expired-no-token"  # noqa: S105 - a reason, not a secret
    ADMIN_FORCE = "admin-force-cancel"
    NO_PERIOD = "no-current-period"


@attrs.frozen
class StoredCard:
    """A card token as stored: ciphertext plus the id of the key that sealed it."""

    token_ciphertext: bytes
    key_id: str
    expiry_mmyy: str | None = None
    last4: str | None = None


@attrs.frozen
class PlatformSubscription:
    """An organization's paid platform tier: its period, card token reference, dunning state and
    cancellation."""

    id: str
    organization_id: str
    tier: PlatformTier
    status: SubscriptionStatus
    created_at: datetime
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    failed_payment_count: int = 0
    cancel_reason: CancelReason | None = None
    cancelled_at: datetime | None = None
    last_charged_at: datetime | None = None
    card: StoredCard | None = None
    next_payment_attempt_at: datetime | None = None
    """When dunning next tries the card (past due only); ``None`` otherwise."""

    def _event(self, name: str, at: datetime, **data: Any) -> DomainEvent:
        return DomainEvent(name, "platform_subscription", self.id, at, data)

    def _move(self, target: SubscriptionStatus) -> None:
        SUBSCRIPTION_TRANSITIONS.check(self.status, target)

    @property
    def effective_tier(self) -> PlatformTier:
        return effective_tier(self)

    def activate(
        self,
        at: datetime,
        *,
        tier: PlatformTier,
        period_end: datetime,
        card: StoredCard | None,
    ) -> tuple[PlatformSubscription, list[DomainEvent]]:
        """A paid checkout completed: start a fresh period on ``tier``."""
        self._move(SubscriptionStatus.ACTIVE)
        sub = attrs.evolve(
            self,
            tier=tier,
            status=SubscriptionStatus.ACTIVE,
            current_period_start=at,
            current_period_end=period_end,
            cancel_at_period_end=False,
            failed_payment_count=0,
            cancel_reason=None,
            cancelled_at=None,
            last_charged_at=at,
            card=card or self.card,
            next_payment_attempt_at=None,
        )
        return sub, [self._event("subscription.activated", at, tier=tier.value)]

    def renewal_succeeded(
        self, at: datetime, *, period_end: datetime
    ) -> tuple[PlatformSubscription, list[DomainEvent]]:
        if self.status is SubscriptionStatus.CANCELLED:
            # The table's cancelled -> active is for a new paid checkout (activate), never a
            # renewal: a cancelled subscription has no period left to renew.
            raise IllegalTransition("platform subscription", self.status.value, "renewed")
        self._move(SubscriptionStatus.ACTIVE)
        sub = attrs.evolve(
            self,
            status=SubscriptionStatus.ACTIVE,
            current_period_start=self.current_period_end or at,
            current_period_end=period_end,
            failed_payment_count=0,
            last_charged_at=at,
            next_payment_attempt_at=None,
        )
        return sub, [self._event("subscription.renewed", at, period_end=period_end.isoformat())]

    def renewal_failed(
        self,
        at: datetime,
        reason: str,
        *,
        max_failures: int = MAX_FAILED_PAYMENTS,
        retry_spacing: timedelta = RETRY_SPACING,
    ) -> tuple[PlatformSubscription, list[DomainEvent]]:
        """Count a failed renewal attempt made at ``at`` (the sweep's "as of" time).

        The ``max_failures``-th one cancels the subscription; an earlier one makes it past due
        with its next attempt ``retry_spacing`` after ``at``.
        """
        count = self.failed_payment_count + 1
        if count >= max_failures:
            failed = attrs.evolve(self, failed_payment_count=count)
            sub, events = failed.cancel(at, CancelReason.MAX_FAILED_PAYMENTS)
            return sub, [self._event("subscription.payment_failed", at, count=count), *events]
        self._move(SubscriptionStatus.PAST_DUE)
        next_attempt = at + retry_spacing
        sub = attrs.evolve(
            self,
            status=SubscriptionStatus.PAST_DUE,
            failed_payment_count=count,
            next_payment_attempt_at=next_attempt,
        )
        event = self._event(
            "subscription.payment_failed",
            at,
            count=count,
            reason=reason,
            next_attempt_at=next_attempt.isoformat(),
        )
        return sub, [event]

    def schedule_cancel(self, at: datetime) -> tuple[PlatformSubscription, list[DomainEvent]]:
        if self.status is SubscriptionStatus.CANCELLED:
            raise BusinessRuleViolation(
                "The subscription is already cancelled.", code="ALREADY_CANCELLED"
            )
        sub = attrs.evolve(self, cancel_at_period_end=True)
        return sub, [self._event("subscription.cancel_scheduled", at)]

    def resume(self, at: datetime) -> tuple[PlatformSubscription, list[DomainEvent]]:
        if self.status is SubscriptionStatus.CANCELLED or not self.cancel_at_period_end:
            raise BusinessRuleViolation(
                "Only a subscription scheduled to cancel can be resumed.", code="NOT_RESUMABLE"
            )
        sub = attrs.evolve(self, cancel_at_period_end=False)
        return sub, [self._event("subscription.resumed", at)]

    def cancel(
        self, at: datetime, reason: CancelReason
    ) -> tuple[PlatformSubscription, list[DomainEvent]]:
        self._move(SubscriptionStatus.CANCELLED)
        sub = attrs.evolve(
            self,
            status=SubscriptionStatus.CANCELLED,
            cancel_reason=reason,
            cancelled_at=at,
            cancel_at_period_end=False,
            next_payment_attempt_at=None,
        )
        return sub, [self._event("subscription.cancelled", at, reason=reason.value)]

    def is_due(self, as_of: datetime) -> bool:
        """The period has ended by ``as_of`` and the subscription is not cancelled."""
        return (
            self.status is not SubscriptionStatus.CANCELLED
            and self.current_period_end is not None
            and self.current_period_end <= as_of
        )

    def awaits_next_attempt(self, as_of: datetime) -> bool:
        """Dunning: a past-due subscription whose next attempt is later than ``as_of``.

        Both times are "as of" times, never the wall clock, so sweeps run at successive
        ``--at`` days retry once a day whenever they really run, and a second sweep at the
        same ``as_of`` does not try again. A past-due row without a next attempt (from before
        the column existed and not back-filled) is tried now.
        """
        return (
            self.status is SubscriptionStatus.PAST_DUE
            and self.next_payment_attempt_at is not None
            and as_of < self.next_payment_attempt_at
        )


def effective_tier(subscription: PlatformSubscription | None) -> PlatformTier:
    """The tier an organization gets from its subscription: lite unless it is not cancelled."""
    if subscription is None or subscription.status is SubscriptionStatus.CANCELLED:
        return PlatformTier.LITE
    return subscription.tier
