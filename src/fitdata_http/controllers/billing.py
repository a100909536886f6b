"""``/organizations/{orgId}/billing``: the organization's platform subscription.

Checkout, the return page's verify call, the status page, the payment history and audit
timeline, cancel/resume and the tier change. Authorization lives in the use cases: reading
is for any active member (P3), every change is for the owner (P1, P2, P4). Money comes out as
``{amount, currency}``; card tokens and their ciphertext never leave the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import attrs
from litestar import Controller, get, patch, post

from fitdata_core.access import Action
from fitdata_core.events import DomainEvent
from fitdata_core.model.billing import BillingTransaction, TransactionKind, TransactionStatus
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.money import Money
from fitdata_core.usecases import billing
from fitdata_http.contract import answers
from fitdata_http.deps import ActorDep, OrgIdDep, ServicesDep
from fitdata_http.envelope import Envelope, created, ok, paged
from fitdata_http.idempotency import IdempotencyDep
from fitdata_http.openapi import BEARER
from fitdata_http.params import (
    LOW_PROFILE_ID_PATTERN,
    MAX_LOW_PROFILE_ID_LENGTH,
    ORG_PATH,
    Cursor,
    Limit,
    Offset,
    parse_low_profile_id,
    read_body,
)
from fitdata_http.schemas import json_body, limits

__all__ = [
    "BillingController",
    "BillingEventData",
    "BillingEventView",
    "ChosenTier",
    "PaidTier",
    "TransactionView",
    "VerifyCheckout",
]


T = TypeVar("T")


@attrs.frozen
class ChosenTier:
    """``{tier: lite|pro|elite}``."""

    tier: PlatformTier


@attrs.frozen
class PaidTier:
    """``{tier: pro|elite}``: a tier to buy (lite is free: 400 ``FREE_TIER``)."""

    tier: PlatformTier = attrs.field(
        metadata=limits(enum=[t.value for t in PlatformTier if not t.is_free])
    )


@attrs.frozen
class VerifyCheckout:
    """``{lowProfileId}``: the id Cardcom put in the return URL (``lowprofilecode``)."""

    low_profile_id: str = attrs.field(
        metadata=limits(
            min_length=1, max_length=MAX_LOW_PROFILE_ID_LENGTH, pattern=LOW_PROFILE_ID_PATTERN
        )
    )


@attrs.frozen
class TransactionView:
    """One payment attempt as the API shows it (no card data, no internal metadata)."""

    id: str
    kind: TransactionKind
    tier: PlatformTier
    amount: Money
    status: TransactionStatus
    created_at: datetime
    completed_at: datetime | None
    failure_reason: str | None
    provider_transaction_id: str | None
    low_profile_id: str | None

    @classmethod
    def of(cls, txn: BillingTransaction) -> TransactionView:
        return cls(
            id=txn.id,
            kind=txn.kind,
            tier=txn.tier,
            amount=txn.amount,
            status=txn.status,
            created_at=txn.created_at,
            completed_at=txn.completed_at,
            failure_reason=txn.failure_reason,
            provider_transaction_id=txn.provider_transaction_id,
            low_profile_id=txn.low_profile_id,
        )


def _optional(value: Any, parse: Callable[[Any], T]) -> T | None:
    return None if value is None else parse(value)


@attrs.frozen
class BillingEventData:
    """What an audit event records; a field is null when the event does not carry it.

    ``transaction.created``: kind, tier, amount; ``transaction.completed``: amount;
    ``transaction.failed``/``cancelled``: reason; ``subscription.activated``: tier;
    ``subscription.renewed``: periodEnd; ``subscription.payment_failed``: count, and reason and
    nextAttemptAt while retries remain; ``subscription.cancelled``: reason;
    ``organization.tier_changed``: fromTier, toTier.
    """

    kind: TransactionKind | None = None
    tier: PlatformTier | None = None
    amount: Decimal | None = None
    reason: str | None = None
    count: int | None = None
    period_end: datetime | None = None
    next_attempt_at: datetime | None = None
    from_tier: PlatformTier | None = None
    to_tier: PlatformTier | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> BillingEventData:
        return cls(
            kind=_optional(data.get("kind"), TransactionKind),
            tier=_optional(data.get("tier"), PlatformTier),
            amount=_optional(data.get("amount"), lambda v: Decimal(str(v))),
            reason=_optional(data.get("reason"), str),
            count=_optional(data.get("count"), int),
            period_end=_optional(data.get("period_end"), datetime.fromisoformat),
            next_attempt_at=_optional(data.get("next_attempt_at"), datetime.fromisoformat),
            from_tier=_optional(data.get("from"), PlatformTier),
            to_tier=_optional(data.get("to"), PlatformTier),
        )


@attrs.frozen
class BillingEventView:
    """One entry of the billing audit timeline."""

    name: str
    aggregate: str
    aggregate_id: str
    occurred_at: datetime
    data: BillingEventData

    @classmethod
    def of(cls, event: DomainEvent) -> BillingEventView:
        return cls(
            name=event.name,
            aggregate=event.aggregate,
            aggregate_id=event.aggregate_id,
            occurred_at=event.occurred_at,
            data=BillingEventData.of(event.data),
        )


_PAID = ", ".join(t.value for t in PlatformTier if not t.is_free)
_CHECKOUT_BODY = json_body(
    PaidTier,
    f"The paid tier to buy ({_PAID}); lite is free: 400 FREE_TIER. A second call for the same "
    "tier within 10 minutes returns the same payment page.",
)
_TIER_BODY = json_body(
    ChosenTier,
    "lite while paid: cancel at the period end. A paid tier while on lite: 400 "
    "PAYMENT_REQUIRED (use checkout). Another paid tier while paid: 400 "
    "PAID_DOWNGRADE_UNSUPPORTED (cancel, then check out).",
)
_VERIFY_BODY = json_body(
    VerifyCheckout,
    "`lowProfileId`: the LowProfile id from the `lowprofilecode` parameter of the return URL "
    "(Cardcom issues UUIDs; letters, digits, `-` and `_`, at most "
    f"{MAX_LOW_PROFILE_ID_LENGTH} characters). Blank, or anything that cannot be such an id, "
    "is a 400 naming the field.",
)


class BillingController(Controller):
    path = ORG_PATH + "/billing"
    tags = ["billing"]  # noqa: RUF012 - Litestar reads these as class attributes
    security = BEARER

    @get(
        "/",
        opt=answers(billing.BillingStatus),
        summary="Billing status: tier, period, failures, cancellation, access (members)",
    )
    async def status(self, services: ServicesDep, actor: ActorDep, org_id: OrgIdDep) -> Envelope:
        return ok(await billing.get_billing_status(services, actor, org_id))

    @post(
        "/checkout",
        opt=answers(billing.CheckoutSession),
        summary="Start a Cardcom checkout for a paid tier (owner)",
    )
    async def checkout(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        data: Annotated[dict[str, Any], _CHECKOUT_BODY],
        idempotency: IdempotencyDep,
    ) -> Envelope:
        body = read_body(data, PaidTier)

        async def start() -> Envelope:
            return created(await billing.start_checkout(services, actor, org_id, body.tier))

        return await idempotency.run(start, Action.CHANGE_BILLING)

    @post(
        "/verify-checkout",
        status_code=200,
        opt=answers(billing.CheckoutVerification),
        summary="Verify a checkout with Cardcom after the redirect (owner)",
    )
    async def verify_checkout(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        data: Annotated[dict[str, Any], _VERIFY_BODY],
    ) -> Envelope:
        body = read_body(data, VerifyCheckout)
        low_profile_id = parse_low_profile_id(body.low_profile_id)
        verification = await billing.verify_checkout(services, actor, org_id, low_profile_id)
        return ok(verification)

    @get(
        "/transactions",
        opt=answers(TransactionView, shape="page"),
        summary="Payment history, newest first (members)",
    )
    async def transactions(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        limit: Limit = 20,
        offset: Offset = 0,
        cursor: Cursor = None,
    ) -> Envelope:
        page = await billing.list_transactions(
            services, actor, org_id, limit=limit, offset=offset, cursor=cursor
        )
        return paged(page, TransactionView.of)

    @get(
        "/events",
        opt=answers(BillingEventView, shape="page"),
        summary="Billing audit timeline, oldest first (members)",
    )
    async def events(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        limit: Limit = 50,
        offset: Offset = 0,
        cursor: Cursor = None,
    ) -> Envelope:
        page = await billing.list_events(
            services, actor, org_id, limit=limit, offset=offset, cursor=cursor
        )
        return paged(page, BillingEventView.of)

    @post(
        "/cancel",
        status_code=200,
        opt=answers(billing.BillingStatus),
        summary="Cancel at the end of the paid period (owner)",
    )
    async def cancel(self, services: ServicesDep, actor: ActorDep, org_id: OrgIdDep) -> Envelope:
        return ok(await billing.cancel_subscription(services, actor, org_id))

    @post(
        "/resume",
        status_code=200,
        opt=answers(billing.BillingStatus),
        summary="Undo a scheduled cancellation (owner)",
    )
    async def resume(self, services: ServicesDep, actor: ActorDep, org_id: OrgIdDep) -> Envelope:
        return ok(await billing.resume_subscription(services, actor, org_id))

    @patch(
        "/tier",
        opt=answers(billing.BillingStatus),
        summary="Change the tier: lite cancels at period end (owner)",
    )
    async def change_tier(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        data: Annotated[dict[str, Any], _TIER_BODY],
    ) -> Envelope:
        body = read_body(data, ChosenTier)
        return ok(await billing.change_tier(services, actor, org_id, body.tier))
