"""The two ways a checkout's result reaches us: Cardcom's webhook and the payer's return page.

Both only say *which* payment to look at; what happened is always pulled from the gateway.
"""

from __future__ import annotations

import attrs

from fitdata_core.access import Action
from fitdata_core.errors import NotFound, PermissionDenied
from fitdata_core.model.billing import TransactionStatus
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.ports.infrastructure import EmailMessage
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.billing import emails
from fitdata_core.usecases.billing.activation import (
    ActivationOutcome,
    AfterAnswer,
    settle_checkout,
)
from fitdata_core.usecases.common import authorize, load_org

__all__ = [
    "CheckoutVerification",
    "handle_webhook",
    "verify_checkout",
]


async def handle_webhook(
    svc: Services,
    low_profile_id: str | None,
    *,
    mail_out: list[EmailMessage] | None = None,
    after_answer: list[AfterAnswer] | None = None,
) -> ActivationOutcome:
    """Process a Cardcom webhook that names ``low_profile_id``.

    Nothing in the post is trusted: the result is pulled with ``get_checkout_result``.
    Returns ``ignored`` without an id (W6), ``unknown`` for an id we never issued (answer 200
    anyway so Cardcom stops re-sending), ``deferred`` while not finalised (W4), ``failed`` on a
    decline, ``completed`` for the activation, ``already_processed`` for a repeat or a
    cancelled checkout (W1, W5). Raises ``ProviderError`` when Cardcom cannot be reached
    (answer non-200 so Cardcom re-sends). With ``mail_out`` the receipt of an activation is
    left there for the caller to send after answering; with ``after_answer`` the receipt is
    built and sent there (see ``apply_checkout_result``), to the owners read with the
    transaction.
    """
    if not low_profile_id or not low_profile_id.strip():
        return ActivationOutcome.IGNORED
    owners: list[str] | None = None
    async with svc.uow() as uow:
        txn = await uow.billing_transactions.get_by_low_profile_id(low_profile_id.strip())
        if txn is not None and txn.status is TransactionStatus.PENDING and after_answer is not None:
            # An activation may follow: its receipt's owners are read here, in the lookup's
            # unit of work, not in one of their own after the answer (a BEGIN and a ROLLBACK
            # fewer per webhook). Read a few milliseconds before the activation commits.
            owners = await uow.memberships.active_owner_emails(
                txn.organization_id, limit=emails.MAX_RECIPIENTS
            )
    if txn is None:
        return ActivationOutcome.UNKNOWN
    return await settle_checkout(
        svc, txn, mail_out=mail_out, after_answer=after_answer, owners=owners
    )


@attrs.frozen
class CheckoutVerification:
    """The answer to a payer's "did my payment go through?": the outcome and the tier now."""

    outcome: ActivationOutcome
    transaction_id: str
    transaction_status: TransactionStatus
    tier: PlatformTier

    def as_dict(self) -> dict[str, str]:
        return {
            "outcome": self.outcome.value,
            "transactionId": self.transaction_id,
            "transactionStatus": self.transaction_status.value,
            "tier": self.tier.value,
        }


async def verify_checkout(
    svc: Services, actor: Actor, org_id: str, low_profile_id: str
) -> CheckoutVerification:
    """The return page's check: the same activation, run synchronously for the payer (S3).

    Owner only; a LowProfileId of another organization is refused (P4).
    """
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.CHANGE_BILLING)
        txn = await uow.billing_transactions.get_by_low_profile_id(low_profile_id)
    if txn is None:
        raise NotFound("No checkout with this LowProfileId.")
    if txn.organization_id != org_id:
        raise PermissionDenied("Transaction does not belong to org")
    outcome = await settle_checkout(svc, txn)
    async with svc.uow() as uow:
        settled = await uow.billing_transactions.get(txn.id)
        org = await load_org(uow, org_id)
    return CheckoutVerification(
        outcome=outcome,
        transaction_id=txn.id,
        transaction_status=settled.status if settled else txn.status,
        tier=org.platform_tier,
    )
