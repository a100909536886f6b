"""Starting a hosted checkout for a paid tier (S1, S4, S5, S7, P1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from fitdata_core.access import Action
from fitdata_core.errors import (
    DATABASE_CONTENTION,
    BusinessRuleViolation,
    Conflict,
    DatabaseUnavailable,
    InvalidInput,
)
from fitdata_core.model.billing import (
    BillingTransaction,
    PlatformSubscription,
    SubscriptionStatus,
    TransactionKind,
    TransactionStatus,
)
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.ports.providers import CheckoutRequest
from fitdata_core.ports.repositories import UnitOfWork
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.billing.common import (
    cancel_pending,
    lock_checkouts,
    new_transaction_event,
    pending_of_org,
    record,
)
from fitdata_core.usecases.billing.config import CHECKOUT_REUSE_WINDOW
from fitdata_core.usecases.common import authorize, load_org

__all__ = [
    "CheckoutSession",
    "parse_tier",
    "start_checkout",
]


@attrs.frozen
class CheckoutSession:
    """Where to send the payer, and the transaction that tracks the payment."""

    transaction_id: str
    url: str
    low_profile_id: str
    reused: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "transactionId": self.transaction_id,
            "url": self.url,
            "lowProfileId": self.low_profile_id,
            "reused": self.reused,
        }


def parse_tier(value: PlatformTier | str) -> PlatformTier:
    """``value`` as a tier, or ``InvalidInput`` naming the field ``tier``."""
    try:
        return PlatformTier(value)
    except ValueError as exc:
        allowed = ", ".join(t.value for t in PlatformTier)
        raise InvalidInput(f"tier must be one of {allowed}.", field="tier") from exc


def _refuse_if_paid_up(sub: PlatformSubscription | None) -> None:
    """A running subscription is not bought twice; past-due ones may pay again, and so may
    one scheduled to cancel (that is how an owner moves to another paid tier: C8)."""
    if sub is not None and sub.status is SubscriptionStatus.ACTIVE and not sub.cancel_at_period_end:
        raise BusinessRuleViolation(
            f"The organization already has an active {sub.tier.value} subscription.",
            code="ALREADY_SUBSCRIBED",
        )


async def _reusable(
    uow: UnitOfWork, org_id: str, tier: PlatformTier, now: datetime
) -> BillingTransaction | None:
    """A pending checkout for the same tier younger than the reuse window (S4)."""
    for txn in reversed(await pending_of_org(uow, org_id, kind=TransactionKind.CHECKOUT)):
        if (
            txn.tier is tier
            and txn.low_profile_id
            and now - txn.created_at < CHECKOUT_REUSE_WINDOW
            and txn.metadata.get("paymentPageUrl")
        ):
            return txn
    return None


def _session(txn: BillingTransaction, *, reused: bool) -> CheckoutSession:
    return CheckoutSession(
        transaction_id=txn.id,
        url=str(txn.metadata["paymentPageUrl"]),
        low_profile_id=str(txn.low_profile_id),
        reused=reused,
    )


async def start_checkout(
    svc: Services, actor: Actor, org_id: str, tier: PlatformTier | str
) -> CheckoutSession:
    """Open a Cardcom payment page for ``tier`` and record the pending transaction.

    Owner only (P1). A free tier is refused (S7). A second call for the same tier within
    10 minutes returns the same page without a new row (S4); a checkout for another tier
    cancels the earlier pending one (S5). The gateway call happens outside any unit of work;
    the decision to record its page is taken under the organization's checkout lock
    (:func:`~fitdata_core.usecases.billing.common.lock_checkouts`), so concurrent calls
    leave exactly one pending checkout and hand every caller that one page.
    """
    now = svc.clock.now()
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.CHANGE_BILLING)
        tier = parse_tier(tier)
        price = svc.billing.price_of(tier)
        _refuse_if_paid_up(await uow.subscriptions.get_by_org(org_id))
        reusable = await _reusable(uow, org_id, tier, now)
        if reusable is not None:
            return _session(reusable, reused=True)
        org = await load_org(uow, org_id)
        user = await uow.users.get(actor.user_id)

    txn_id = svc.ids.new_id()
    page = await svc.payment_gateway.create_checkout(
        CheckoutRequest(
            return_value=txn_id,
            amount=price,
            product_name=f"fitdata {tier.value.capitalize()} plan, monthly ({org.name})",
            payer_email=user.email if user else None,
        )
    )
    txn = BillingTransaction(
        id=txn_id,
        organization_id=org_id,
        kind=TransactionKind.CHECKOUT,
        tier=tier,
        amount=price,
        status=TransactionStatus.PENDING,
        created_at=now,
        metadata={"tier": tier.value, "paymentPageUrl": page.url},
        low_profile_id=page.low_profile_id,
    )
    # Contention between checkouts of two tiers can deadlock in Postgres (see lock_checkouts);
    # the loser's transaction is rolled back whole, so deciding again is safe.
    for attempt in range(1, _CONTENTION_ATTEMPTS + 1):
        try:
            return await _record_checkout(svc, org_id, tier, txn, now)
        except DatabaseUnavailable as exc:
            if exc.code != DATABASE_CONTENTION or attempt == _CONTENTION_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


_CONTENTION_ATTEMPTS = 3


async def _record_checkout(
    svc: Services, org_id: str, tier: PlatformTier, txn: BillingTransaction, now: datetime
) -> CheckoutSession:
    async with svc.uow() as uow:
        # Two quick clicks (or twenty) may all have reached the gateway. They queue on the
        # organization's checkout lock, so each decides on what the one before it committed:
        # the first row wins, the later callers get its page, and their own pages are simply
        # never used.
        await lock_checkouts(uow, org_id)
        reusable = await _reusable(uow, org_id, tier, now)
        if reusable is not None:
            return _session(reusable, reused=True)
        events = await cancel_pending(
            uow,
            org_id,
            now,
            f"superseded by a {tier.value} checkout",
            kind=TransactionKind.CHECKOUT,
        )
        try:
            await uow.billing_transactions.add(txn)
        except Conflict as exc:
            raise Conflict("The payment page was issued twice; please try again.") from exc
        await record(uow, org_id, [*events, new_transaction_event(txn, now)])
        await uow.commit()
    return _session(txn, reused=False)
