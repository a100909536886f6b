"""The activation: the one place a paid checkout turns into a subscription.

The webhook, the return-page verify and the reconciler all end here, in any order and as many
times as they like: the transaction row is locked and only a *pending* one moves, so exactly
one caller activates and sends the receipt; the others see a settled row and do nothing
(W1, W2, W3). The gateway result is always pulled from the gateway, never taken from a post.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from enum import StrEnum

from fitdata_core.model.billing import (
    BillingTransaction,
    PlatformSubscription,
    SubscriptionStatus,
    TransactionStatus,
)
from fitdata_core.model.organizations import Organization
from fitdata_core.money import Money
from fitdata_core.ports.infrastructure import EmailMessage
from fitdata_core.ports.providers import PaymentResult, PaymentResultStatus
from fitdata_core.rules.billing_periods import next_period_end
from fitdata_core.services import Services
from fitdata_core.usecases.billing import emails
from fitdata_core.usecases.billing.common import locked_org, record, seal_card, sync_tier

__all__ = [
    "ActivationOutcome",
    "AfterAnswer",
    "apply_checkout_result",
    "settle_checkout",
]


class ActivationOutcome(StrEnum):
    """What applying a checkout result did (completed, already processed, deferred, ...)."""

    COMPLETED = "completed"
    """This call completed the payment and activated the subscription."""
    ALREADY_PROCESSED = "already_processed"
    """The transaction was settled before (another path won, or it was cancelled)."""
    DEFERRED = "deferred"
    """The gateway has no final answer yet; the row stays pending for the reconciler."""
    FAILED = "failed"
    """The gateway says the payment was declined; the transaction is now failed."""
    UNKNOWN = "unknown"
    """No transaction matches (or the gateway's answer names another one)."""
    IGNORED = "ignored"
    """A webhook without a LowProfileId: nothing to look up."""


AfterAnswer = Callable[[], Awaitable[None]]
"""Work a caller runs once it has answered (the webhook: the receipt), already committed."""


async def apply_checkout_result(
    svc: Services,
    txn_id: str,
    result: PaymentResult,
    *,
    at: datetime | None = None,
    mail_out: list[EmailMessage] | None = None,
    after_answer: list[AfterAnswer] | None = None,
    owners: Sequence[str] | None = None,
) -> ActivationOutcome:
    """Apply what the gateway says about checkout ``txn_id``, exactly once.

    Completed: the transaction completes, the subscription is created or re-activated for one
    calendar month (see :mod:`fitdata_core.rules.billing_periods`), the card token is sealed,
    the org's tier follows, the events are recorded, all in one unit of work; the receipt goes
    out after the commit, by the winner only. ``at`` is when it happens (default: now); a
    sweep passes its "as of" time.

    With ``mail_out`` the receipt is appended to that list instead of sent here: the caller
    sends it (with :func:`~fitdata_core.usecases.billing.emails.send_all`) when it suits it,
    e.g. the webhook after its answer, so Cardcom does not wait on the mail server. Either
    way only the winner gets a receipt, and only after the commit. With ``after_answer`` even
    the receipt's owners lookup is left out of the unit of work: a function that looks them
    up, builds the receipt and sends it is appended there, for the caller to run after its
    answer (the webhook's; Cardcom waits for nothing the answer does not need). ``owners``,
    when the caller has read them already, spares that function its lookup.
    """
    if result.return_value is not None and result.return_value != txn_id:
        svc.errors.capture_message(
            "Platform billing result names another transaction",
            level="error",
            transaction_id=txn_id,
            low_profile_id=result.low_profile_id,
        )
        return ActivationOutcome.UNKNOWN
    now = at or svc.clock.now()
    mail: list[EmailMessage] = []
    async with svc.uow() as uow:
        txn = await uow.billing_transactions.get_for_update(txn_id)
        if txn is None:
            return ActivationOutcome.UNKNOWN
        if txn.status is not TransactionStatus.PENDING:
            _alert_if_paid_after_cancel(svc, txn, result)
            return ActivationOutcome.ALREADY_PROCESSED
        if result.status is PaymentResultStatus.NOT_FINALISED:
            return ActivationOutcome.DEFERRED
        if result.status is PaymentResultStatus.DECLINED:
            failed, events = txn.fail(now, result.description or "declined")
            await uow.billing_transactions.update(failed)
            await record(uow, txn.organization_id, events)
            await uow.commit()
            return ActivationOutcome.FAILED

        org_id = txn.organization_id
        completed, events = txn.complete(
            now, provider_transaction_id=result.provider_transaction_id
        )
        await uow.billing_transactions.update(completed)
        sub = await uow.subscriptions.get_by_org_for_update(org_id)
        if sub is None:
            # A never-paid organization is on lite, which is what a cancelled subscription
            # means; activating from there is the same table move as re-subscribing.
            sub = PlatformSubscription(
                id=svc.ids.new_id(),
                organization_id=org_id,
                tier=txn.tier,
                status=SubscriptionStatus.CANCELLED,
                created_at=now,
            )
        sub, sub_events = sub.activate(
            now, tier=txn.tier, period_end=next_period_end(now), card=seal_card(svc, org_id, result)
        )
        await uow.subscriptions.save(sub)
        org = await locked_org(uow, org_id)
        org, tier_events = await sync_tier(uow, org, sub, now)
        await record(uow, org_id, [*events, *sub_events, *tier_events])
        if after_answer is None:
            mail = emails.receipt(
                await emails.audience_of(svc, uow, org),
                sub,
                amount=txn.amount,
                provider_transaction_id=result.provider_transaction_id,
                renewal=False,
            )
        await uow.commit()
    if after_answer is not None:
        after_answer.append(
            functools.partial(
                _send_receipt, svc, org, sub, txn.amount, result.provider_transaction_id, owners
            )
        )
    elif mail_out is not None:
        mail_out.extend(mail)
    else:
        await emails.send_all(svc, mail)
    return ActivationOutcome.COMPLETED


async def _send_receipt(
    svc: Services,
    org: Organization,
    sub: PlatformSubscription,
    amount: Money,
    provider_transaction_id: str | None,
    owners: Sequence[str] | None,
) -> None:
    """The activation's receipt, after the answer: owners as given, or looked up now in a
    unit of work of their own (nothing written), then sent. A failure is reported: the
    payment stands."""
    if owners is None:
        try:
            async with svc.uow() as uow:
                owners = await uow.memberships.active_owner_emails(
                    org.id, limit=emails.MAX_RECIPIENTS
                )
        except Exception as exc:  # the activation is committed; only the receipt is lost
            svc.errors.capture_exception(exc, where="billing-email", organization_id=org.id)
            return
    receipt = emails.receipt(
        emails.audience_from(svc, org, owners),
        sub,
        amount=amount,
        provider_transaction_id=provider_transaction_id,
        renewal=False,
    )
    await emails.send_all(svc, receipt)


def _alert_if_paid_after_cancel(
    svc: Services, txn: BillingTransaction, result: PaymentResult
) -> None:
    """Money taken for a checkout we had already cancelled needs a person (a refund)."""
    if txn.status is TransactionStatus.CANCELLED and result.status is PaymentResultStatus.COMPLETED:
        svc.errors.capture_message(
            "Platform billing payment completed on a cancelled checkout",
            level="error",
            transaction_id=txn.id,
            organization_id=txn.organization_id,
            provider_transaction_id=result.provider_transaction_id,
        )


async def settle_checkout(
    svc: Services,
    txn: BillingTransaction,
    *,
    at: datetime | None = None,
    mail_out: list[EmailMessage] | None = None,
    after_answer: list[AfterAnswer] | None = None,
    owners: Sequence[str] | None = None,
) -> ActivationOutcome:
    """Pull the gateway's answer for a checkout and apply it (as of ``at``, default now;
    ``mail_out``, ``after_answer`` and ``owners`` as in :func:`apply_checkout_result`).
    Raises ``ProviderError``."""
    if txn.status in (TransactionStatus.COMPLETED, TransactionStatus.FAILED):
        return ActivationOutcome.ALREADY_PROCESSED  # settled for good: no need to ask
    if txn.low_profile_id is None:
        return ActivationOutcome.UNKNOWN
    result = await svc.payment_gateway.get_checkout_result(txn.low_profile_id)
    return await apply_checkout_result(
        svc, txn.id, result, at=at, mail_out=mail_out, after_answer=after_answer, owners=owners
    )
