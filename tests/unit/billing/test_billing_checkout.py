"""Smoke rows S1–S7 and the checkout permission rows P1, P4."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from fitdata_core.errors import BusinessRuleViolation, InvalidInput, NotFound, PermissionDenied
from fitdata_core.model.billing import SubscriptionStatus, TransactionKind, TransactionStatus
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.ports.infrastructure import Ciphertext
from fitdata_core.usecases.billing import (
    ActivationOutcome,
    get_billing_status,
    handle_webhook,
    start_checkout,
    verify_checkout,
)
from fitdata_core.usecases.billing.common import card_context
from support.billing import (
    CARD_TOKEN,
    Gym,
    World,
    add_gym,
    make_world,
    org_of,
    subscription_of,
    transactions_of,
)


async def test_S1_owner_starts_pro_checkout(world: World, gym: Gym) -> None:
    session = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")

    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.status is TransactionStatus.PENDING
    assert txn.kind is TransactionKind.CHECKOUT
    assert txn.amount.amount == Decimal("249.00")
    assert txn.amount.currency == "ILS"
    assert txn.metadata == {"tier": "pro", "paymentPageUrl": session.url}
    assert txn.low_profile_id == session.low_profile_id
    assert session.url.startswith("https://secure.cardcom.test/")
    assert session.reused is False
    assert session.as_dict() == {
        "transactionId": txn.id,
        "url": session.url,
        "lowProfileId": txn.low_profile_id,
        "reused": False,
    }
    # Cardcom echoes our transaction id back as ReturnValue.
    page = world.gateway.pages[session.low_profile_id]
    assert page.return_value == txn.id
    assert page.amount == txn.amount
    assert page.payer_email == gym.owner_email


async def test_elite_price_comes_from_config() -> None:
    world = make_world(price_elite=Decimal("399"))
    gym = await add_gym(world.svc)
    await start_checkout(world.svc, gym.owner, gym.org_id, PlatformTier.ELITE)
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.amount.amount == Decimal("399.00")


async def test_S2_paid_webhook_activates_pro_and_seals_the_token(world: World, gym: Gym) -> None:
    session = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")
    world.gateway.pay(session.low_profile_id)

    outcome = await handle_webhook(world.svc, session.low_profile_id)

    assert outcome is ActivationOutcome.COMPLETED
    sub = await subscription_of(world.svc, gym.org_id)
    assert sub is not None
    assert sub.status is SubscriptionStatus.ACTIVE
    assert sub.tier is PlatformTier.PRO
    assert sub.current_period_start == world.clock.now()
    assert sub.current_period_end == world.clock.now().replace(month=2)  # one calendar month
    assert sub.last_charged_at == world.clock.now()
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.PRO
    [txn] = await transactions_of(world.svc, gym.org_id)
    assert txn.status is TransactionStatus.COMPLETED
    assert txn.provider_transaction_id == f"ptx-{session.low_profile_id}"
    # The token is stored sealed, bound to this org, never in plaintext.
    assert sub.card is not None
    assert CARD_TOKEN.encode() not in sub.card.token_ciphertext
    assert sub.card.last4 == "0008"
    opened = world.cipher.decrypt(
        Ciphertext(sub.card.key_id, sub.card.token_ciphertext), context=card_context(gym.org_id)
    )
    assert opened.decode() == CARD_TOKEN
    assert CARD_TOKEN not in repr(sub)
    # One receipt to the owner, without the token.
    [receipt] = world.mailer.sent
    assert receipt.to == gym.owner_email
    assert "249.00 ILS" in receipt.text
    assert "0008" in receipt.text
    assert CARD_TOKEN not in receipt.text + receipt.subject


async def test_S3_verify_checkout_activates_when_the_webhook_never_came(
    world: World, gym: Gym
) -> None:
    session = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")
    world.gateway.pay(session.low_profile_id)

    result = await verify_checkout(world.svc, gym.owner, gym.org_id, session.low_profile_id)

    assert result.outcome is ActivationOutcome.COMPLETED
    assert result.transaction_status is TransactionStatus.COMPLETED
    assert result.tier is PlatformTier.PRO
    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.PRO
    # The webhook arriving afterwards changes nothing.
    assert await handle_webhook(world.svc, session.low_profile_id) is (
        ActivationOutcome.ALREADY_PROCESSED
    )
    assert len(world.mailer.sent) == 1


async def test_S4_reuse_window_returns_same_url(world: World, gym: Gym) -> None:
    first = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")
    world.clock.advance(timedelta(minutes=9, seconds=59))

    second = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")

    assert second.url == first.url
    assert second.transaction_id == first.transaction_id
    assert second.reused is True
    assert len(await transactions_of(world.svc, gym.org_id)) == 1
    assert len(world.gateway.pages) == 1


async def test_S4_after_the_window_a_new_page_supersedes_the_old(world: World, gym: Gym) -> None:
    first = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")
    world.clock.advance(timedelta(minutes=10))

    second = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")

    assert second.url != first.url
    old, new = await transactions_of(world.svc, gym.org_id)
    assert old.status is TransactionStatus.CANCELLED
    assert new.status is TransactionStatus.PENDING


async def test_S5_switching_tier_cancels_the_pending_row(world: World, gym: Gym) -> None:
    pro = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")
    world.clock.advance(timedelta(seconds=5))  # "immediately", and ordered
    elite = await start_checkout(world.svc, gym.owner, gym.org_id, "elite")

    assert elite.url != pro.url
    pro_txn, elite_txn = await transactions_of(world.svc, gym.org_id)
    assert (pro_txn.tier, pro_txn.status) == (PlatformTier.PRO, TransactionStatus.CANCELLED)
    assert (elite_txn.tier, elite_txn.status) == (PlatformTier.ELITE, TransactionStatus.PENDING)
    assert elite_txn.amount.amount == Decimal("449.00")


async def test_S6_billing_status_reports_tier_period_failures_and_cancellation(
    world: World, gym: Gym
) -> None:
    before = await get_billing_status(world.svc, gym.owner, gym.org_id)
    assert before.status == "none"
    assert before.tier is PlatformTier.LITE
    assert before.access.level.value == "none"

    session = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")
    world.gateway.pay(session.low_profile_id)
    await handle_webhook(world.svc, session.low_profile_id)
    status = await get_billing_status(world.svc, gym.owner, gym.org_id)

    now = world.clock.now()
    assert status.as_dict() == {
        "organizationId": gym.org_id,
        "tier": "pro",
        "status": "active",
        "subscriptionTier": "pro",
        "currentPeriodStart": now.isoformat(),
        "currentPeriodEnd": now.replace(month=2).isoformat(),
        "failedPaymentCount": 0,
        "nextPaymentAttemptAt": None,
        "cancelAtPeriodEnd": False,
        "cancellationEffectiveAt": None,
        "lastChargedAt": now.isoformat(),
        "cancelReason": None,
        "cardLast4": "0008",
        "access": {"level": "full", "reason": "active", "until": now.replace(month=2).isoformat()},
    }


async def test_S7_free_tier_checkout_refused(world: World, gym: Gym) -> None:
    with pytest.raises(BusinessRuleViolation, match="Cannot create checkout for a free tier"):
        await start_checkout(world.svc, gym.owner, gym.org_id, "lite")
    assert await transactions_of(world.svc, gym.org_id) == []
    assert world.gateway.pages == {}


async def test_unknown_tier_is_invalid_input(world: World, gym: Gym) -> None:
    with pytest.raises(InvalidInput) as info:
        await start_checkout(world.svc, gym.owner, gym.org_id, "platinum")
    assert info.value.field == "tier"


async def test_an_active_subscription_is_not_bought_twice(world: World, gym: Gym) -> None:
    session = await start_checkout(world.svc, gym.owner, gym.org_id, "pro")
    world.gateway.pay(session.low_profile_id)
    await handle_webhook(world.svc, session.low_profile_id)

    with pytest.raises(BusinessRuleViolation) as info:
        await start_checkout(world.svc, gym.owner, gym.org_id, "elite")
    assert info.value.code == "ALREADY_SUBSCRIBED"


@pytest.mark.parametrize("role", ["admin", "coach", "member"])
async def test_P1_only_the_owner_starts_a_checkout(world: World, gym: Gym, role: str) -> None:
    with pytest.raises(PermissionDenied):
        await start_checkout(world.svc, getattr(gym, role), gym.org_id, "pro")
    assert world.gateway.pages == {}


async def test_P4_verify_with_another_orgs_low_profile_id_is_refused(
    world: World, gym: Gym
) -> None:
    other = await add_gym(world.svc, "Haifa CrossFit")
    theirs = await start_checkout(world.svc, other.owner, other.org_id, "pro")
    world.gateway.pay(theirs.low_profile_id)

    with pytest.raises(PermissionDenied, match="Transaction does not belong to org"):
        await verify_checkout(world.svc, gym.owner, gym.org_id, theirs.low_profile_id)

    assert (await org_of(world.svc, gym.org_id)).platform_tier is PlatformTier.LITE
    assert (await org_of(world.svc, other.org_id)).platform_tier is PlatformTier.LITE
    assert await subscription_of(world.svc, other.org_id) is None


async def test_verify_of_an_unknown_low_profile_id_is_not_found(world: World, gym: Gym) -> None:
    with pytest.raises(NotFound):
        await verify_checkout(world.svc, gym.owner, gym.org_id, "lp-nope")
