"""What an organization's billing looks like: status, history, audit timeline (S6, P3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from fitdata_core.access import Action
from fitdata_core.events import DomainEvent
from fitdata_core.model.billing import (
    BillingTransaction,
    CancelReason,
    PlatformSubscription,
    SubscriptionStatus,
)
from fitdata_core.model.organizations import Organization
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.paging import (
    decode_position_cursor,
    decode_time_cursor,
    encode_position_cursor,
    encode_time_cursor,
    with_next_cursor,
)
from fitdata_core.ports.repositories import Page
from fitdata_core.rules.billing_access import AccessState, access_state
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.common import authorize, load_org
from fitdata_core.usecases.members import check_paging

__all__ = [
    "BillingStatus",
    "billing_status",
    "get_billing_status",
    "list_events",
    "list_transactions",
    "read_status",
]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@attrs.frozen
class BillingStatus:
    """The billing page's data. ``status`` is ``"none"`` when the org never subscribed."""

    organization_id: str
    tier: PlatformTier
    status: str
    subscription_tier: PlatformTier | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    failed_payment_count: int
    cancel_at_period_end: bool
    cancellation_effective_at: datetime | None
    last_charged_at: datetime | None
    cancel_reason: CancelReason | None
    card_last4: str | None
    access: AccessState
    next_payment_attempt_at: datetime | None = None
    """Past due only: when dunning next tries the card (the first sweep at or after it)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "organizationId": self.organization_id,
            "tier": self.tier.value,
            "status": self.status,
            "subscriptionTier": self.subscription_tier.value if self.subscription_tier else None,
            "currentPeriodStart": _iso(self.current_period_start),
            "currentPeriodEnd": _iso(self.current_period_end),
            "failedPaymentCount": self.failed_payment_count,
            "nextPaymentAttemptAt": _iso(self.next_payment_attempt_at),
            "cancelAtPeriodEnd": self.cancel_at_period_end,
            "cancellationEffectiveAt": _iso(self.cancellation_effective_at),
            "lastChargedAt": _iso(self.last_charged_at),
            "cancelReason": self.cancel_reason.value if self.cancel_reason else None,
            "cardLast4": self.card_last4,
            "access": {
                "level": self.access.level.value,
                "reason": self.access.reason,
                "until": _iso(self.access.until),
            },
        }


def _cancellation_effective_at(sub: PlatformSubscription) -> datetime | None:
    if sub.status is SubscriptionStatus.CANCELLED:
        return sub.cancelled_at
    if sub.cancel_at_period_end:
        return sub.current_period_end
    return None


def billing_status(org: Organization, sub: PlatformSubscription | None) -> BillingStatus:
    """The status view of an organization and its subscription (pure)."""
    return BillingStatus(
        organization_id=org.id,
        tier=org.platform_tier,
        status=sub.status.value if sub else "none",
        subscription_tier=sub.tier if sub else None,
        current_period_start=sub.current_period_start if sub else None,
        current_period_end=sub.current_period_end if sub else None,
        failed_payment_count=sub.failed_payment_count if sub else 0,
        cancel_at_period_end=sub.cancel_at_period_end if sub else False,
        cancellation_effective_at=_cancellation_effective_at(sub) if sub else None,
        last_charged_at=sub.last_charged_at if sub else None,
        cancel_reason=sub.cancel_reason if sub else None,
        card_last4=sub.card.last4 if sub and sub.card else None,
        access=access_state(sub),
        next_payment_attempt_at=sub.next_payment_attempt_at if sub else None,
    )


async def get_billing_status(svc: Services, actor: Actor, org_id: str) -> BillingStatus:
    """Any active member may read it (P3)."""
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.READ_BILLING)
        org = await load_org(uow, org_id)
        sub = await uow.subscriptions.get_by_org(org_id)
    return billing_status(org, sub)


async def read_status(svc: Services, org_id: str) -> BillingStatus:
    """The status without an authorization check (for use cases that already made one)."""
    async with svc.uow() as uow:
        org = await load_org(uow, org_id)
        sub = await uow.subscriptions.get_by_org(org_id)
    return billing_status(org, sub)


async def list_transactions(
    svc: Services,
    actor: Actor,
    org_id: str,
    *,
    limit: int = 20,
    offset: int = 0,
    cursor: str | None = None,
) -> Page[BillingTransaction]:
    """The org's payment history, newest first.

    Paged by ``offset`` (with a total) or by ``cursor`` (a previous page's ``next_cursor``,
    no total), like :func:`fitdata_core.usecases.members.list_members`.
    """
    check_paging(limit, offset, cursor)
    after = decode_time_cursor(cursor) if cursor is not None else None
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.READ_BILLING)
        page = await uow.billing_transactions.list_for_org(
            org_id, limit=limit + 1, offset=offset, after=after
        )
    return with_next_cursor(page, limit, lambda txn: encode_time_cursor(txn.created_at, txn.id))


async def list_events(
    svc: Services,
    actor: Actor,
    org_id: str,
    *,
    limit: int = 50,
    offset: int = 0,
    cursor: str | None = None,
) -> Page[DomainEvent]:
    """The org's billing audit timeline, in the order things happened.

    Paged by ``offset`` (with a total) or by ``cursor`` (a previous page's ``next_cursor``,
    no total): events recorded after a page was read show up on later pages, never twice.
    """
    check_paging(limit, offset, cursor)
    after = decode_position_cursor(cursor) if cursor is not None else None
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.READ_BILLING)
        placed = await uow.billing_events.list_placed(
            org_id, limit=limit + 1, offset=offset, after=after
        )
    page = with_next_cursor(placed, limit, lambda entry: encode_position_cursor(entry.position))
    return Page(
        items=[entry.event for entry in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        next_cursor=page.next_cursor,
    )
