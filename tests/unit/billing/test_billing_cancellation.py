"""Cancellation rows C1–C8 and the permission rows P2, P3."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from fitdata_core.errors import BusinessRuleViolation, NotFound, PermissionDenied
from fitdata_core.model.billing import CancelReason, SubscriptionStatus, TransactionStatus
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.services import Actor
from fitdata_core.usecases.billing import (
    cancel_subscription,
    change_tier,
    force_cancel,
    get_billing_status,
    list_events,
    list_transactions,
    resume,
    run_renewals,
    start_checkout,
)
from support.billing import (
    Gym,
    World,
    event_names,
    org_of,
    put_subscription,
    subscription_of,
    transactions_of,
)

ADMIN = Actor("platform-ops", is_platform_admin=True)


async def _pro(world: World, gym: Gym, **kw: object) -> None:
    await put_subscription(
        world, gym.org_id, period_end=world.clock.now() + timedelta(days=20), **kw
    )


async def test_C1_owner_cancels_pro_at_period_end(world: World, gym: Gym) -> None:
    await _pro(world, gym)

    status = await cancel_subscription(world.svc, gym.owner, gym.org_id)

    assert status.cancel_at_period_end is True
    assert status.status == "active"
    assert status.tier is PlatformTier.PRO
    assert status.cancellation_effective_at == status.current_period_end
    assert status.access.level.value == "full"
    assert status.access.reason == "cancel-scheduled"
    assert status.access.until == status.current_period_end
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.PRO
    assert "subscription.cancel_scheduled" in await event_names(world.svc, gym.org_id)


async def test_C2_owner_resumes_before_the_sweep(world: World, gym: Gym) -> None:
    await _pro(world, gym)
    await cancel_subscription(world.svc, gym.owner, gym.org_id)

    status = await resume(world.svc, gym.owner, gym.org_id)

    assert status.cancel_at_period_end is False
    assert status.cancellation_effective_at is None
    world.clock.advance(timedelta(days=21))
    assert (await run_renewals(world.svc)).renewed == 1  # continues normally


async def test_C2_resume_without_a_scheduled_cancel_is_refused(world: World, gym: Gym) -> None:
    await _pro(world, gym)
    with pytest.raises(BusinessRuleViolation) as info:
        await resume(world.svc, gym.owner, gym.org_id)
    assert info.value.code == "NOT_RESUMABLE"


async def test_C4_cancel_without_a_current_period_is_immediate_with_a_warning(
    world: World, gym: Gym
) -> None:
    await _pro(world, gym)
    async with world.svc.uow() as uow:
        sub = await uow.subscriptions.get_by_org(gym.org_id)
        assert sub is not None
        await uow.subscriptions.save(attrs.evolve(sub, current_period_end=None))
        await uow.commit()

    status = await cancel_subscription(world.svc, gym.owner, gym.org_id)

    assert status.status == "cancelled"
    assert status.cancel_reason is CancelReason.NO_PERIOD
    assert status.tier is PlatformTier.LITE
    [report] = world.errors.reports
    assert report.level == "warning"
    assert "no current period" in report.message


async def test_C5_admin_force_cancels_mid_period(world: World, gym: Gym) -> None:
    await _pro(world, gym)
    async with world.svc.uow() as uow:  # a checkout in flight (e.g. for another tier)
        sub = await uow.subscriptions.get_by_org_for_update(gym.org_id)
        assert sub is not None
        sub, _ = sub.schedule_cancel(world.clock.now())
        await uow.subscriptions.save(sub)
        await uow.commit()
    await start_checkout(world.svc, gym.owner, gym.org_id, "elite")

    status = await force_cancel(world.svc, ADMIN, gym.org_id)

    assert status.status == "cancelled"
    assert status.cancel_reason is CancelReason.ADMIN_FORCE
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.LITE
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.status is TransactionStatus.CANCELLED
    assert [m.subject for m in world.mailer.sent] == ["Your fitdata Pro plan was cancelled"]


async def test_C5_only_a_platform_admin_may_force_cancel(world: World, gym: Gym) -> None:
    await _pro(world, gym)
    with pytest.raises(PermissionDenied):
        await force_cancel(world.svc, gym.owner, gym.org_id)
    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert sub.status is SubscriptionStatus.ACTIVE


async def test_C5_force_cancel_of_an_unknown_org_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await force_cancel(world.svc, ADMIN, "no-such-org")


async def test_C6_tier_lite_while_pro_routes_through_period_end_cancel(
    world: World, gym: Gym
) -> None:
    await _pro(world, gym)

    status = await change_tier(world.svc, gym.owner, gym.org_id, "lite")

    assert status.cancel_at_period_end is True
    assert status.tier is PlatformTier.PRO
    # Asking again is harmless.
    again = await change_tier(world.svc, gym.owner, gym.org_id, "lite")
    assert again.cancel_at_period_end is True


async def test_C7_tier_pro_while_lite_needs_a_payment(world: World, gym: Gym) -> None:
    with pytest.raises(BusinessRuleViolation) as info:
        await change_tier(world.svc, gym.owner, gym.org_id, "pro")
    assert info.value.code == "PAYMENT_REQUIRED"
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.LITE


async def test_C8_tier_elite_while_pro_is_unsupported(world: World, gym: Gym) -> None:
    await _pro(world, gym)
    with pytest.raises(BusinessRuleViolation) as info:
        await change_tier(world.svc, gym.owner, gym.org_id, "elite")
    assert info.value.code == "PAID_DOWNGRADE_UNSUPPORTED"
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.PRO


async def test_same_paid_tier_while_cancel_scheduled_resumes(world: World, gym: Gym) -> None:
    await _pro(world, gym)
    await cancel_subscription(world.svc, gym.owner, gym.org_id)

    status = await change_tier(world.svc, gym.owner, gym.org_id, "pro")

    assert status.cancel_at_period_end is False


async def test_cancel_without_a_subscription_is_refused(world: World, gym: Gym) -> None:
    with pytest.raises(BusinessRuleViolation) as info:
        await cancel_subscription(world.svc, gym.owner, gym.org_id)
    assert info.value.code == "NO_SUBSCRIPTION"


@pytest.mark.parametrize("role", ["admin", "coach", "member"])
async def test_P2_only_the_owner_cancels(world: World, gym: Gym, role: str) -> None:
    await _pro(world, gym)
    with pytest.raises(PermissionDenied):
        await cancel_subscription(world.svc, getattr(gym, role), gym.org_id)
    with pytest.raises(PermissionDenied):
        await change_tier(world.svc, getattr(gym, role), gym.org_id, "lite")
    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert sub.cancel_at_period_end is False


@pytest.mark.parametrize("role", ["owner", "admin", "coach", "member"])
async def test_P3_any_active_member_reads_billing(world: World, gym: Gym, role: str) -> None:
    await _pro(world, gym)
    actor = getattr(gym, role)

    status = await get_billing_status(world.svc, actor, gym.org_id)
    history = await list_transactions(world.svc, actor, gym.org_id)
    timeline = await list_events(world.svc, actor, gym.org_id)

    assert status.tier is PlatformTier.PRO
    assert history.total == 0
    assert timeline.total == 0


async def test_P3_outsiders_do_not_read_billing(world: World, gym: Gym) -> None:
    with pytest.raises(PermissionDenied):
        await get_billing_status(world.svc, Actor("stranger"), gym.org_id)


async def test_history_and_timeline_are_paged(world: World, gym: Gym) -> None:
    for tier in ("pro", "elite", "pro"):
        world.clock.advance(timedelta(minutes=11))
        await start_checkout(world.svc, gym.owner, gym.org_id, tier)

    page = await list_transactions(world.svc, gym.owner, gym.org_id, limit=2, offset=0)
    timeline = await list_events(world.svc, gym.owner, gym.org_id, limit=100)

    assert (page.total, len(page.items)) == (3, 2)
    assert page.items[0].created_at > page.items[1].created_at  # newest first
    assert [e.name for e in timeline.items] == [
        "transaction.created",
        "transaction.cancelled",
        "transaction.created",
        "transaction.cancelled",
        "transaction.created",
    ]
