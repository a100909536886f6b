"""Cancelling, resuming and changing tiers (C1–C8, P2)."""

from __future__ import annotations

from fitdata_core.access import Action
from fitdata_core.errors import BusinessRuleViolation, PermissionDenied
from fitdata_core.model.billing import (
    CancelReason,
    PlatformSubscription,
    SubscriptionStatus,
    effective_tier,
)
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.ports.infrastructure import EmailMessage
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.billing import emails
from fitdata_core.usecases.billing.checkout import parse_tier
from fitdata_core.usecases.billing.common import cancel_now, record
from fitdata_core.usecases.billing.status import BillingStatus, read_status
from fitdata_core.usecases.common import authorize, load_org

__all__ = [
    "cancel_subscription",
    "change_tier",
    "force_cancel",
    "resume_subscription",
]


def _require_running(sub: PlatformSubscription | None) -> PlatformSubscription:
    if sub is None:
        raise BusinessRuleViolation(
            "The organization has no paid subscription.", code="NO_SUBSCRIPTION"
        )
    if sub.status is SubscriptionStatus.CANCELLED:
        raise BusinessRuleViolation(
            "The subscription is already cancelled.", code="ALREADY_CANCELLED"
        )
    return sub


async def cancel_subscription(svc: Services, actor: Actor, org_id: str) -> BillingStatus:
    """The owner cancels: the paid tier runs to the period end, then the renewal sweep
    finalises (C1, C3). Without a current period there is nothing to run to, so it cancels at
    once and reports a warning (C4). Owner only (P2)."""
    now = svc.clock.now()
    mail: list[EmailMessage] = []
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.CHANGE_BILLING)
        sub = _require_running(await uow.subscriptions.get_by_org(org_id))
        if sub.current_period_end is not None:
            sub = _require_running(await uow.subscriptions.get_by_org_for_update(org_id))
            if not sub.cancel_at_period_end:  # a repeat is harmless
                sub, events = sub.schedule_cancel(now)
                await uow.subscriptions.save(sub)
                await record(uow, org_id, events)
        else:
            svc.errors.capture_message(
                "Platform subscription cancelled immediately: it has no current period",
                level="warning",
                organization_id=org_id,
                subscription_id=sub.id,
            )
            done = await cancel_now(
                svc, uow, org_id, CancelReason.NO_PERIOD, now, cancel_pending_transactions=True
            )
            mail = done.mail
        await uow.commit()
    await emails.send_all(svc, mail)
    return await read_status(svc, org_id)


async def resume_subscription(svc: Services, actor: Actor, org_id: str) -> BillingStatus:
    """Undo a scheduled cancellation before the sweep finalises it (C2). Owner only."""
    now = svc.clock.now()
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.CHANGE_BILLING)
        sub = _require_running(await uow.subscriptions.get_by_org_for_update(org_id))
        sub, events = sub.resume(now)
        await uow.subscriptions.save(sub)
        await record(uow, org_id, events)
        await uow.commit()
    return await read_status(svc, org_id)


async def change_tier(
    svc: Services, actor: Actor, org_id: str, tier: PlatformTier | str
) -> BillingStatus:
    """The ``PATCH /tier`` rules. Owner only.

    * lite while paid: the period-end cancellation (C6); lite while lite: nothing to do.
    * a paid tier while lite: refused with ``PAYMENT_REQUIRED``; use checkout (C7).
    * the same paid tier: nothing to do, or a resume if a cancellation was scheduled.
    * another paid tier while paid: refused with ``PAID_DOWNGRADE_UNSUPPORTED``: cancel, then
      check out the new tier (C8).
    """
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.CHANGE_BILLING)
        target = parse_tier(tier)
        sub = await uow.subscriptions.get_by_org(org_id)
    current = effective_tier(sub)
    if target.is_free:
        if current.is_free or (sub is not None and sub.cancel_at_period_end):
            return await read_status(svc, org_id)
        return await cancel_subscription(svc, actor, org_id)
    if current.is_free:
        raise BusinessRuleViolation(
            f"Moving to {target.value} needs a payment: start a checkout instead.",
            code="PAYMENT_REQUIRED",
        )
    if target is current:
        if sub is not None and sub.cancel_at_period_end:
            return await resume_subscription(svc, actor, org_id)
        return await read_status(svc, org_id)
    raise BusinessRuleViolation(
        f"Changing from {current.value} to {target.value} is not supported: cancel the "
        "subscription, then check out the new tier.",
        code="PAID_DOWNGRADE_UNSUPPORTED",
    )


async def force_cancel(svc: Services, actor: Actor, org_id: str) -> BillingStatus:
    """A platform administrator cancels at once: the org drops to lite now and every
    in-flight charge of the org is cancelled, so a late webhook changes nothing (C5, W5)."""
    if not actor.is_platform_admin:
        raise PermissionDenied("Only platform administrators can force-cancel a subscription.")
    now = svc.clock.now()
    async with svc.uow() as uow:
        await load_org(uow, org_id)
        done = await cancel_now(
            svc, uow, org_id, CancelReason.ADMIN_FORCE, now, cancel_pending_transactions=True
        )
        await uow.commit()
    await emails.send_all(svc, done.mail)
    return await read_status(svc, org_id)
