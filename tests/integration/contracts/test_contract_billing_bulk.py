"""Contract: the multi-row billing methods the batched renewal sweep relies on.

``get_many_for_update`` (organizations, transactions), ``get_many_by_org_for_update``,
``save_many`` and ``update_many`` each promise what one call of the single-row method does
for every row, in one round trip. That the locks are taken in id order is proven on Postgres
in ``tests/integration/db/test_db_postgres_bulk_locks.py`` (only there do row locks exist).
"""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from seeding import commit_one, seed_org

from fitdata_core.model.billing import (
    CancelReason,
    StoredCard,
    SubscriptionStatus,
    TransactionKind,
    TransactionStatus,
)
from fitdata_core.model.organizations import Organization
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.ports.repositories import UnitOfWorkFactory
from support import builders
from support.builders import T0, at

pytestmark = pytest.mark.integration

CARD = StoredCard(token_ciphertext=b"\x01sealed\xfe", key_id="k2", expiry_mmyy="1130", last4="0008")


async def _orgs(uow_factory: UnitOfWorkFactory, count: int) -> list[Organization]:
    """``count`` organizations, stored in an order other than their ids' (so an
    implementation that hands rows back in storage order is caught), returned sorted by id."""
    orgs = sorted((builders.organization() for _ in range(count)), key=lambda o: o.id)
    async with uow_factory() as uow:
        for org in [*orgs[1::2], *orgs[::2]][::-1]:
            await uow.organizations.add(org)
        await uow.commit()
    return orgs


# --- organizations.get_many_for_update ------------------------------------------------------


async def test_organizations_get_many_for_update_by_id_in_id_order(
    uow_factory: UnitOfWorkFactory,
) -> None:
    orgs = await _orgs(uow_factory, 5)
    wanted = [orgs[3], orgs[0], orgs[4], orgs[0], orgs[2]]  # unsorted, one twice
    async with uow_factory() as uow:
        found = await uow.organizations.get_many_for_update([o.id for o in wanted] + ["missing"])
        nothing = await uow.organizations.get_many_for_update([])
        only_missing = await uow.organizations.get_many_for_update(["missing", "gone"])
    expected = [orgs[0], orgs[2], orgs[3], orgs[4]]
    assert list(found.items()) == [(o.id, o) for o in expected]  # keyed by id, in id order
    assert nothing == {}
    assert only_missing == {}


async def test_organizations_get_many_for_update_reads_what_was_committed(
    uow_factory: UnitOfWorkFactory,
) -> None:
    orgs = await _orgs(uow_factory, 2)
    pro = orgs[1].with_tier(PlatformTier.PRO)
    await commit_one(uow_factory, lambda uow: uow.organizations.update(pro))
    async with uow_factory() as uow:
        found = await uow.organizations.get_many_for_update([orgs[1].id, orgs[0].id])
    assert found == {orgs[0].id: orgs[0], pro.id: pro}
    assert found[pro.id].platform_tier is PlatformTier.PRO


# --- subscriptions.get_many_by_org_for_update and save_many ---------------------------------


async def test_get_many_by_org_for_update_by_organization_in_its_id_order(
    uow_factory: UnitOfWorkFactory,
) -> None:
    orgs = await _orgs(uow_factory, 5)
    # Subscription ids sort the other way round from their organizations' ids: the order
    # promised is the organizations'.
    sub_ids = sorted((builders.new_id() for _ in orgs), reverse=True)
    subs = {
        org.id: builders.subscription(org.id, id=sub_id, card=CARD if i % 2 else None)
        for i, (org, sub_id) in enumerate(zip(orgs, sub_ids, strict=True))
        if i != 1  # orgs[1] never subscribed
    }
    async with uow_factory() as uow:
        for org_id in sorted(subs, reverse=True):
            await uow.subscriptions.save(subs[org_id])
        await uow.commit()
    asked = [orgs[4].id, orgs[1].id, orgs[0].id, orgs[4].id, orgs[2].id, "missing"]
    async with uow_factory() as uow:
        found = await uow.subscriptions.get_many_by_org_for_update(asked)
        nothing = await uow.subscriptions.get_many_by_org_for_update([])
    expected = [orgs[0].id, orgs[2].id, orgs[4].id]
    assert list(found.items()) == [(org_id, subs[org_id]) for org_id in expected]
    assert nothing == {}


async def test_save_many_inserts_and_updates_each_and_writes_nothing_else(
    uow_factory: UnitOfWorkFactory,
) -> None:
    orgs = await _orgs(uow_factory, 4)
    stored = [builders.subscription(org.id, card=CARD) for org in orgs[:3]]
    async with uow_factory() as uow:
        for sub in stored:
            await uow.subscriptions.save(sub)
        await uow.commit()
    failed, _ = stored[0].renewal_failed(at(1), "declined")
    cancelled, _ = stored[1].cancel(at(2), CancelReason.MAX_FAILED_PAYMENTS)
    cancelled = attrs.evolve(cancelled, card=None)  # a cleared column is written as cleared
    new = builders.subscription(orgs[3].id, tier=PlatformTier.ELITE, last_charged_at=at(3))
    async with uow_factory() as uow:
        await uow.subscriptions.save_many([new, cancelled, failed])
        await uow.subscriptions.save_many([])
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.subscriptions.get_many_by_org_for_update([o.id for o in orgs])
    assert found == {
        orgs[0].id: failed,
        orgs[1].id: cancelled,
        orgs[2].id: stored[2],  # not in the list: untouched
        orgs[3].id: new,
    }
    assert found[orgs[0].id].status is SubscriptionStatus.PAST_DUE
    assert found[orgs[1].id].card is None


async def test_save_many_is_undone_with_its_unit_of_work(uow_factory: UnitOfWorkFactory) -> None:
    orgs = await _orgs(uow_factory, 2)
    kept = builders.subscription(orgs[0].id)
    await commit_one(uow_factory, lambda uow: uow.subscriptions.save(kept))
    renewed, _ = kept.renewal_succeeded(at(5), period_end=T0 + timedelta(days=61))
    async with uow_factory() as uow:
        await uow.subscriptions.save_many([renewed, builders.subscription(orgs[1].id)])
        # Seen inside the unit of work...
        assert (await uow.subscriptions.get_by_org(orgs[0].id)) == renewed
    # ...and gone, every row of it, when the unit of work ends without a commit.
    async with uow_factory() as uow:
        assert await uow.subscriptions.get_by_org(orgs[0].id) == kept
        assert await uow.subscriptions.get_by_org(orgs[1].id) is None
    async with uow_factory() as uow:
        await uow.subscriptions.save_many([renewed])
        await uow.rollback()
        await uow.commit()  # commits nothing: the save was rolled back
    async with uow_factory() as uow:
        assert await uow.subscriptions.get_by_org(orgs[0].id) == kept


async def test_save_many_keeps_the_renewal_claim(uow_factory: UnitOfWorkFactory) -> None:
    orgs = await _orgs(uow_factory, 2)
    due = [builders.subscription(org.id, current_period_end=T0 - timedelta(days=1)) for org in orgs]
    async with uow_factory() as uow:
        await uow.subscriptions.save_many(due)
        await uow.commit()
    async with uow_factory() as uow:
        claimed = await uow.subscriptions.claim_due(T0, limit=5, now=at(0), until=at(5))
        await uow.commit()
    assert {s.organization_id for s in claimed} == {o.id for o in orgs}
    async with uow_factory() as uow:  # the recorder writes the outcomes while claimed
        await uow.subscriptions.save_many(due)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.subscriptions.claim_due(T0, limit=5, now=at(1), until=at(6)) == []


# --- billing_transactions.get_many_for_update and update_many -------------------------------


async def test_transactions_get_many_for_update_by_id_in_id_order(
    uow_factory: UnitOfWorkFactory,
) -> None:
    [org] = await _orgs(uow_factory, 1)
    ids = sorted(builders.new_id() for _ in range(5))
    txns = [
        builders.transaction(org.id, id=txn_id, created_at=at(-i), external_uniq_id=f"ext-{i}")
        for i, txn_id in enumerate(ids)
    ]
    async with uow_factory() as uow:
        for txn in [txns[2], txns[4], txns[0], txns[3], txns[1]]:
            await uow.billing_transactions.add(txn)
        await uow.commit()
    asked = [ids[4], ids[1], "missing", ids[4], ids[2]]
    async with uow_factory() as uow:
        found = await uow.billing_transactions.get_many_for_update(asked)
        nothing = await uow.billing_transactions.get_many_for_update([])
    assert list(found.items()) == [(t.id, t) for t in (txns[1], txns[2], txns[4])]
    assert nothing == {}


async def test_update_many_writes_each_given_transaction_and_nothing_else(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    txns = [
        builders.transaction(
            org.id, kind=TransactionKind.RENEWAL, external_uniq_id=f"renew-{i}", created_at=at(i)
        )
        for i in range(4)
    ]
    async with uow_factory() as uow:
        for txn in txns:
            await uow.billing_transactions.add(txn)
        await uow.commit()
    completed, _ = txns[0].complete(at(10), provider_transaction_id="cc-1")
    completed = completed.mark_alerted(at(11))
    failed, _ = txns[2].fail(at(12), "declined: 005")
    cancelled, _ = txns[3].cancel(at(13), "subscription cancelled")
    never_stored = builders.transaction(org.id, external_uniq_id="renew-ghost")
    async with uow_factory() as uow:
        await uow.billing_transactions.update_many([failed, never_stored, completed])
        await uow.billing_transactions.update_many([])
        await uow.billing_transactions.update(cancelled)  # the single-row path agrees
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.billing_transactions.get_many_for_update([t.id for t in txns])
        ghost = await uow.billing_transactions.get(never_stored.id)
    assert found == {
        completed.id: completed,
        txns[1].id: txns[1],  # not in the list: untouched
        failed.id: failed,
        cancelled.id: cancelled,
    }
    assert found[completed.id].status is TransactionStatus.COMPLETED
    assert found[completed.id].provider_transaction_id == "cc-1"
    assert found[failed.id].failure_reason == "declined: 005"
    assert ghost is None  # an update inserts nothing


async def test_update_many_is_undone_with_its_unit_of_work(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    txns = [builders.transaction(org.id) for _ in range(2)]
    async with uow_factory() as uow:
        for txn in txns:
            await uow.billing_transactions.add(txn)
        await uow.commit()
    settled = [
        txn.complete(at(1), provider_transaction_id=f"cc-{i}")[0] for i, txn in enumerate(txns)
    ]
    async with uow_factory() as uow:
        await uow.billing_transactions.update_many(settled)
        assert await uow.billing_transactions.get(txns[1].id) == settled[1]
    async with uow_factory() as uow:
        found = await uow.billing_transactions.get_many_for_update([t.id for t in txns])
    assert found == {t.id: t for t in txns}
