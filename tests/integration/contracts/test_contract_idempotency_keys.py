"""Contract: idempotency keys, unique per organization and key, on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from seeding import seed_org

from fitdata_core.errors import Conflict
from fitdata_core.ports.repositories import IdempotencyRecord, UnitOfWorkFactory
from support.builders import at

pytestmark = pytest.mark.integration


def _record(org_id: str, key: str = "k1", *, n: int = 0) -> IdempotencyRecord:
    return IdempotencyRecord(
        organization_id=org_id,
        key=key,
        fingerprint="f" * 64,
        created_at=at(n),
        expires_at=at(n) + timedelta(hours=24),
    )


async def test_a_claim_round_trips_and_completes(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    async with uow_factory() as uow:
        await uow.idempotency_keys.add(_record(org.id))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.idempotency_keys.complete(
            org.id, "k1", status_code=202, response=b'{"data": {"jobId": "j"}}'
        )
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        stored = await uow.idempotency_keys.get(org.id, "k1")
        missing = await uow.idempotency_keys.get(org.id, "k2")

    assert stored == IdempotencyRecord(
        organization_id=org.id,
        key="k1",
        fingerprint="f" * 64,
        created_at=at(0),
        expires_at=at(0) + timedelta(hours=24),
        status_code=202,
        response=b'{"data": {"jobId": "j"}}',
    )
    assert missing is None


async def test_a_key_is_unique_per_organization(uow_factory: UnitOfWorkFactory) -> None:
    org, other = await seed_org(uow_factory), await seed_org(uow_factory)
    async with uow_factory() as uow:
        await uow.idempotency_keys.add(_record(org.id))
        await uow.idempotency_keys.add(_record(other.id))
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.idempotency_keys.add(_record(org.id, n=1))


async def test_delete_takes_only_the_claim_it_names_and_expiry_is_per_org(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org, other = await seed_org(uow_factory), await seed_org(uow_factory)
    async with uow_factory() as uow:
        await uow.idempotency_keys.add(_record(org.id, "old", n=0))
        await uow.idempotency_keys.add(_record(org.id, "new", n=48 * 60))
        await uow.idempotency_keys.add(_record(other.id, "old", n=0))
        await uow.commit()
    async with uow_factory() as uow:
        wrong = await uow.idempotency_keys.delete(org.id, "new", created_at=at(0))
        expired = await uow.idempotency_keys.delete_expired(org.id, now=at(24 * 60))
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        kept = [
            await uow.idempotency_keys.get(o, k)
            for o, k in ((org.id, "old"), (org.id, "new"), (other.id, "old"))
        ]

    assert wrong is False
    assert expired == 1
    assert [record is not None for record in kept] == [False, True, True]
