"""Reconciler rows RC1–RC5, and the stale-pending sweep."""

from __future__ import annotations

from datetime import timedelta

from fitdata_core.model.billing import TransactionStatus
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.usecases.billing import (
    HUNG_MESSAGE,
    CheckoutSession,
    ExpiryReport,
    ReconcileReport,
    expire_stale,
    reconcile,
    start_checkout,
)
from support.billing import Gym, World, add_gym, make_world, org_of, transactions_of

MINUTE = timedelta(minutes=1)


async def _checkout(world: World, gym: Gym) -> CheckoutSession:
    return await start_checkout(world.svc, gym.owner, gym.org_id, "pro")


async def test_RC1_completed_pending_row_is_activated(world: World, gym: Gym) -> None:
    session = await _checkout(world, gym)
    world.gateway.pay(session.low_profile_id)
    world.clock.advance(2 * MINUTE)

    report = await reconcile(world.svc)

    assert report == ReconcileReport(completed=1)
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.PRO
    assert len(world.mailer.sent) == 1


async def test_RC2_row_hung_for_11_minutes_alerts(world: World, gym: Gym) -> None:
    session = await _checkout(world, gym)
    world.clock.advance(11 * MINUTE)

    report = await reconcile(world.svc)

    assert report == ReconcileReport(hang_alerted=1)
    [alert] = world.errors.reports
    assert (alert.message, alert.level) == (HUNG_MESSAGE, "warning")
    assert alert.context["low_profile_id"] == session.low_profile_id
    assert alert.context["age_minutes"] == 11
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.alerted_at == world.clock.now()
    assert txn.status is TransactionStatus.PENDING


async def test_a_young_unpaid_row_is_still_pending_without_alert(world: World, gym: Gym) -> None:
    await _checkout(world, gym)
    world.clock.advance(2 * MINUTE)

    assert await reconcile(world.svc) == ReconcileReport(still_pending=1)
    assert world.errors.reports == []


async def _alerted(world: World, gym: Gym, ago: timedelta) -> None:
    async with world.svc.uow() as uow:
        page = await uow.billing_transactions.list_for_org(gym.org_id, limit=1, offset=0)
        [txn] = page.items
        await uow.billing_transactions.update(txn.mark_alerted(world.clock.now() - ago))
        await uow.commit()


async def test_RC3_alerted_30_minutes_ago_is_within_the_dedupe_window(
    world: World, gym: Gym
) -> None:
    await _checkout(world, gym)
    world.clock.advance(11 * MINUTE)
    await _alerted(world, gym, 30 * MINUTE)

    assert await reconcile(world.svc) == ReconcileReport(still_pending=1)
    assert world.errors.reports == []


async def test_RC3_an_alert_older_than_the_window_alerts_again(world: World, gym: Gym) -> None:
    await _checkout(world, gym)
    world.clock.advance(11 * MINUTE)
    await _alerted(world, gym, 61 * MINUTE)

    assert await reconcile(world.svc) == ReconcileReport(hang_alerted=1)
    assert world.messages(HUNG_MESSAGE)


async def test_repeated_ticks_alert_once_per_hung_row(world: World, gym: Gym) -> None:
    await _checkout(world, gym)
    reports = []
    for _ in range(12):  # one tick every 5 minutes for an hour
        world.clock.advance(5 * MINUTE)
        reports.append(await reconcile(world.svc))

    assert sum(r.hang_alerted for r in reports) == 1
    assert len(world.messages(HUNG_MESSAGE)) == 1


async def test_RC4_rows_older_than_an_hour_are_left_to_the_stale_sweep(
    world: World, gym: Gym
) -> None:
    session = await _checkout(world, gym)
    world.gateway.pay(session.low_profile_id)
    world.clock.advance(61 * MINUTE)

    assert await reconcile(world.svc) == ReconcileReport()
    assert world.gateway.result_lookups == 0

    world.clock.advance(timedelta(days=7))
    assert await expire_stale(world.svc) == ExpiryReport(cancelled=1)
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.status is TransactionStatus.CANCELLED
    assert await expire_stale(world.svc) == ExpiryReport(cancelled=0)


async def test_stale_sweep_spares_rows_younger_than_a_week(world: World, gym: Gym) -> None:
    await _checkout(world, gym)
    world.clock.advance(timedelta(days=6, hours=23))

    assert await expire_stale(world.svc) == ExpiryReport(cancelled=0)


async def test_RC5_cardcom_unreachable_reports_and_counts_unknown(world: World, gym: Gym) -> None:
    await _checkout(world, gym)
    world.clock.advance(3 * MINUTE)
    world.gateway.unreachable = True

    report = await reconcile(world.svc)

    assert report == ReconcileReport(unknown=1)
    [report_entry] = world.errors.reports
    assert report_entry.kind == "exception"
    assert "connection refused" in report_entry.message
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.status is TransactionStatus.PENDING


async def test_reconciler_fails_a_declined_row(world: World, gym: Gym) -> None:
    session = await _checkout(world, gym)
    world.gateway.decline(session.low_profile_id)

    assert await reconcile(world.svc) == ReconcileReport(failed=1)


async def test_reconcile_and_expiry_obey_the_kill_switch_when_scheduled() -> None:
    world = make_world(schedule_enabled=False)
    gym = await add_gym(world.svc)
    session = await _checkout(world, gym)
    world.gateway.pay(session.low_profile_id)

    assert await reconcile(world.svc, scheduled=True) == ReconcileReport(disabled=True)
    assert await expire_stale(world.svc, scheduled=True) == ExpiryReport(disabled=True)
    assert (await reconcile(world.svc)).completed == 1


# --- sweeps read their "as of" time, not the clock (issue 7 item 2) --------------------------


async def test_the_stale_sweep_ages_and_cancels_as_of_its_time(world: World, gym: Gym) -> None:
    await _checkout(world, gym)
    week_later = world.clock.now() + timedelta(days=7, minutes=1)

    assert await expire_stale(world.svc, week_later - 2 * MINUTE) == ExpiryReport(cancelled=0)
    assert await expire_stale(world.svc, week_later) == ExpiryReport(cancelled=1)
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert (txn.status, txn.completed_at) == (TransactionStatus.CANCELLED, week_later)


async def test_the_reconciler_activates_as_of_its_time(world: World, gym: Gym) -> None:
    session = await _checkout(world, gym)
    world.gateway.pay(session.low_profile_id)
    as_of = world.clock.now() + 2 * MINUTE  # the clock itself stays where the checkout was

    assert await reconcile(world.svc, as_of) == ReconcileReport(completed=1)
    async with world.svc.uow() as uow:
        sub = await uow.subscriptions.get_by_org(gym.org_id)
    assert sub is not None
    assert (sub.current_period_start, sub.last_charged_at) == (as_of, as_of)
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.completed_at == as_of


async def test_the_reconciler_alerts_by_its_as_of_time(world: World, gym: Gym) -> None:
    await _checkout(world, gym)

    assert await reconcile(world.svc, world.clock.now() + 11 * MINUTE) == ReconcileReport(
        hang_alerted=1
    )
    assert await reconcile(world.svc, world.clock.now() + 12 * MINUTE) == ReconcileReport(
        still_pending=1
    )
