"""Contract: stored secrets by sealing key (provider credentials and card tokens)."""

from __future__ import annotations

import attrs
import pytest
from seeding import seed_org

from fitdata_core.model.billing import StoredCard
from fitdata_core.ports.infrastructure import Ciphertext
from fitdata_core.ports.repositories import SecretKind, UnitOfWorkFactory
from support import builders
from support.builders import at

pytestmark = pytest.mark.integration

PROVIDER = SecretKind.PROVIDER_CREDENTIALS
CARD = SecretKind.CARD_TOKEN


async def test_counts_pages_and_compare_and_set_of_provider_credentials(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    ids = sorted(builders.new_id() for _ in range(4))
    rows = [
        builders.provider_config(
            org.id,
            id=row_id,
            key_id=key_id,
            credentials_encrypted=f"blob-{n}".encode(),
            is_active=n == 3,
            created_at=at(n),
        )
        for n, (row_id, key_id) in enumerate(zip(ids, ["k1", "k2", "k1", "k0"], strict=True))
    ]
    async with uow_factory() as uow:
        for row in rows:
            await uow.provider_configs.add(row)
        await uow.commit()

    async with uow_factory(read_only=True) as uow:
        counts = await uow.sealed_secrets.count_by_key(PROVIDER)
        first = await uow.sealed_secrets.list_not_sealed_by(PROVIDER, "k2", after=None, limit=2)
        rest = await uow.sealed_secrets.list_not_sealed_by(
            PROVIDER, "k2", after=first[-1].row_id, limit=2
        )
    assert counts == {"k0": 1, "k1": 2, "k2": 1}
    # Inactive rows are stored secrets too; the row sealed by k2 is left out; id order.
    assert [s.row_id for s in first] == [ids[0], ids[2]]
    assert [s.row_id for s in rest] == [ids[3]]
    secret = first[0]
    assert (secret.kind, secret.organization_id, secret.provider) == (PROVIDER, org.id, "arbox")
    assert secret.sealed == Ciphertext(key_id="k1", blob=b"blob-0")

    resealed = Ciphertext(key_id="k2", blob=b"new-blob")
    async with uow_factory() as uow:
        assert await uow.sealed_secrets.reseal(secret, resealed) is True
        # The same stale read again: the row no longer holds it.
        assert await uow.sealed_secrets.reseal(secret, resealed) is False
        # Same key id but other bytes (a value written meanwhile): refused too.
        forged = attrs.evolve(first[1], sealed=Ciphertext(key_id="k1", blob=b"other"))
        assert await uow.sealed_secrets.reseal(forged, resealed) is False
        await uow.commit()

    async with uow_factory(read_only=True) as uow:
        active = await uow.provider_configs.get_active(org.id, "arbox")
        counts = await uow.sealed_secrets.count_by_key(PROVIDER)
        left = await uow.sealed_secrets.list_not_sealed_by(PROVIDER, "k2", after=None, limit=10)
    assert counts == {"k0": 1, "k1": 1, "k2": 2}
    assert [s.row_id for s in left] == [ids[2], ids[3]]
    # Re-sealing touches only the sealed value and its key id.
    assert active == rows[3]


async def test_card_tokens_by_key_and_compare_and_set(uow_factory: UnitOfWorkFactory) -> None:
    with_card = await seed_org(uow_factory)
    without_card = await seed_org(uow_factory)
    card = StoredCard(token_ciphertext=b"sealed-token", key_id="k1", expiry_mmyy="1230", last4="42")
    sub = builders.subscription(with_card.id, card=card)
    async with uow_factory() as uow:
        await uow.subscriptions.save(sub)
        await uow.subscriptions.save(builders.subscription(without_card.id))
        await uow.commit()

    async with uow_factory(read_only=True) as uow:
        counts = await uow.sealed_secrets.count_by_key(CARD)
        [secret] = await uow.sealed_secrets.list_not_sealed_by(CARD, "k2", after=None, limit=10)
        none_left = await uow.sealed_secrets.list_not_sealed_by(CARD, "k1", after=None, limit=10)
    assert counts == {"k1": 1}
    assert (secret.row_id, secret.organization_id, secret.provider) == (sub.id, with_card.id, None)
    assert secret.sealed == Ciphertext(key_id="k1", blob=b"sealed-token")
    assert none_left == []

    async with uow_factory() as uow:
        ok = await uow.sealed_secrets.reseal(secret, Ciphertext(key_id="k2", blob=b"resealed"))
        again = await uow.sealed_secrets.reseal(secret, Ciphertext(key_id="k2", blob=b"twice"))
        await uow.commit()

    async with uow_factory(read_only=True) as uow:
        stored = await uow.subscriptions.get_by_org(with_card.id)
        counts = await uow.sealed_secrets.count_by_key(CARD)
    assert (ok, again) == (True, False)
    assert stored == attrs.evolve(
        sub, card=attrs.evolve(card, token_ciphertext=b"resealed", key_id="k2")
    )
    assert counts == {"k2": 1}


async def test_reseal_of_an_uncommitted_read_is_rolled_back(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    row = builders.provider_config(org.id, key_id="k1")
    async with uow_factory() as uow:
        await uow.provider_configs.add(row)
        await uow.commit()
    async with uow_factory() as uow:
        [secret] = await uow.sealed_secrets.list_not_sealed_by(PROVIDER, "k2", after=None, limit=1)
        assert await uow.sealed_secrets.reseal(secret, Ciphertext(key_id="k2", blob=b"x"))
        # no commit
    async with uow_factory(read_only=True) as uow:
        assert await uow.sealed_secrets.count_by_key(PROVIDER) == {"k1": 1}
