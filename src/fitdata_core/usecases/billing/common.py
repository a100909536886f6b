"""Steps the billing use cases share inside a unit of work.

Lock order, everywhere: billing transactions, then the subscription, then the organization.
Keeping one order means two units of work never wait on each other in a cycle.

The organization row doubles as the per-organization checkout lock
(:func:`lock_checkouts`): a checkout takes it after locking the pending checkouts it can
already see, which keeps that order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from fitdata_core.errors import NotFound
from fitdata_core.events import DomainEvent
from fitdata_core.model.billing import (
    BillingTransaction,
    CancelReason,
    PlatformSubscription,
    StoredCard,
    SubscriptionStatus,
    TransactionKind,
    TransactionStatus,
    effective_tier,
)
from fitdata_core.model.organizations import Organization
from fitdata_core.ports.infrastructure import Ciphertext, EmailMessage
from fitdata_core.ports.providers import PaymentResult
from fitdata_core.ports.repositories import UnitOfWork
from fitdata_core.services import Services
from fitdata_core.usecases.billing import emails

__all__ = [
    "Cancellation",
    "cancel_now",
    "cancel_pending",
    "card_context",
    "lock_checkouts",
    "locked_org",
    "new_transaction_event",
    "open_card",
    "pending_of_org",
    "record",
    "seal_card",
    "sync_tier",
]


def card_context(org_id: str) -> str:
    """Binds a sealed card token to its organization: it opens for no other."""
    return f"card-token:{org_id}"


def seal_card(svc: Services, org_id: str, result: PaymentResult) -> StoredCard | None:
    """The card token from a paid checkout, sealed; the plaintext is not kept anywhere."""
    if not result.card_token:
        return None
    sealed = svc.cipher.encrypt(result.card_token.encode(), context=card_context(org_id))
    return StoredCard(
        token_ciphertext=sealed.blob,
        key_id=sealed.key_id,
        expiry_mmyy=result.card_expiry_mmyy,
        last4=result.card_last4,
    )


def open_card(svc: Services, org_id: str, card: StoredCard) -> str:
    """The plaintext token, for the one charge request that needs it."""
    sealed = Ciphertext(key_id=card.key_id, blob=card.token_ciphertext)
    return svc.cipher.decrypt(sealed, context=card_context(org_id)).decode()


async def record(uow: UnitOfWork, org_id: str, events: Iterable[DomainEvent]) -> None:
    """Append events to the organization's billing audit timeline (in one round trip)."""
    batch = list(events)
    if batch:
        await uow.billing_events.add_many(org_id, batch)


async def locked_org(uow: UnitOfWork, org_id: str) -> Organization:
    """The organization, locked for update in this unit of work (``NotFound`` if absent)."""
    org = await uow.organizations.get_for_update(org_id)
    if org is None:
        raise NotFound(f"Organization {org_id} not found.")
    return org


async def sync_tier(
    uow: UnitOfWork, org: Organization, sub: PlatformSubscription | None, at: datetime
) -> tuple[Organization, list[DomainEvent]]:
    """Make the organization's tier what its subscription grants (the tier guard reads it)."""
    tier = effective_tier(sub)
    if org.platform_tier is tier:
        return org, []
    updated = org.with_tier(tier)
    await uow.organizations.update(updated)
    event = DomainEvent(
        "organization.tier_changed",
        "organization",
        org.id,
        at,
        {"from": org.platform_tier.value, "to": tier.value},
    )
    return updated, [event]


def new_transaction_event(txn: BillingTransaction, at: datetime) -> DomainEvent:
    """The ``transaction.created`` audit event of ``txn``."""
    return DomainEvent(
        "transaction.created",
        "billing_transaction",
        txn.id,
        at,
        {"kind": txn.kind.value, "tier": txn.tier.value, "amount": str(txn.amount.amount)},
    )


async def pending_of_org(
    uow: UnitOfWork, org_id: str, *, kind: TransactionKind | None = None
) -> list[BillingTransaction]:
    """The organization's pending transactions, of ``kind`` when given."""
    found = await uow.billing_transactions.list_by_status(
        TransactionStatus.PENDING, org_id=org_id, limit=1000
    )
    return [t for t in found if kind is None or t.kind is kind]


async def lock_checkouts(uow: UnitOfWork, org_id: str) -> Organization:
    """Take the organization's checkout lock: concurrent checkouts of one org queue here.

    The pending checkouts visible now are locked first and the organization row last, to keep
    the lock order of this module (an activation holds its transaction, then wants the org).
    Whoever gets the org row next reads, in a new statement, whatever the previous holder
    committed (Postgres's default READ COMMITTED), so look for a pending checkout only after
    this call. On SQLite the write transaction (``BEGIN IMMEDIATE``) already admits one
    checkout at a time.

    The one exception to the order: a checkout the previous holder just committed is locked
    after the org row when this one supersedes it (another tier). Only an activation or a
    cancellation of that very page in the same instant could wait on us in a cycle; Postgres
    then breaks the deadlock and one request gets "try again" (``DatabaseUnavailable``).
    """
    for found in await pending_of_org(uow, org_id, kind=TransactionKind.CHECKOUT):
        await uow.billing_transactions.get_for_update(found.id)
    return await locked_org(uow, org_id)


async def cancel_pending(
    uow: UnitOfWork,
    org_id: str,
    at: datetime,
    reason: str,
    *,
    kind: TransactionKind | None = None,
    keep: str | None = None,
) -> list[DomainEvent]:
    """Cancel the organization's pending transactions (re-read under lock; ``keep`` is spared).

    A webhook that arrives for one of them later changes nothing (W5).
    """
    events: list[DomainEvent] = []
    for found in await pending_of_org(uow, org_id, kind=kind):
        if found.id == keep:
            continue
        txn = await uow.billing_transactions.get_for_update(found.id)
        if txn is None or txn.status is not TransactionStatus.PENDING:
            continue
        cancelled, txn_events = txn.cancel(at, reason)
        await uow.billing_transactions.update(cancelled)
        events.extend(txn_events)
    return events


@attrs.frozen
class Cancellation:
    """A subscription as cancelled, and the mail to send once the change is committed."""

    subscription: PlatformSubscription | None
    mail: list[EmailMessage]


async def cancel_now(
    svc: Services,
    uow: UnitOfWork,
    org_id: str,
    reason: CancelReason,
    at: datetime,
    *,
    cancel_pending_transactions: bool,
) -> Cancellation:
    """Cancel the subscription at once and move the organization to lite.

    With ``cancel_pending_transactions`` the org's in-flight charges are cancelled too
    (owner and administrator cancellations; the sweeps leave an owner's new checkout alone).
    The caller commits and then sends ``mail``.
    """
    events: list[DomainEvent] = []
    if cancel_pending_transactions:
        events += await cancel_pending(uow, org_id, at, f"subscription cancelled: {reason.value}")
    sub = await uow.subscriptions.get_by_org_for_update(org_id)
    org = await locked_org(uow, org_id)
    mail: list[EmailMessage] = []
    if sub is not None and sub.status is not SubscriptionStatus.CANCELLED:
        sub, sub_events = sub.cancel(at, reason)
        await uow.subscriptions.save(sub)
        events += sub_events
        mail = emails.cancelled(await emails.audience_of(svc, uow, org), sub)
    _, tier_events = await sync_tier(uow, org, sub, at)
    await record(uow, org_id, [*events, *tier_events])
    return Cancellation(sub, mail)
