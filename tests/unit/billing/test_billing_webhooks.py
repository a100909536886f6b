"""Webhook idempotency rows W1–W6, and the exactly-once activation under a crowd."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import attrs
import pytest

from fitdata_core.errors import ProviderError
from fitdata_core.model.billing import SubscriptionStatus, TransactionStatus
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.ports.infrastructure import EmailMessage
from fitdata_core.services import Actor
from fitdata_core.usecases.billing import (
    ActivationOutcome,
    CheckoutSession,
    force_cancel,
    handle_webhook,
    reconcile,
    start_checkout,
    verify_checkout,
)
from fitdata_core.usecases.billing.activation import AfterAnswer
from support.billing import (
    Gym,
    World,
    event_names,
    org_of,
    subscription_of,
    transactions_of,
)


async def _paid_checkout(world: World, gym: Gym) -> CheckoutSession:
    session = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")
    world.gateway.pay(session.low_profile_id)
    return session


async def test_W1_same_webhook_twice_activates_once(world: World, gym: Gym) -> None:
    session = await _paid_checkout(world, gym)

    first = await handle_webhook(world.svc, session.low_profile_id)
    sub_after_first = await subscription_of(world.svc, gym.org_id)
    world.clock.advance(timedelta(minutes=1))
    second = await handle_webhook(world.svc, session.low_profile_id)

    assert (first, second) == (ActivationOutcome.COMPLETED, ActivationOutcome.ALREADY_PROCESSED)
    assert await subscription_of(world.svc, gym.org_id) == sub_after_first
    assert (await event_names(world.svc, gym.org_id)).count("subscription.activated") == 1
    assert len(world.mailer.sent) == 1


async def test_W2_webhook_and_verify_race_one_wins(world: World, gym: Gym) -> None:
    session = await _paid_checkout(world, gym)

    outcomes = await asyncio.gather(
        handle_webhook(world.svc, session.low_profile_id),
        verify_checkout(world.svc, gym.owner, gym.org_id, session.low_profile_id),
    )

    webhook, verify = outcomes[0], outcomes[1].outcome
    assert sorted([webhook, verify]) == sorted(
        [ActivationOutcome.COMPLETED, ActivationOutcome.ALREADY_PROCESSED]
    )
    assert (await event_names(world.svc, gym.org_id)).count("subscription.activated") == 1
    assert len(world.mailer.sent) == 1


async def test_W3_webhook_and_reconciler_race_one_wins(world: World, gym: Gym) -> None:
    session = await _paid_checkout(world, gym)
    world.clock.advance(timedelta(minutes=2))

    webhook, report = await asyncio.gather(
        handle_webhook(world.svc, session.low_profile_id), reconcile(world.svc)
    )

    assert (webhook is ActivationOutcome.COMPLETED) != (report.completed == 1)
    assert report.completed + report.already_processed == 1
    assert (await event_names(world.svc, gym.org_id)).count("subscription.activated") == 1
    assert len(world.mailer.sent) == 1


async def test_W4_not_finalised_defers_and_the_row_stays_pending(world: World, gym: Gym) -> None:
    session = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")

    outcome = await handle_webhook(world.svc, session.low_profile_id)

    assert outcome is ActivationOutcome.DEFERRED
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.status is TransactionStatus.PENDING
    assert await subscription_of(world.svc, gym.org_id) is None
    # The reconciler picks it up once Cardcom finalises.
    world.gateway.pay(session.low_profile_id)
    world.clock.advance(timedelta(minutes=5))
    assert (await reconcile(world.svc)).completed == 1
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.PRO


async def test_W5_webhook_after_cancel_changes_nothing(world: World, gym: Gym) -> None:
    session = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")
    await force_cancel(world.svc, Actor("ops", is_platform_admin=True), gym.org_id)
    world.gateway.pay(session.low_profile_id)  # the payer finished the page anyway

    outcome = await handle_webhook(world.svc, session.low_profile_id)

    assert outcome is ActivationOutcome.ALREADY_PROCESSED
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.status is TransactionStatus.CANCELLED
    assert await subscription_of(world.svc, gym.org_id) is None
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.LITE
    # Money was taken for a cancelled checkout: a person must refund it.
    assert world.messages("payment completed on a cancelled checkout")
    assert world.mailer.sent == []


async def test_W6_webhook_without_low_profile_id_is_ignored(world: World, gym: Gym) -> None:
    await start_checkout(world.svc, gym.owner, gym.org_id, "pro")
    lookups = world.gateway.result_lookups

    assert await handle_webhook(world.svc, None) is ActivationOutcome.IGNORED
    assert await handle_webhook(world.svc, "  ") is ActivationOutcome.IGNORED
    assert world.gateway.result_lookups == lookups
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.status is TransactionStatus.PENDING


async def test_webhook_for_an_unknown_low_profile_id_is_unknown(world: World) -> None:
    assert await handle_webhook(world.svc, "lp-never-issued") is ActivationOutcome.UNKNOWN
    assert world.gateway.result_lookups == 0


async def test_declined_checkout_fails_the_transaction(world: World, gym: Gym) -> None:
    session = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")
    world.gateway.decline(session.low_profile_id)

    assert await handle_webhook(world.svc, session.low_profile_id) is ActivationOutcome.FAILED

    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.status is TransactionStatus.FAILED
    assert txn.failure_reason == "Card declined (003)"
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.LITE


async def test_webhook_when_cardcom_is_unreachable_raises_so_cardcom_resends(
    world: World, gym: Gym
) -> None:
    session = await _paid_checkout(world, gym)
    world.gateway.unreachable = True

    with pytest.raises(ProviderError):
        await handle_webhook(world.svc, session.low_profile_id)
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.status is TransactionStatus.PENDING

    world.gateway.unreachable = False
    assert await handle_webhook(world.svc, session.low_profile_id) is ActivationOutcome.COMPLETED


async def test_a_result_naming_another_transaction_is_refused(world: World, gym: Gym) -> None:
    session = await _paid_checkout(world, gym)
    forged = world.gateway.results[session.low_profile_id]
    world.gateway.results[session.low_profile_id] = attrs.evolve(forged, return_value="other")

    assert await handle_webhook(world.svc, session.low_profile_id) is ActivationOutcome.UNKNOWN
    assert await subscription_of(world.svc, gym.org_id) is None
    assert world.messages("names another transaction")


async def test_mail_failure_never_undoes_the_payment(world: World, gym: Gym) -> None:
    session = await _paid_checkout(world, gym)
    world.mailer.down = True

    assert await handle_webhook(world.svc, session.low_profile_id) is ActivationOutcome.COMPLETED

    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert sub.status is SubscriptionStatus.ACTIVE
    assert [r.kind for r in world.errors.reports] == ["exception"]
    assert world.errors.reports[0].context["where"] == "billing-email"


async def test_a_crowd_of_webhooks_verifies_and_reconciles_activates_exactly_once(
    world: World, gym: Gym
) -> None:
    session = await _paid_checkout(world, gym)
    world.clock.advance(timedelta(minutes=3))
    lp = session.low_profile_id

    results = await asyncio.gather(
        *[handle_webhook(world.svc, lp) for _ in range(10)],
        *[verify_checkout(world.svc, gym.owner, gym.org_id, lp) for _ in range(10)],
        *[reconcile(world.svc) for _ in range(10)],
    )

    webhooks = results[:10]
    verifies = [r.outcome for r in results[10:20]]  # type: ignore[union-attr]
    reports = results[20:]
    completions = (
        webhooks.count(ActivationOutcome.COMPLETED)
        + verifies.count(ActivationOutcome.COMPLETED)
        + sum(r.completed for r in reports)  # type: ignore[union-attr]
    )
    assert completions == 1
    names = await event_names(world.svc, gym.org_id)
    assert names.count("subscription.activated") == 1
    assert names.count("transaction.completed") == 1
    assert names.count("organization.tier_changed") == 1
    assert len(world.mailer.sent) == 1
    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert sub.current_period_start == world.clock.now()


async def test_a_webhook_can_leave_the_receipt_to_its_caller(world: World, gym: Gym) -> None:
    """The HTTP webhook answers before the mail goes out: the activation hands the committed
    receipt to the caller instead of sending it, and only the winner gets one."""
    session = await _paid_checkout(world, gym)
    first: list[EmailMessage] = []
    again: list[EmailMessage] = []

    outcome = await handle_webhook(world.svc, session.low_profile_id, mail_out=first)
    repeat = await handle_webhook(world.svc, session.low_profile_id, mail_out=again)

    assert (outcome, repeat) == (ActivationOutcome.COMPLETED, ActivationOutcome.ALREADY_PROCESSED)
    assert world.mailer.sent == []  # nothing sent by the use case itself
    [receipt] = first
    assert receipt.to == gym.owner_email
    assert receipt.subject.startswith("Receipt:")
    assert again == []
    # Already committed when handed over: the subscription is active before any mail.
    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert sub.status is SubscriptionStatus.ACTIVE


async def test_a_webhook_can_leave_the_whole_receipt_until_after_its_answer(
    world: World, gym: Gym
) -> None:
    """With ``after_answer`` not even the owners lookup happens before the answer: the
    activation is committed, and the receipt goes out only when the caller runs the work."""
    session = await _paid_checkout(world, gym)
    first: list[AfterAnswer] = []
    again: list[AfterAnswer] = []

    outcome = await handle_webhook(world.svc, session.low_profile_id, after_answer=first)
    repeat = await handle_webhook(world.svc, session.low_profile_id, after_answer=again)

    assert (outcome, repeat) == (ActivationOutcome.COMPLETED, ActivationOutcome.ALREADY_PROCESSED)
    assert world.mailer.sent == []
    assert again == []
    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert sub.status is SubscriptionStatus.ACTIVE
    [send_receipt] = first
    await send_receipt()
    [receipt] = world.mailer.sent
    assert receipt.to == gym.owner_email
    assert receipt.subject.startswith("Receipt:")
