"""Several renewal sweepers share the due subscriptions on Postgres instead of repeating them."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from billing_http_harness import Stack, build_runtime

from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.money import Money
from fitdata_core.ports.providers import CheckoutRequest
from fitdata_core.rules.billing_periods import next_period_end
from fitdata_core.usecases.billing import run_renewals
from fitdata_core.usecases.billing.common import seal_card
from support import builders

pytestmark = pytest.mark.integration

SUBSCRIPTIONS = 24


async def _seed_due_subscriptions(stack: Stack, count: int) -> dict[str, str]:
    """``count`` pro subscriptions past their period end, each with its own sandbox token.
    Returns subscription id -> organization id."""
    await stack.suppress_webhooks()  # the tokens are seeded directly, not through checkouts
    seeded: dict[str, str] = {}
    now = stack.clock.now()
    for number in range(count):
        org = builders.organization(platform_tier=PlatformTier.PRO)
        page = await stack.svc.payment_gateway.create_checkout(
            CheckoutRequest(str(number), Money(249), "fitdata Pro plan")
        )
        paid = await stack.cardcom.post(f"/_sandbox/low-profiles/{page.low_profile_id}/pay")
        assert paid.json()["approved"] is True
        result = await stack.svc.payment_gateway.get_checkout_result(page.low_profile_id)
        end = now - timedelta(hours=1, minutes=number)
        sub = builders.subscription(
            org.id,
            current_period_start=end - timedelta(days=30),
            current_period_end=end,
            card=seal_card(stack.svc, org.id, result),
        )
        async with stack.svc.uow() as uow:
            await uow.organizations.add(org)
            await uow.subscriptions.save(sub)
            await uow.commit()
        seeded[sub.id] = org.id
    await stack.suppress_webhooks(False)
    return seeded


async def test_two_concurrent_sweeps_split_the_work_and_charge_each_once(stack: Stack) -> None:
    seeded = await _seed_due_subscriptions(stack, SUBSCRIPTIONS)
    ends = {}
    async with stack.svc.uow() as uow:
        for org_id in seeded.values():
            sub = await uow.subscriptions.get_by_org(org_id)
            assert sub is not None
            ends[org_id] = sub.current_period_end
    # A slow Cardcom, so both sweeps are busy at the same time.
    latency = await stack.cardcom.put(
        "/_sandbox/latency", json={"endpoint": "Transactions/Transaction", "ms": 20}
    )
    assert latency.status_code == 200
    # A second sweeper with its own connection pool and gateway, as another process has.
    other = build_runtime(stack.settings, stack.clock, stack.mailer, stack.errors)
    try:
        first, second = await asyncio.gather(
            run_renewals(stack.svc, concurrency=3), run_renewals(other.services, concurrency=3)
        )
    finally:
        await other.aclose()

    assert first.renewed > 0
    assert second.renewed > 0
    assert first.renewed + second.renewed == SUBSCRIPTIONS
    # Neither met a subscription the other was working on (no "another sweeper has it").
    assert first.skipped == second.skipped == 0
    assert first.errors == second.errors == first.failed == second.failed == 0
    assert stack.errors.reports == []

    charges = await stack.token_charges()
    per_subscription = Counter(str(c["ExternalUniqTranId"]).rsplit("-", 2)[0] for c in charges)
    assert per_subscription == {f"renew-{sub_id}": 1 for sub_id in seeded}
    assert all(c["Charged"] for c in charges)
    async with stack.svc.uow() as uow:
        for org_id, end in ends.items():
            sub = await uow.subscriptions.get_by_org(org_id)
            assert sub is not None
            assert end is not None
            assert sub.current_period_end == next_period_end(end)
        # Every claim was dropped when the sweeps ended: the rows are free for the next run.
        again = await uow.subscriptions.claim_due(
            stack.clock.now() + timedelta(days=40),
            limit=SUBSCRIPTIONS,
            now=stack.clock.now(),
            until=stack.clock.now() + timedelta(minutes=1),
        )
    assert len(again) == SUBSCRIPTIONS


async def test_open_claims_on_postgres_skip_each_other(stack: Stack) -> None:
    orgs = [builders.organization() for _ in range(4)]
    now = stack.clock.now()
    subs = [
        builders.subscription(org.id, current_period_end=now - timedelta(minutes=10 - i))
        for i, org in enumerate(orgs)
    ]
    factory = SqlUnitOfWorkFactory(stack.runtime.engine)
    async with factory() as uow:
        for org, sub in zip(orgs, subs, strict=True):
            await uow.organizations.add(org)
            await uow.subscriptions.save(sub)
        await uow.commit()
    until = now + timedelta(minutes=5)
    async with factory() as first, factory() as second:
        # Neither has committed: the second does not wait for the first's row locks.
        taken_first = await first.subscriptions.claim_due(now, limit=2, now=now, until=until)
        taken_second = await asyncio.wait_for(
            second.subscriptions.claim_due(now, limit=10, now=now, until=until), 10
        )
        await first.commit()
        await second.commit()
    assert taken_first == subs[:2]
    assert taken_second == subs[2:]
