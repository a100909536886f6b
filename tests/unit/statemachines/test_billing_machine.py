"""A stateful model of one gym's platform billing, driven through the real use cases.

Hypothesis picks any interleaving of owner actions (checkout, cancel, resume, tier change),
payer actions (pay or decline a page), deliveries (webhook, return page, reconciler, in any
order and any number of times), an administrator's force-cancel, time passing with renewal
sweeps (cards that work or not), an operator's sweeps "as of" a chosen time while the clock
stands still (``fitdata billing renew --at``), and the stale sweep; after every step the
invariants must hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fitdata_core.errors import BusinessRuleViolation
from fitdata_core.model.billing import (
    MAX_FAILED_PAYMENTS,
    BillingTransaction,
    CancelReason,
    PlatformSubscription,
    SubscriptionStatus,
    TransactionKind,
    TransactionStatus,
    effective_tier,
)
from fitdata_core.model.organizations import Organization
from fitdata_core.services import Actor
from fitdata_core.usecases.billing import (
    cancel_subscription,
    change_tier,
    expire_stale,
    force_cancel,
    handle_webhook,
    reconcile,
    resume,
    run_renewals,
    start_checkout,
    verify_checkout,
)
from support.billing import Gym, World, add_gym, make_world

T = TypeVar("T")
_paths = st.sampled_from(["webhook", "verify", "reconcile", "all"])
ADMIN = Actor("platform-ops", is_platform_admin=True)


class BillingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.world: World = make_world()
        self.gym: Gym = self.run(add_gym(self.world.svc))
        self.terminal: dict[str, BillingTransaction] = {}  # settled rows, as first seen
        self.receipts_expected = 0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def refusal(self, coro: Coroutine[Any, Any, Any]) -> str | None:
        """Run a use case; the code of the business rule that refused it, if one did."""
        try:
            self.run(coro)
        except BusinessRuleViolation as exc:
            return exc.code
        return None

    def teardown(self) -> None:
        self.loop.close()

    # --- reading the world -------------------------------------------------------------------

    async def _read(
        self,
    ) -> tuple[Organization, PlatformSubscription | None, list[BillingTransaction]]:
        async with self.world.svc.uow() as uow:
            org = await uow.organizations.get(self.gym.org_id)
            sub = await uow.subscriptions.get_by_org(self.gym.org_id)
            page = await uow.billing_transactions.list_for_org(
                self.gym.org_id, limit=10_000, offset=0
            )
        assert org is not None
        return org, sub, list(page.items)

    def read(self) -> tuple[Organization, PlatformSubscription | None, list[BillingTransaction]]:
        return self.run(self._read())

    def checkouts(self) -> list[BillingTransaction]:
        return sorted(
            (t for t in self.read()[2] if t.kind is TransactionKind.CHECKOUT),
            key=lambda t: (t.created_at, t.id),
        )

    # --- owner -------------------------------------------------------------------------------

    @rule(tier=st.sampled_from(["pro", "elite"]))
    def owner_starts_checkout(self, tier: str) -> None:
        code = self.refusal(start_checkout(self.world.svc, self.gym.owner, self.gym.org_id, tier))
        if code is not None:
            assert code == "ALREADY_SUBSCRIBED"
            sub = self.read()[1]
            assert sub is not None
            assert sub.status is SubscriptionStatus.ACTIVE
            assert not sub.cancel_at_period_end

    @rule()
    def owner_cancels(self) -> None:
        code = self.refusal(cancel_subscription(self.world.svc, self.gym.owner, self.gym.org_id))
        assert code in {None, "NO_SUBSCRIPTION", "ALREADY_CANCELLED"}

    @rule()
    def owner_resumes(self) -> None:
        code = self.refusal(resume(self.world.svc, self.gym.owner, self.gym.org_id))
        assert code in {None, "NO_SUBSCRIPTION", "ALREADY_CANCELLED", "NOT_RESUMABLE"}

    @rule(tier=st.sampled_from(["lite", "pro", "elite"]))
    def owner_changes_tier(self, tier: str) -> None:
        code = self.refusal(change_tier(self.world.svc, self.gym.owner, self.gym.org_id, tier))
        assert code in {None, "PAYMENT_REQUIRED", "PAID_DOWNGRADE_UNSUPPORTED"}

    @rule()
    def admin_force_cancels(self) -> None:
        self.run(force_cancel(self.world.svc, ADMIN, self.gym.org_id))

    # --- payer and deliveries ----------------------------------------------------------------

    @precondition(lambda self: bool(self.world.gateway.pages))
    @rule(data=st.data(), pays=st.booleans())
    def payer_finishes_a_page(self, data: st.DataObject, pays: bool) -> None:
        page = data.draw(st.sampled_from(sorted(self.world.gateway.pages)))
        result = self.world.gateway.results[page]
        if result.status.value != "not_finalised":
            return  # a hosted page is paid (or declined) once
        (self.world.gateway.pay if pays else self.world.gateway.decline)(page)

    @precondition(lambda self: bool(self.world.gateway.pages))
    @rule(data=st.data(), path=_paths)
    def a_result_is_delivered(self, data: st.DataObject, path: str) -> None:
        page = data.draw(st.sampled_from(sorted(self.world.gateway.pages)))
        self.deliver(page, path)

    @rule(tier=st.sampled_from(["pro", "elite"]), pays=st.booleans(), path=_paths)
    def owner_buys(self, tier: str, pays: bool, path: str) -> None:
        """Checkout, payment and delivery in one step, so runs reach paid states often."""
        try:
            session = self.run(
                start_checkout(self.world.svc, self.gym.owner, self.gym.org_id, tier)
            )
        except BusinessRuleViolation:
            return
        if self.world.gateway.results[session.low_profile_id].status.value == "not_finalised":
            (self.world.gateway.pay if pays else self.world.gateway.decline)(session.low_profile_id)
        self.deliver(session.low_profile_id, path)

    def deliver(self, page: str, path: str) -> None:
        svc, gym = self.world.svc, self.gym
        calls: list[Coroutine[Any, Any, Any]] = []
        if path in ("webhook", "all"):
            calls.append(handle_webhook(svc, page))
        if path in ("verify", "all"):
            calls.append(verify_checkout(svc, gym.owner, gym.org_id, page))
        if path in ("reconcile", "all"):
            calls.append(reconcile(svc))

        async def together() -> None:
            await asyncio.gather(*calls)

        self.run(together())

    # --- time --------------------------------------------------------------------------------

    @rule(
        hours=st.sampled_from([1, 6, 24, 25, 24 * 31, 24 * 32]) | st.integers(1, 24 * 40),
        cards_work=st.booleans(),
    )
    def time_passes_and_renewals_run(self, hours: int, cards_work: bool) -> None:
        self.world.clock.advance(timedelta(hours=hours))
        self.world.gateway.decline_charges = not cards_work
        report = self.run(run_renewals(self.world.svc))
        assert report.errors == 0

    @rule(days=st.integers(min_value=1, max_value=4), cards_work=st.booleans())
    def daily_sweeps(self, days: int, cards_work: bool) -> None:
        """Skip to the period end, then run the sweep daily: dunning needs several runs in
        a row with the same card behaviour."""
        sub = self.read()[1]
        if sub is not None and sub.current_period_end is not None:
            gap = sub.current_period_end - self.world.clock.now()
            if gap > timedelta(0):
                self.world.clock.advance(gap)
        self.world.gateway.decline_charges = not cards_work
        for _ in range(days):
            self.world.clock.advance(timedelta(days=1))
            assert self.run(run_renewals(self.world.svc)).errors == 0

    @rule(
        days=st.integers(min_value=0, max_value=4),
        hours=st.integers(min_value=0, max_value=23),
        cards_work=st.booleans(),
        repeats=st.integers(min_value=1, max_value=3),
    )
    def operator_sweeps_as_of(self, days: int, hours: int, cards_work: bool, repeats: int) -> None:
        """`fitdata billing renew --at T`, T some days past the period end, run ``1 + repeats``
        times while the clock does not move: the repeats at the same T attempt nothing."""
        sub = self.read()[1]
        base = sub.current_period_end if sub and sub.current_period_end else None
        as_of = (base or self.world.clock.now()) + timedelta(days=days, hours=hours)
        self.world.gateway.decline_charges = not cards_work
        assert self.run(run_renewals(self.world.svc, as_of)).errors == 0
        attempts = len(self.world.gateway.charge_requests)
        for _ in range(repeats):
            again = self.run(run_renewals(self.world.svc, as_of))
            assert again.errors == again.renewed == again.failed == 0
            assert again.cancelled_max_failures == 0
        assert len(self.world.gateway.charge_requests) == attempts, "a second attempt at one T"

    @rule(days=st.integers(min_value=1, max_value=10))
    def stale_sweep(self, days: int) -> None:
        self.world.clock.advance(timedelta(days=days))
        self.run(expire_stale(self.world.svc))

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def settled_transactions_never_change(self) -> None:
        for txn in self.read()[2]:
            if txn.id in self.terminal:
                assert txn == self.terminal[txn.id], "a settled transaction changed"
            elif txn.status is not TransactionStatus.PENDING:
                self.terminal[txn.id] = txn
        # In particular: a cancelled one never completes, a completed one never un-completes.

    @invariant()
    def the_org_tier_follows_the_subscription(self) -> None:
        org, sub, _ = self.read()
        assert org.platform_tier is effective_tier(sub)
        # Coverage notes for --hypothesis-show-statistics: which states the runs reached.
        reason = sub.cancel_reason.value if sub and sub.cancel_reason else ""
        event(f"subscription: {sub.status.value if sub else 'none'} {reason}".strip())

    @invariant()
    def failure_count_and_dunning(self) -> None:
        sub = self.read()[1]
        if sub is None:
            return
        if sub.status is SubscriptionStatus.ACTIVE:
            assert sub.failed_payment_count == 0  # reset by every success
        if sub.status is SubscriptionStatus.PAST_DUE:
            assert 0 < sub.failed_payment_count < MAX_FAILED_PAYMENTS
        # Dunning's next attempt exists exactly while the subscription is past due.
        assert (sub.next_payment_attempt_at is not None) is (
            sub.status is SubscriptionStatus.PAST_DUE
        )
        if sub.failed_payment_count >= MAX_FAILED_PAYMENTS:
            assert sub.status is SubscriptionStatus.CANCELLED
            assert sub.cancel_reason is CancelReason.MAX_FAILED_PAYMENTS

    @invariant()
    def money_and_records_agree(self) -> None:
        _, _, txns = self.read()
        completed = [t for t in txns if t.status is TransactionStatus.COMPLETED]
        renewals = [t for t in completed if t.kind is TransactionKind.RENEWAL]
        assert len(renewals) == self.world.gateway.money_taken  # no charge without its record
        assert len({t.external_uniq_id for t in renewals}) == len(renewals)
        receipts = [m for m in self.world.mailer.sent if m.subject.startswith("Receipt")]
        assert len(receipts) == len(completed)  # one receipt per payment, no more

    @invariant()
    def at_most_one_checkout_is_open(self) -> None:
        pending = [t for t in self.checkouts() if t.status is TransactionStatus.PENDING]
        assert len(pending) <= 1


TestBillingMachine = BillingMachine.TestCase
TestBillingMachine.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
