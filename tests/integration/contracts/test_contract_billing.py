"""Contract: platform subscriptions, billing transactions and the billing timeline."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from seeding import commit_one, seed_org

from fitdata_core.errors import Conflict
from fitdata_core.model.billing import (
    CancelReason,
    StoredCard,
    SubscriptionStatus,
    TransactionKind,
    TransactionStatus,
)
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.money import Money
from fitdata_core.ports.repositories import UnitOfWorkFactory
from support import builders
from support.builders import T0, at

pytestmark = pytest.mark.integration

CARD = StoredCard(
    token_ciphertext=b"\x00sealed-token\xff", key_id="k7", expiry_mmyy="0929", last4="4242"
)


async def test_subscription_save_inserts_then_updates(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    sub = builders.subscription(org.id, card=CARD)
    async with uow_factory() as uow:
        assert await uow.subscriptions.get_by_org(org.id) is None
        await uow.subscriptions.save(sub)
        await uow.commit()
    async with uow_factory() as uow:
        locked = await uow.subscriptions.get_by_org_for_update(org.id)
        assert locked == sub
        failed, _ = sub.renewal_failed(at(1), "declined")
        assert failed.next_payment_attempt_at is not None  # dunning's schedule round-trips too
        await uow.subscriptions.save(failed)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.subscriptions.get_by_org(org.id) == failed
    cancelled, _ = failed.cancel(at(2), CancelReason.OWNER_REQUESTED)
    without_card = attrs.evolve(cancelled, card=None, last_charged_at=at(3))
    async with uow_factory() as uow:
        await uow.subscriptions.save(without_card)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.subscriptions.get_by_org(org.id)
        assert await uow.subscriptions.get_by_org_for_update("missing") is None
    assert found == without_card
    assert found is not None
    assert found.status is SubscriptionStatus.CANCELLED
    assert found.cancel_reason is CancelReason.OWNER_REQUESTED


async def test_list_due_orders_by_period_end_and_limits(uow_factory: UnitOfWorkFactory) -> None:
    orgs = [await seed_org(uow_factory) for _ in range(6)]
    later = builders.subscription(orgs[0].id, current_period_end=T0 - timedelta(days=1))
    earliest = builders.subscription(orgs[1].id, current_period_end=T0 - timedelta(days=3))
    past_due = builders.subscription(
        orgs[2].id, status=SubscriptionStatus.PAST_DUE, current_period_end=T0 - timedelta(days=2)
    )
    cancelled = builders.subscription(
        orgs[3].id, status=SubscriptionStatus.CANCELLED, current_period_end=T0 - timedelta(days=9)
    )
    not_yet = builders.subscription(orgs[4].id, current_period_end=T0 + timedelta(seconds=1))
    no_period = builders.subscription(
        orgs[5].id, current_period_start=None, current_period_end=None
    )
    async with uow_factory() as uow:
        for sub in (later, earliest, past_due, cancelled, not_yet, no_period):
            await uow.subscriptions.save(sub)
        await uow.commit()
    async with uow_factory() as uow:
        due = await uow.subscriptions.list_due(T0, limit=10)
        first_two = await uow.subscriptions.list_due(T0, limit=2)
        exactly_at_end = await uow.subscriptions.list_due(T0 + timedelta(seconds=1), limit=10)
    assert due == [earliest, past_due, later]
    assert first_two == [earliest, past_due]
    assert exactly_at_end == [earliest, past_due, later, not_yet]


async def _claim(
    uow_factory: UnitOfWorkFactory, *, limit: int, now: datetime, until: datetime
) -> list[str]:
    async with uow_factory() as uow:
        claimed = await uow.subscriptions.claim_due(T0, limit=limit, now=now, until=until)
        await uow.commit()
    return [s.organization_id for s in claimed]


async def test_renewal_claims_are_disjoint_and_lapse(uow_factory: UnitOfWorkFactory) -> None:
    orgs = [await seed_org(uow_factory) for _ in range(7)]
    due = [
        builders.subscription(org.id, current_period_end=T0 - timedelta(days=5 - i))
        for i, org in enumerate(orgs[:5])
    ]
    cancelled = builders.subscription(
        orgs[5].id, status=SubscriptionStatus.CANCELLED, current_period_end=T0 - timedelta(days=9)
    )
    not_yet = builders.subscription(orgs[6].id, current_period_end=T0 + timedelta(seconds=1))
    async with uow_factory() as uow:
        for sub in (*reversed(due), cancelled, not_yet):
            await uow.subscriptions.save(sub)
        await uow.commit()
    oldest_first = [s.organization_id for s in due]

    first = await _claim(uow_factory, limit=2, now=at(0), until=at(5))
    second = await _claim(uow_factory, limit=10, now=at(1), until=at(6))
    third = await _claim(uow_factory, limit=10, now=at(2), until=at(7))

    assert first == oldest_first[:2]  # oldest period end first
    assert second == oldest_first[2:]  # the rest, none of the first claimer's
    assert third == []  # everything due is held
    async with uow_factory() as uow:  # a claim hides nothing from plain reads
        assert len(await uow.subscriptions.list_due(T0, limit=10)) == 5

    # The first claimer's lease runs out: its rows are claimable again, the others are not.
    lapsed = await _claim(uow_factory, limit=10, now=at(5), until=at(10))
    assert lapsed == oldest_first[:2]

    # Releasing needs the claim's own expiry: a stale release leaves the new claim alone.
    async with uow_factory() as uow:
        await uow.subscriptions.release_claims(oldest_first[:2], until=at(5))
        await uow.subscriptions.release_claims(oldest_first[2:], until=at(6))
        await uow.commit()
    assert await _claim(uow_factory, limit=10, now=at(5), until=at(11)) == oldest_first[2:]


async def test_an_uncommitted_renewal_claim_holds_nothing(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    sub = builders.subscription(org.id, current_period_end=T0 - timedelta(days=1))
    async with uow_factory() as uow:
        await uow.subscriptions.save(sub)
        await uow.commit()
    async with uow_factory() as uow:
        claimed = await uow.subscriptions.claim_due(T0, limit=5, now=at(0), until=at(5))
        assert claimed == [sub]
    # Rolled back: the claim never happened. A claim also leaves the subscription unchanged.
    assert await _claim(uow_factory, limit=5, now=at(0), until=at(5)) == [org.id]
    async with uow_factory() as uow:
        assert await uow.subscriptions.get_by_org(org.id) == sub
        # Saving the subscription (a renewal's outcome) keeps the claim.
        await uow.subscriptions.save(sub)
        await uow.commit()
    assert await _claim(uow_factory, limit=5, now=at(1), until=at(6)) == []


async def test_transaction_round_trip_and_lookups(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    txn = builders.transaction(
        org.id,
        kind=TransactionKind.RENEWAL,
        tier=PlatformTier.ELITE,
        amount=Money(Decimal("1499.99"), "ILS"),
        low_profile_id="lp-1",
        external_uniq_id="ext-1",
        metadata={"nested": {"a": [1, 2, "three"]}, "flag": True},
    )
    async with uow_factory() as uow:
        await uow.billing_transactions.add(txn)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.billing_transactions.get(txn.id) == txn
        assert await uow.billing_transactions.get_by_low_profile_id("lp-1") == txn
        assert await uow.billing_transactions.get_by_low_profile_id("lp-2") is None
        locked = await uow.billing_transactions.get_for_update(txn.id)
        assert locked == txn
        done, _ = txn.complete(at(5), provider_transaction_id="cc-99")
        alerted = done.mark_alerted(at(6))
        await uow.billing_transactions.update(alerted)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.billing_transactions.get(txn.id) == alerted
        assert await uow.billing_transactions.get_for_update("missing") is None


@pytest.mark.parametrize("field", ["low_profile_id", "external_uniq_id"])
async def test_provider_ids_are_unique(uow_factory: UnitOfWorkFactory, field: str) -> None:
    org = await seed_org(uow_factory)
    async with uow_factory() as uow:
        await uow.billing_transactions.add(builders.transaction(org.id, **{field: "same"}))
        await uow.billing_transactions.add(builders.transaction(org.id))  # None twice is fine
        await uow.billing_transactions.add(builders.transaction(org.id))
        await uow.commit()
    clash = builders.transaction(org.id, **{field: "same"})
    with pytest.raises(Conflict) as caught:
        await commit_one(uow_factory, lambda uow: uow.billing_transactions.add(clash))
    assert "transaction" in caught.value.message


async def test_transactions_list_for_org_and_by_status(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    pending = [builders.transaction(org.id, created_at=at(i)) for i in range(4)]
    failed = builders.transaction(org.id, created_at=at(10), status=TransactionStatus.FAILED)
    elsewhere = builders.transaction(other.id, created_at=at(1))
    async with uow_factory() as uow:
        for txn in (*pending, failed, elsewhere):
            await uow.billing_transactions.add(txn)
        await uow.commit()
    repo_calls: dict[str, object] = {}
    async with uow_factory() as uow:
        txns = uow.billing_transactions
        page = await txns.list_for_org(org.id, limit=2, offset=0)
        repo_calls["all_pending"] = await txns.list_by_status(TransactionStatus.PENDING)
        repo_calls["of_org"] = await txns.list_by_status(TransactionStatus.PENDING, org_id=org.id)
        repo_calls["window"] = await txns.list_by_status(
            TransactionStatus.PENDING, created_after=at(0), created_before=at(3)
        )
        repo_calls["limited"] = await txns.list_by_status(
            TransactionStatus.PENDING, org_id=org.id, limit=2
        )
        repo_calls["failed"] = await txns.list_by_status(TransactionStatus.FAILED)
    assert page.total == 5
    assert list(page.items) == [failed, pending[3]]
    all_pending = sorted([*pending, elsewhere], key=lambda t: (t.created_at, t.id))
    assert repo_calls["all_pending"] == all_pending
    assert repo_calls["of_org"] == pending
    assert repo_calls["window"] == sorted(
        [pending[1], pending[2], elsewhere], key=lambda t: (t.created_at, t.id)
    )
    assert repo_calls["limited"] == pending[:2]
    assert repo_calls["failed"] == [failed]


async def test_billing_events_keep_insertion_order_per_org(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    # Insertion order, not occurred_at, is the timeline order.
    events = [
        builders.event("sub-1", f"event.{i}", occurred_at=at(-i), data={"i": i, "tags": ["x"]})
        for i in range(5)
    ]
    async with uow_factory() as uow:
        for i, event in enumerate(events):
            await uow.billing_events.add(org.id, event)
            if i == 2:
                await uow.billing_events.add(other.id, builders.event("sub-2"))
        await uow.commit()
    async with uow_factory() as uow:
        everything = await uow.billing_events.list_for_org(org.id, limit=100, offset=0)
        middle = await uow.billing_events.list_for_org(org.id, limit=2, offset=2)
        others = await uow.billing_events.list_for_org(other.id, limit=100, offset=0)
    assert list(everything.items) == events
    assert everything.total == 5
    assert list(middle.items) == events[2:4]
    assert [e.aggregate_id for e in others.items] == ["sub-2"]


async def test_billing_events_added_together_keep_their_order(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    # More than one driver batch would hold, and out of occurred_at order on purpose.
    events = [
        builders.event("sub-1", f"event.{i}", occurred_at=at(-i), data={"i": i}) for i in range(7)
    ]
    async with uow_factory() as uow:
        await uow.billing_events.add(org.id, events[0])
        await uow.billing_events.add_many(org.id, events[1:4])
        await uow.billing_events.add_many(other.id, [builders.event("sub-2")])
        await uow.billing_events.add_many(org.id, [])
        await uow.billing_events.add_many(org.id, events[4:])
        await uow.commit()
    async with uow_factory() as uow:
        timeline = await uow.billing_events.list_for_org(org.id, limit=100, offset=0)
        others = await uow.billing_events.list_for_org(other.id, limit=100, offset=0)
    assert list(timeline.items) == events
    assert [e.aggregate_id for e in others.items] == ["sub-2"]


async def test_claims_come_back_oldest_first_from_one_batch(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """The claim returns its rows in the sweep's order whatever order the database hands
    them back in (the single claiming statement's RETURNING promises none)."""
    orgs = [await seed_org(uow_factory) for _ in range(6)]
    subs = [
        builders.subscription(org.id, current_period_end=T0 - timedelta(hours=(i * 7) % 6))
        for i, org in enumerate(orgs)
    ]
    async with uow_factory() as uow:
        for sub in subs:
            await uow.subscriptions.save(sub)
        await uow.commit()
    expected = sorted(subs, key=lambda s: (s.current_period_end, s.id))
    async with uow_factory() as uow:
        claimed = await uow.subscriptions.claim_due(T0, limit=4, now=at(0), until=at(5))
        await uow.commit()
    assert claimed == expected[:4]


async def test_add_if_new_writes_once_per_external_id_and_keeps_the_unit_of_work(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    first = builders.transaction(org.id, kind=TransactionKind.RENEWAL, external_uniq_id="renew-1")
    again = builders.transaction(org.id, kind=TransactionKind.RENEWAL, external_uniq_id="renew-1")
    other = builders.transaction(org.id, kind=TransactionKind.RENEWAL, external_uniq_id="renew-2")
    async with uow_factory() as uow:
        assert await uow.billing_transactions.add_if_new(first) is True
        assert await uow.billing_transactions.add_if_new(again) is False
        # The refused insert did not spoil the unit of work: it still writes and commits.
        assert await uow.billing_transactions.add_if_new(other) is True
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.billing_transactions.get(first.id) == first
        assert await uow.billing_transactions.get(again.id) is None
        assert await uow.billing_transactions.get(other.id) == other
    # Another clash (the LowProfile id) is still a Conflict.
    page = builders.transaction(org.id, low_profile_id="lp-x")
    await commit_one(uow_factory, lambda uow: uow.billing_transactions.add(page))
    clash = builders.transaction(org.id, low_profile_id="lp-x", external_uniq_id="renew-3")
    with pytest.raises(Conflict):
        await commit_one(uow_factory, lambda uow: uow.billing_transactions.add_if_new(clash))


async def test_add_many_if_new_returns_what_it_wrote_and_keeps_the_unit_of_work(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    taken = builders.transaction(org.id, kind=TransactionKind.RENEWAL, external_uniq_id="renew-a")
    await commit_one(uow_factory, lambda uow: uow.billing_transactions.add(taken))
    batch = [
        builders.transaction(org.id, kind=TransactionKind.RENEWAL, external_uniq_id="renew-b"),
        builders.transaction(org.id, kind=TransactionKind.RENEWAL, external_uniq_id="renew-a"),
        builders.transaction(other.id, kind=TransactionKind.RENEWAL, external_uniq_id="renew-c"),
    ]
    async with uow_factory() as uow:
        added = await uow.billing_transactions.add_many_if_new(batch)
        assert await uow.billing_transactions.add_many_if_new([]) == set()
        # The refused row did not spoil the unit of work: it still writes and commits.
        await uow.billing_events.add(org.id, builders.event("sub-1"))
        await uow.commit()
    assert added == {batch[0].id, batch[2].id}
    async with uow_factory() as uow:
        assert await uow.billing_transactions.get(batch[0].id) == batch[0]
        assert await uow.billing_transactions.get(batch[1].id) is None
        assert await uow.billing_transactions.get(batch[2].id) == batch[2]
        assert await uow.billing_transactions.get(taken.id) == taken


async def test_billing_events_of_several_orgs_added_together_keep_their_order(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    mine = [builders.event("sub-1", f"event.{i}", occurred_at=at(-i)) for i in range(4)]
    theirs = [builders.event("sub-2", f"other.{i}") for i in range(2)]
    async with uow_factory() as uow:
        await uow.billing_events.add_for_orgs(
            [(org.id, mine[0]), (other.id, theirs[0]), (org.id, mine[1]), (org.id, mine[2])]
        )
        await uow.billing_events.add_for_orgs([])
        await uow.billing_events.add_for_orgs([(other.id, theirs[1]), (org.id, mine[3])])
        await uow.commit()
    async with uow_factory() as uow:
        timeline = await uow.billing_events.list_for_org(org.id, limit=100, offset=0)
        others = await uow.billing_events.list_for_org(other.id, limit=100, offset=0)
    assert list(timeline.items) == mine
    assert list(others.items) == theirs
