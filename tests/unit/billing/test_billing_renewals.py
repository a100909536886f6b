"""Recurring renewal rows R1–R6, C3, the crash repair, concurrent sweepers, the kill switch."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fitdata_adapters.memory.uow import MemoryUnitOfWork
from fitdata_core.model.billing import (
    RETRY_SPACING,
    CancelReason,
    SubscriptionStatus,
    TransactionKind,
    TransactionStatus,
)
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.usecases.billing import (
    RenewalReport,
    cancel_subscription,
    expire_stale,
    get_billing_status,
    reconcile,
    run_renewals,
)
from support.billing import (
    CARD_TOKEN,
    Gym,
    World,
    add_gym,
    make_world,
    org_of,
    put_subscription,
    subscription_of,
    transactions_of,
)

DAY = timedelta(days=1)


async def _due_pro(world: World, gym: Gym, **kw: object) -> None:
    """A pro subscription whose period ended an hour ago."""
    await put_subscription(
        world, gym.org_id, period_end=world.clock.now() - timedelta(hours=1), **kw
    )


async def test_R1_renewal_with_a_valid_token_advances_the_period(world: World, gym: Gym) -> None:
    await _due_pro(world, gym, failed_payment_count=0)
    before = await subscription_of(world.svc, gym.org_id)
    assert before is not None
    assert before.current_period_end is not None

    report = await run_renewals(world.svc)

    assert report == RenewalReport(renewed=1)
    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert sub.status is SubscriptionStatus.ACTIVE
    assert sub.current_period_start == before.current_period_end
    assert sub.current_period_end == before.current_period_end.replace(month=2)
    assert sub.failed_payment_count == 0
    assert sub.last_charged_at == world.clock.now()
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.kind is TransactionKind.RENEWAL
    assert txn.status is TransactionStatus.COMPLETED
    assert str(txn.amount) == "249.00 ILS"
    # The charge used the opened token and a per-subscription, per-period id.
    [charge] = world.gateway.charge_requests
    assert charge.card_token == CARD_TOKEN
    assert charge.card_expiry_mmyy == "1228"
    assert charge.external_uniq_id == txn.external_uniq_id
    assert charge.external_uniq_id.startswith(f"renew-{sub.id}-20260115-a1")
    # A receipt, without the token.
    [receipt] = world.mailer.sent
    assert "renewal" in receipt.text
    assert CARD_TOKEN not in receipt.text
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.PRO


async def test_R1_a_second_sweep_the_same_day_charges_nothing(world: World, gym: Gym) -> None:
    await _due_pro(world, gym)
    await run_renewals(world.svc)

    assert await run_renewals(world.svc) == RenewalReport()
    assert len(world.gateway.charges) == 1


async def test_R2_first_failure_makes_it_past_due_and_says_what_happens_next(
    world: World, gym: Gym
) -> None:
    await _due_pro(world, gym)
    world.gateway.decline_charges = True

    report = await run_renewals(world.svc)

    assert report == RenewalReport(failed=1)
    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert sub.status is SubscriptionStatus.PAST_DUE
    assert sub.failed_payment_count == 1
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.status is TransactionStatus.FAILED
    assert txn.failure_reason == "Card declined (003)"
    # Grace: the features stay on while dunning runs.
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.PRO
    status = await get_billing_status(world.svc, gym.member, gym.org_id)
    assert status.access.level.value == "grace"
    assert status.access.until == sub.current_period_end + 3 * DAY  # type: ignore[operator]
    # The email the spec says is missing today.
    [mail] = world.mailer.sent
    assert mail.to == gym.owner_email
    assert "attempt 1 of 3" in mail.text
    assert "try again" in mail.text
    assert "Lite" in mail.text


async def test_R3_third_failure_cancels_and_drops_to_lite(world: World, gym: Gym) -> None:
    await _due_pro(world, gym)
    world.gateway.decline_charges = True

    reports = []
    for _ in range(3):
        reports.append(await run_renewals(world.svc))
        world.clock.advance(DAY)

    assert reports == [
        RenewalReport(failed=1),
        RenewalReport(failed=1),
        RenewalReport(cancelled_max_failures=1),
    ]
    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert sub.status is SubscriptionStatus.CANCELLED
    assert sub.cancel_reason is CancelReason.MAX_FAILED_PAYMENTS
    assert sub.failed_payment_count == 3
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.LITE
    # Three distinct attempts, three distinct idempotency keys.
    assert len({c.external_uniq_id for c in world.gateway.charge_requests}) == 3
    assert [m.subject for m in world.mailer.sent][-1] == "Your fitdata Pro plan was cancelled"
    assert await run_renewals(world.svc) == RenewalReport()


async def test_R2_retries_wait_for_the_next_daily_run(world: World, gym: Gym) -> None:
    await _due_pro(world, gym)
    world.gateway.decline_charges = True
    await run_renewals(world.svc)
    world.clock.advance(timedelta(hours=2))

    assert await run_renewals(world.svc) == RenewalReport(skipped=1)
    assert len(world.gateway.charge_requests) == 1


async def test_R2_a_later_success_resets_the_failure_count(world: World, gym: Gym) -> None:
    await _due_pro(world, gym)
    world.gateway.decline_charges = True
    await run_renewals(world.svc)
    world.clock.advance(DAY)
    world.gateway.decline_charges = False

    assert await run_renewals(world.svc) == RenewalReport(renewed=1)
    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert (sub.status, sub.failed_payment_count) == (SubscriptionStatus.ACTIVE, 0)


async def test_R4_no_token_and_period_expired_cancels_without_a_charge(
    world: World, gym: Gym
) -> None:
    await _due_pro(world, gym, with_card=False)

    assert await run_renewals(world.svc) == RenewalReport(expired_no_token=1)

    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert sub.status is SubscriptionStatus.CANCELLED
    assert sub.cancel_reason is CancelReason.EXPIRED_NO_TOKEN
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.LITE
    assert world.gateway.charge_requests == []
    assert len(world.mailer.sent) == 1


async def test_R5_scheduled_cancel_at_period_end_cancels_without_a_charge(
    world: World, gym: Gym
) -> None:
    await _due_pro(world, gym, cancel_at_period_end=True)

    assert await run_renewals(world.svc) == RenewalReport(cancelled_scheduled=1)

    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert sub.status is SubscriptionStatus.CANCELLED
    assert sub.cancel_reason is CancelReason.SCHEDULED_PERIOD_END
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.LITE
    assert world.gateway.charge_requests == []


async def test_R6_per_tick_limit_takes_the_oldest_first() -> None:
    world = make_world(renewal_batch_limit=100)
    gyms = [await add_gym(world.svc, f"Gym {i}") for i in range(105)]
    now = world.clock.now()
    # Gym i's period ended i minutes ago: the highest i are the oldest.
    for i, gym in enumerate(gyms):
        await put_subscription(world, gym.org_id, period_end=now - timedelta(minutes=i + 1))

    first = await run_renewals(world.svc)

    assert first.renewed == 100
    waiting = [g for g in gyms if (await transactions_of(world.svc, g.org_id)) == []]
    assert [g.org_id for g in waiting] == [g.org_id for g in gyms[:5]]  # the newest wait
    assert (await run_renewals(world.svc)).renewed == 5
    assert (await run_renewals(world.svc, limit=3)).renewed == 0


async def test_C3_owner_cancels_then_the_sweep_after_the_period_finalises(
    world: World, gym: Gym
) -> None:
    await put_subscription(world, gym.org_id, period_end=world.clock.now() + 2 * DAY)
    await cancel_subscription(world.svc, gym.owner, gym.org_id)

    assert await run_renewals(world.svc) == RenewalReport()  # not due yet
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.PRO
    world.clock.advance(3 * DAY)
    assert await run_renewals(world.svc) == RenewalReport(cancelled_scheduled=1)
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.LITE


async def test_a_lost_charge_answer_is_repaired_by_lookup_not_a_second_charge(
    world: World, gym: Gym
) -> None:
    await _due_pro(world, gym)
    world.gateway.lose_next_charge_answer = True

    first = await run_renewals(world.svc)

    assert first == RenewalReport(errors=1)
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.status is TransactionStatus.PENDING
    assert world.gateway.money_taken == 1
    # Within the lease another sweeper might still be at work: leave it alone.
    assert await run_renewals(world.svc) == RenewalReport(skipped=1)
    world.clock.advance(timedelta(minutes=11))

    repaired = await run_renewals(world.svc)

    assert repaired == RenewalReport(renewed=1)
    assert len(world.gateway.charge_requests) == 1  # looked up, never charged again
    assert world.gateway.money_taken == 1
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.status is TransactionStatus.COMPLETED


async def test_unreachable_gateway_keeps_the_row_pending_and_reports(
    world: World, gym: Gym
) -> None:
    await _due_pro(world, gym)
    world.gateway.unreachable = True

    assert await run_renewals(world.svc) == RenewalReport(errors=1)

    assert world.gateway.money_taken == 0
    assert world.errors.reports[0].context["where"] == "billing-renewal-charge"
    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert (sub.status, sub.failed_payment_count) == (SubscriptionStatus.ACTIVE, 0)
    world.gateway.unreachable = False
    world.clock.advance(timedelta(minutes=11))
    assert await run_renewals(world.svc) == RenewalReport(renewed=1)
    assert world.gateway.money_taken == 1


async def test_two_concurrent_sweeps_charge_each_subscription_once() -> None:
    world = make_world()
    gyms = [await add_gym(world.svc, f"Gym {i}") for i in range(8)]
    for gym in gyms:
        await put_subscription(world, gym.org_id, period_end=world.clock.now() - DAY)

    a, b, c = await asyncio.gather(
        run_renewals(world.svc), run_renewals(world.svc), run_renewals(world.svc)
    )

    assert a.renewed + b.renewed + c.renewed == 8
    assert a.errors + b.errors + c.errors == 0
    assert world.gateway.money_taken == 8
    assert len(world.gateway.charge_requests) == 8
    for gym in gyms:
        [txn] = await transactions_of(world.svc, gym.org_id)
        assert txn.status is TransactionStatus.COMPLETED
    assert len(world.mailer.sent) == 8


async def test_the_kill_switch_stops_scheduled_sweeps_only() -> None:
    world = make_world(schedule_enabled=False)
    gym = await add_gym(world.svc)
    await _due_pro(world, gym)

    assert await run_renewals(world.svc, scheduled=True) == RenewalReport(disabled=True)
    assert world.gateway.charge_requests == []
    assert (await run_renewals(world.svc)).renewed == 1  # an operator's one-off run


async def test_every_scheduled_sweep_obeys_the_kill_switch() -> None:
    world = make_world(schedule_enabled=False)
    for sweep in (run_renewals, reconcile, expire_stale):
        report = await sweep(world.svc, scheduled=True)
        assert report.disabled is True


# --- dunning in "as of" time (issue 7 item 2) ------------------------------------------------


async def test_dunning_plays_on_as_of_days_while_the_clock_stands_still(
    world: World, gym: Gym
) -> None:
    # An operator's `fitdata billing renew --at T` on three successive days, all within one
    # wall-clock minute: the clock never moves, only the "as of" time does.
    await _due_pro(world, gym)
    world.gateway.decline_charges = True
    first = world.clock.now() + timedelta(hours=1)

    reports = [await run_renewals(world.svc, first + day * DAY) for day in range(3)]

    assert reports == [
        RenewalReport(failed=1),
        RenewalReport(failed=1),
        RenewalReport(cancelled_max_failures=1),
    ]
    assert len(world.gateway.charge_requests) == 3
    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert (sub.status, sub.cancel_reason) == (
        SubscriptionStatus.CANCELLED,
        CancelReason.MAX_FAILED_PAYMENTS,
    )
    # What the sweep recorded is dated by its "as of" time, not the wall clock.
    assert sub.cancelled_at == first + 2 * DAY
    assert sub.next_payment_attempt_at is None
    txns = await transactions_of(world.svc, gym.org_id)
    assert sorted(t.created_at for t in txns) == [first, first + DAY, first + 2 * DAY]


async def test_the_next_attempt_is_set_from_the_sweeps_as_of_time(world: World, gym: Gym) -> None:
    await _due_pro(world, gym)
    world.gateway.decline_charges = True
    as_of = world.clock.now() + timedelta(days=2)

    await run_renewals(world.svc, as_of)

    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert sub.status is SubscriptionStatus.PAST_DUE
    assert sub.next_payment_attempt_at == as_of + RETRY_SPACING
    status = await get_billing_status(world.svc, gym.member, gym.org_id)
    assert status.as_dict()["nextPaymentAttemptAt"] == (as_of + RETRY_SPACING).isoformat()
    # The owner's email promises that same moment.
    [mail] = world.mailer.sent
    assert f"{(as_of + RETRY_SPACING):%d %B %Y %H:%M} UTC" in mail.text


async def test_two_sweeps_at_the_same_as_of_make_one_attempt(world: World, gym: Gym) -> None:
    await _due_pro(world, gym)
    world.gateway.decline_charges = True
    as_of = world.clock.now() + timedelta(days=1)

    first = await run_renewals(world.svc, as_of)
    world.clock.advance(2 * DAY)  # however much later they really run
    second = await run_renewals(world.svc, as_of)
    just_before = await run_renewals(world.svc, as_of + RETRY_SPACING - timedelta(seconds=1))
    due = await run_renewals(world.svc, as_of + RETRY_SPACING)

    assert (first, second, just_before) == (
        RenewalReport(failed=1),
        RenewalReport(skipped=1),
        RenewalReport(skipped=1),
    )
    assert due == RenewalReport(failed=1)
    assert len(world.gateway.charge_requests) == 2


async def test_a_renewal_as_of_a_later_day_succeeds_and_clears_the_next_attempt(
    world: World, gym: Gym
) -> None:
    await _due_pro(world, gym)
    world.gateway.decline_charges = True
    as_of = world.clock.now()
    await run_renewals(world.svc, as_of)
    world.gateway.decline_charges = False

    assert await run_renewals(world.svc, as_of + DAY) == RenewalReport(renewed=1)
    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert (sub.status, sub.next_payment_attempt_at) == (SubscriptionStatus.ACTIVE, None)
    assert sub.last_charged_at == as_of + DAY


async def test_charges_that_cannot_be_recorded_together_are_recorded_one_by_one() -> None:
    """The sweep records the outcomes of charges that finish together in one unit of work;
    when that fails (here one organization's row is gone), each is recorded on its own, so only
    the bad one errs and its paid transaction stays pending for a later run to look up."""
    world = make_world()
    gyms = [await add_gym(world.svc, f"Gym {i}") for i in range(4)]
    for gym in gyms:
        await put_subscription(world, gym.org_id, period_end=world.clock.now() - DAY)
    async with world.svc.uow() as uow:
        assert isinstance(uow, MemoryUnitOfWork)
        del uow.tables.organizations[gyms[1].org_id]
        await uow.commit()

    report = await run_renewals(world.svc)

    assert report == RenewalReport(renewed=3, errors=1)
    assert world.gateway.money_taken == 4
    [lost] = await transactions_of(world.svc, gyms[1].org_id)
    assert lost.status is TransactionStatus.PENDING
    for gym in (gyms[0], gyms[2], gyms[3]):
        [txn] = await transactions_of(world.svc, gym.org_id)
        assert txn.status is TransactionStatus.COMPLETED
    assert len(world.mailer.sent) == 3
    # The failed batch is said as a warning (with no organization: it was all of them), then
    # the one bad charge as its own error.
    [fallback, report_of_error] = world.errors.reports
    assert (fallback.kind, fallback.level) == ("message", "warning")
    assert "one by one" in fallback.message
    assert fallback.context["charges"] == 4
    assert "organization_id" not in fallback.context
    assert report_of_error.context["organization_id"] == gyms[1].org_id
