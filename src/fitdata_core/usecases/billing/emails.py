"""The billing emails: a receipt per successful charge, a renewal-failure notice that says what
happens next, and a final cancellation notice.

Messages are built inside the unit of work (where the owner's address and the org's name are
at hand) and sent only after it commits: a mail failure is reported, never undoes a payment.
They never carry the card token or card data beyond the last four digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from fitdata_core.model.billing import CancelReason, PlatformSubscription
from fitdata_core.model.organizations import Organization
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.money import Money
from fitdata_core.ports.infrastructure import EmailMessage
from fitdata_core.ports.repositories import UnitOfWork
from fitdata_core.services import Services

__all__ = [
    "MAX_RECIPIENTS",
    "Audience",
    "audience_from",
    "audience_of",
    "cancelled",
    "receipt",
    "renewal_failed",
    "send_all",
]

#: Billing mail goes to at most this many owners (the first by email).
MAX_RECIPIENTS = 10

_CANCEL_WHY = {
    CancelReason.OWNER_REQUESTED: "you asked us to cancel it",
    CancelReason.SCHEDULED_PERIOD_END: "you scheduled it to end with the billing period",
    CancelReason.MAX_FAILED_PAYMENTS: "the last payments for it were declined",
    CancelReason.EXPIRED_NO_TOKEN: "the period ended and we have no saved card to renew it with",
    CancelReason.ADMIN_FORCE: "a platform administrator cancelled it",
    CancelReason.NO_PERIOD: "you asked us to cancel it and it had no running period",
}


@attrs.frozen
class Audience:
    """Who billing mail for one organization goes to, and how to name the organization."""

    org_name: str
    recipients: tuple[str, ...]
    settings_url: str

    def messages(self, subject: str, text: str) -> list[EmailMessage]:
        return [EmailMessage(to=to, subject=subject, text=text) for to in self.recipients]


async def audience_of(svc: Services, uow: UnitOfWork, org: Organization) -> Audience:
    """The organization's active owners (billing mail goes to whoever can act on it)."""
    owners = await uow.memberships.active_owner_emails(org.id, limit=MAX_RECIPIENTS)
    return audience_from(svc, org, owners)


def audience_from(svc: Services, org: Organization, owners: Sequence[str]) -> Audience:
    """The audience of :func:`audience_of` with the owners already looked up (at most
    :data:`MAX_RECIPIENTS`), e.g. for a whole batch of renewals at once."""
    return Audience(
        org_name=org.name,
        recipients=tuple(owners[:MAX_RECIPIENTS]),
        settings_url=f"{svc.billing.public_url}/dashboard/settings/billing",
    )


def _day(moment: datetime | None) -> str:
    return moment.strftime("%d %B %Y") if moment else "-"


def receipt(
    audience: Audience,
    sub: PlatformSubscription,
    *,
    amount: Money,
    provider_transaction_id: str | None,
    renewal: bool,
) -> list[EmailMessage]:
    """The payment receipt for each of the audience's owners."""
    what = "renewal" if renewal else "upgrade"
    card = f"the card ending {sub.card.last4}" if sub.card and sub.card.last4 else "your card"
    lines = [
        f"Thank you. We charged {amount} to {card} for {audience.org_name}'s "
        f"{sub.tier.value.capitalize()} plan ({what}).",
        "",
        f"Period: {_day(sub.current_period_start)} to {_day(sub.current_period_end)}",
        f"Reference: {provider_transaction_id or '-'}",
        "",
        f"Manage billing: {audience.settings_url}",
    ]
    subject = f"Receipt: fitdata {sub.tier.value.capitalize()} plan, {amount}"
    return audience.messages(subject, "\n".join(lines))


def renewal_failed(
    audience: Audience,
    sub: PlatformSubscription,
    *,
    amount: Money,
    max_failures: int,
    retry_after: datetime,
) -> list[EmailMessage]:
    """The failed-renewal notice (with the next retry, if any) for each owner."""
    left = max_failures - sub.failed_payment_count
    tier = sub.tier.value.capitalize()
    lines = [
        f"We could not renew {audience.org_name}'s {tier} plan: the charge of {amount} "
        "was declined.",
        "",
        f"This was attempt {sub.failed_payment_count} of {max_failures}. Your {tier} features "
        "stay on meanwhile. We will try again on the next daily run, not before "
        f"{retry_after.strftime('%d %B %Y %H:%M UTC')}.",
        f"If {left} more attempt{'s' if left != 1 else ''} fail{'' if left != 1 else 's'}, the "
        "subscription is cancelled and the organization moves to the free Lite plan.",
        "",
        f"To keep your plan, check out again with a working card: {audience.settings_url}",
    ]
    return audience.messages(f"Action needed: your fitdata {tier} payment failed", "\n".join(lines))


def cancelled(audience: Audience, sub: PlatformSubscription) -> list[EmailMessage]:
    """The cancellation notice for each owner."""
    tier = sub.tier.value.capitalize()
    why = _CANCEL_WHY.get(sub.cancel_reason or CancelReason.OWNER_REQUESTED, "it was cancelled")
    lines = [
        f"{audience.org_name}'s {tier} plan was cancelled because {why}.",
        f"The organization is now on the free {PlatformTier.LITE.value.capitalize()} plan; "
        f"{tier} features are no longer available.",
        "",
        f"You can subscribe again at any time: {audience.settings_url}",
    ]
    return audience.messages(f"Your fitdata {tier} plan was cancelled", "\n".join(lines))


async def send_all(svc: Services, messages: Sequence[EmailMessage]) -> None:
    """Send after commit. A failure is reported and swallowed: the payment already stands."""
    for message in messages:
        try:
            await svc.mailer.send(message)
        except Exception as exc:  # any mail failure must not undo billing
            svc.errors.capture_exception(exc, where="billing-email", subject=message.subject)
