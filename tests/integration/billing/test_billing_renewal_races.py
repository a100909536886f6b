"""The renewal sweep's recorder races owners' cancels and Cardcom's webhooks on Postgres.

Twelve due subscriptions are renewed by one sweep (one claim, one recorder batch: the
transactions, subscriptions and organizations each locked with one statement). For three of
them the owner cancels, for two a platform administrator force-cancels (which cancels the
pending renewal too), for three (past due, their saved token now declines) Cardcom posts the
webhook of a new checkout the owner paid, and four are plain renewals. The cancels and
webhooks arrive over HTTP at the app on its own socket either

* ``while_charging``: after the claim, while the charges are out (held at the gateway), so
  they commit before the recorder reads; or
* ``holding_locks``: through the app in the test's loop (``tests/support/concurrency.py``),
  each request held at a rendezvous right after it locked its subscription, until the
  recorder (charges released) waits on those locks; then they go on to the organization row
  while the recorder holds the transactions: the order in which inverted lock orders
  deadlock (the force-cancels sit this one out: see the test); or
* ``while_recording``: while the recorder holds its row locks; the test lets the recorder go
  on only once every one of them waits on a lock (``pg_stat_activity``), so they commit after.

Either way: every caller gets its answer (no deadlock, no contention error, nothing recorded
one by one after a failed batch), each subscription is charged once, a cancel is kept (it
takes effect at the end of the period the renewal just paid for), a force-cancel ends the
subscription whichever commits first (the renewal's money then raises the documented refund
alert), a paid checkout wins over a declined renewal, every subscription went only through
moves its state machine allows, and every event is recorded once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import attrs
import httpx
import pytest
import sqlalchemy as sa
from billing_http_harness import GymUsers, Stack, bearer, eventually, webhook_body

from fitdata_adapters.cardcom_sandbox import TOKEN_DECLINES_LATER_CARD
from fitdata_core.events import DomainEvent
from fitdata_core.model.billing import (
    MAX_FAILED_PAYMENTS,
    SUBSCRIPTION_TRANSITIONS,
    PlatformSubscription,
    SubscriptionStatus,
)
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.ports.providers import ChargeOutcome, ChargeRequest
from fitdata_core.rules.billing_periods import next_period_end
from fitdata_core.usecases.billing import RenewalOutcome, renew_subscription, run_renewals
from fitdata_core.usecases.users import set_platform_admin
from support.concurrency import Rendezvous, concurrent_client, pausing_app

pytestmark = pytest.mark.integration

CANCELLING, FORCED, PAYING, PLAIN = 3, 2, 3, 4
DUE = CANCELLING + FORCED + PAYING + PLAIN


class _HeldCharges:
    """The gateway, with every token charge held until :meth:`release` (``while_charging``:
    the cancels and webhooks land between the claim and the record)."""

    def __init__(self, inner: Any, expected: int) -> None:
        self._inner = inner
        self._released = asyncio.Event()
        self._expected = expected
        self.held = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def charge_token(self, request: ChargeRequest) -> ChargeOutcome:
        self.held += 1
        await self._released.wait()
        outcome: ChargeOutcome = await self._inner.charge_token(request)
        return outcome

    def release(self) -> None:
        self._released.set()

    async def all_held(self) -> bool:
        return self.held >= self._expected


Hook = Callable[[list[str]], Awaitable[None]]


@attrs.define
class _ProbedSubscriptions:
    inner: Any
    hook: Hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get_many_by_org_for_update(self, org_ids: list[str]) -> Any:
        found = await self.inner.get_many_by_org_for_update(org_ids)
        await self.hook(list(found))  # the recorder holds the rows now
        return found


@attrs.define
class _ProbedUow:
    inner: Any
    probe: _Probe

    async def __aenter__(self) -> _ProbedUow:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        if exc[1] is not None:
            self.probe.failures.append(exc[1])
        return await self.inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if name == "subscriptions":
            return _ProbedSubscriptions(found, self.probe.hook)
        return found


@attrs.define
class _Probe:
    """The sweep's units of work: any that ends in an error is kept (a recorder batch that
    failed would otherwise be hidden by the one-by-one retry), and ``hook`` runs when the
    recorder has locked its subscriptions."""

    make_uow: Callable[..., Any]
    hook: Hook
    failures: list[BaseException] = attrs.field(factory=list)

    def __call__(self, *, read_only: bool = False, separate_reads: bool = False) -> _ProbedUow:
        return _ProbedUow(self.make_uow(read_only=read_only, separate_reads=separate_reads), self)


async def _lock_waits(stack: Stack) -> int:
    async with stack.runtime.engine.connect() as conn:
        found = await conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return int(found.scalar_one())


async def _subscription(stack: Stack, org_id: str) -> PlatformSubscription:
    async with stack.svc.uow() as uow:
        sub = await uow.subscriptions.get_by_org(org_id)
    assert sub is not None
    return sub


def _replay(events: list[DomainEvent]) -> SubscriptionStatus:
    """Walk the subscription's events through its state machine (it starts as cancelled, the
    state a first activation leaves); any move the table forbids raises."""
    status = SubscriptionStatus.CANCELLED
    for event in events:
        if event.aggregate != "platform_subscription":
            continue
        name = event.name.removeprefix("subscription.")
        if name in ("activated", "renewed"):
            target = SubscriptionStatus.ACTIVE
        elif name == "payment_failed" and event.data["count"] < MAX_FAILED_PAYMENTS:
            target = SubscriptionStatus.PAST_DUE
        elif name == "cancelled":
            target = SubscriptionStatus.CANCELLED
        else:  # cancel_scheduled, resumed, the last payment_failed: no move of their own
            assert status is not SubscriptionStatus.CANCELLED, event
            continue
        SUBSCRIPTION_TRANSITIONS.check(status, target)
        status = target
    return status


@pytest.mark.parametrize("arrival", ["while_charging", "holding_locks", "while_recording"])
async def test_recorder_racing_cancels_and_webhooks(stack: Stack, arrival: str) -> None:
    cancelling = [await stack.gym(f"Cancelling {i}") for i in range(CANCELLING)]
    forced = [await stack.gym(f"Forced {i}") for i in range(FORCED)]
    paying = [await stack.gym(f"Paying {i}") for i in range(PAYING)]
    plain = [await stack.gym(f"Plain {i}") for i in range(PLAIN)]
    everyone = [*cancelling, *forced, *paying, *plain]
    if arrival == "holding_locks":
        # A force-cancel holds the renewal's transaction, which would stop the recorder at its
        # first statement, before the subscriptions and organizations this case is about:
        # those gyms just renew here.
        plain, forced = [*plain, *forced], []
    operator = await stack.gym("Platform Staff")
    # Admin routes want the stored platform-admin flag as well as the token's claim.
    await set_platform_admin(stack.svc, operator.owner_email, True)
    for gym in [*cancelling, *plain, *forced]:
        await stack.activate(gym)
    for gym in paying:
        await stack.activate(gym, card=TOKEN_DECLINES_LATER_CARD)
    end = (await _subscription(stack, plain[0].org_id)).current_period_end
    assert end is not None
    # The paying gyms' first renewal was declined: they are past due, due again a day later,
    # and their owners check out again (allowed while past due) and pay; Cardcom's webhook
    # is held back to be posted during the race.
    for gym in paying:
        outcome = await renew_subscription(stack.svc, gym.org_id, end + timedelta(hours=2))
        assert outcome is RenewalOutcome.FAILED
    as_of = end + timedelta(days=1)
    stack.clock.set(as_of)
    await stack.suppress_webhooks()
    checkouts = {}
    for gym in paying:
        session = await stack.checkout(gym)
        await stack.pay(session["lowProfileId"])
        checkouts[gym.org_id] = session["lowProfileId"]
    charges_before = len(await stack.token_charges())

    racers = {gym.org_id: gym for gym in [*cancelling, *forced, *paying]}
    forced_ids = {gym.org_id for gym in forced}
    fired: dict[str, asyncio.Task[httpx.Response]] = {}
    # ``holding_locks`` goes through the app in this loop, each request held right after it
    # locked the subscription; the others through the app on its own socket.
    rendezvous = Rendezvous(len(racers) + 1, timeout=20)
    held_app = pausing_app(
        stack.runtime, rendezvous, repository="subscriptions", methods=["get_by_org_for_update"]
    )
    in_loop = concurrent_client(held_app)
    client = in_loop if arrival == "holding_locks" else stack.app

    def fire(org_ids: list[str]) -> list[str]:
        """Send the cancel or the webhook of each racing gym in ``org_ids`` not sent yet."""
        new = [org_id for org_id in org_ids if org_id in racers and org_id not in fired]
        for org_id in new:
            gym = racers[org_id]
            if org_id in checkouts:
                request = client.post("/webhooks/cardcom", json=webhook_body(checkouts[org_id]))
            elif org_id in forced_ids:
                request = client.post(
                    f"/admin/organizations/{org_id}/billing/force-cancel",
                    headers=bearer(operator.owner, platform_admin=True),
                )
            else:
                request = client.post(
                    f"/organizations/{org_id}/billing/cancel", headers=bearer(gym.owner)
                )
            fired[org_id] = asyncio.create_task(request)
        return new

    blocked: list[int] = []

    async def while_recording(org_ids: list[str]) -> None:
        if arrival != "while_recording" or not fire(org_ids):
            return

        # Go on once every request sent so far waits on a row lock the recorder holds (or,
        # were the recorder not to lock, has finished).
        async def all_wait() -> bool:
            return await _lock_waits(stack) >= sum(not t.done() for t in fired.values())

        await eventually(all_wait, within=15)
        blocked.append(sum(not fired[org_id].done() for org_id in org_ids if org_id in racers))

    async def all_arrived() -> bool:
        return rendezvous.arrived >= len(racers)

    async def recorder_waits() -> bool:
        return await _lock_waits(stack) > 0

    gateway = _HeldCharges(stack.svc.payment_gateway, DUE)
    probe = _Probe(stack.svc.uow, while_recording)
    svc = attrs.evolve(stack.svc, payment_gateway=gateway, uow=probe)
    sweep = asyncio.create_task(run_renewals(svc, as_of, concurrency=DUE))
    await eventually(gateway.all_held, within=15)
    if arrival == "while_charging":
        fire(list(racers))
        await asyncio.wait_for(asyncio.gather(*fired.values()), 15)
    elif arrival == "holding_locks":
        fire(list(racers))
        await eventually(all_arrived, within=15)  # each holds its subscription's lock
    gateway.release()
    if arrival == "holding_locks":
        await eventually(recorder_waits, within=15)  # the recorder waits for those locks
        blocked.append(len(racers) - sum(t.done() for t in fired.values()))
        await rendezvous.wait()  # the last party: let them all go on
    report = await asyncio.wait_for(sweep, 30)
    answers = await asyncio.wait_for(asyncio.gather(*fired.values()), 15)
    await in_loop.aclose()

    # Nobody saw an error: every request answered, the sweep's units of work all committed.
    assert sorted(fired) == sorted(racers)
    assert [r.status_code for r in answers] == [200] * len(racers), [r.text for r in answers]
    assert [
        r.json()["status"] for org_id, r in zip(fired, answers, strict=True) if org_id in checkouts
    ] == ["completed"] * PAYING
    assert probe.failures == []
    recorded_first = arrival == "while_recording"  # before the checkout or force-cancel
    # Money taken for a renewal the administrator had cancelled: the refund alert, once each.
    refund = "Platform billing renewal charged after its cancellation"
    alerts = sorted((r.message, r.context.get("organization_id")) for r in stack.errors.reports)
    assert alerts == ([] if recorded_first else [(refund, o) for o in sorted(forced_ids)])
    assert attrs.asdict(report) == attrs.asdict(
        report.__class__(
            renewed=CANCELLING + len(plain) + (FORCED if recorded_first else 0),
            failed=PAYING if recorded_first else 0,
            skipped=0 if recorded_first else PAYING + len(forced),  # the rows had moved on
        )
    )
    # A second sweep at the same moment finds nothing left to do.
    again = await run_renewals(stack.svc, as_of)
    assert attrs.asdict(again) == attrs.asdict(report.__class__())

    # Each subscription charged once: one token charge per renewal attempt.
    charges = (await stack.token_charges())[charges_before:]
    by_subscription = Counter(str(c["ExternalUniqTranId"]).rsplit("-", 2)[0] for c in charges)
    subs = {gym.org_id: await _subscription(stack, gym.org_id) for gym in everyone}
    assert by_subscription == {f"renew-{sub.id}": 1 for sub in subs.values()}
    paying_subs = {f"renew-{subs[g.org_id].id}" for g in paying}
    assert all(
        c["Charged"] is (str(c["ExternalUniqTranId"]).rsplit("-", 2)[0] not in paying_subs)
        for c in charges
    )

    renewed_end = next_period_end(end)
    for gym in everyone:
        sub = subs[gym.org_id]
        events = await stack.events(gym.org_id)
        names = Counter(e.name for e in events)
        assert _replay(events) is sub.status
        status = await stack.status(gym)
        assert sub.failed_payment_count == 0
        if gym in forced:
            # Cancelled now, whichever committed first; the renewal's money stays on record.
            assert (status["tier"], status["status"]) == ("lite", "cancelled")
            assert status["cancelReason"] == "admin-force-cancel"
            assert names["subscription.cancelled"] == 1
            assert names["subscription.renewed"] == (1 if recorded_first else 0)
            assert names["organization.tier_changed"] == 2  # to pro, back to lite
            renewals = [
                t["status"] for t in await stack.transactions(gym) if t["kind"] == "renewal"
            ]
            assert renewals == ["completed" if recorded_first else "cancelled"]
            assert await _tier(stack, gym) is PlatformTier.LITE
            continue
        assert sub.status is SubscriptionStatus.ACTIVE
        assert (status["tier"], status["status"]) == ("pro", "active")
        if gym in paying:
            # The paid checkout activated a fresh month from its payment.
            assert sub.current_period_end == next_period_end(as_of)
            assert not sub.cancel_at_period_end
            assert names["subscription.activated"] == 2
            assert names["subscription.payment_failed"] == (2 if recorded_first else 1)
            assert names["transaction.failed"] == 2
            assert names["transaction.completed"] == 2
            assert names["transaction.created"] == 4  # two checkouts, two renewal attempts
            kinds = Counter((t["kind"], t["status"]) for t in await stack.transactions(gym))
            assert kinds == {
                ("checkout", "completed"): 2,
                ("renewal", "failed"): 2,
            }
            continue
        assert sub.current_period_end == renewed_end
        assert names["subscription.renewed"] == 1
        assert names["subscription.activated"] == 1
        assert names["transaction.completed"] == 2
        assert names["transaction.created"] == 2
        assert names["organization.tier_changed"] == 1
        if gym in cancelling:
            # The cancel is kept: it ends the subscription when the period just paid ends.
            assert sub.cancel_at_period_end
            assert status["cancellationEffectiveAt"] == status["currentPeriodEnd"]
            assert names["subscription.cancel_scheduled"] == 1
            order = [
                e.name
                for e in events
                if e.name in ("subscription.renewed", "subscription.cancel_scheduled")
            ]
            expected = ["subscription.cancel_scheduled", "subscription.renewed"]
            assert order == (expected[::-1] if arrival == "while_recording" else expected)
        else:
            assert not sub.cancel_at_period_end
        assert await _tier(stack, gym) is PlatformTier.PRO

    # The race happened as arranged: in ``while_recording`` every request waited on the
    # recorder's locks; in ``holding_locks`` the recorder waited on theirs.
    if arrival != "while_charging":
        assert sum(blocked) == len(racers), blocked
    assert not rendezvous.timed_out


async def _tier(stack: Stack, gym: GymUsers) -> PlatformTier:
    async with stack.svc.uow() as uow:
        org = await uow.organizations.get(gym.org_id)
    assert org is not None
    return org.platform_tier
