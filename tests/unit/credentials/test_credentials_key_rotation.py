"""Key rotation over provider credentials and card tokens (memory adapters)."""

from __future__ import annotations

import attrs
import pytest

from conftest import K1, K2, Gym, with_keys
from fitdata_adapters.crypto.keyring import KeyringCipher
from fitdata_core.errors import CredentialsUnreadable, InvalidInput
from fitdata_core.model.billing import StoredCard
from fitdata_core.ports.infrastructure import Ciphertext
from fitdata_core.ports.providers import SourceCredentials
from fitdata_core.ports.repositories import SecretKind
from fitdata_core.services import Services
from fitdata_core.usecases.billing.common import card_context, open_card
from fitdata_core.usecases.credential_keys import key_status, rotate_keys
from fitdata_core.usecases.imports.credentials import resolve_source_credentials
from fitdata_core.usecases.imports.provider_config import save_provider_config
from support import builders

CARD_TOKEN = "tok-4580-1111"
API_KEY = "arbox-key-1"


async def _store_card(svc: Services, org_id: str) -> StoredCard:
    """Save a card on the org's subscription (created on first use), sealed by the current key."""
    sealed = svc.cipher.encrypt(CARD_TOKEN.encode(), context=card_context(org_id))
    card = StoredCard(token_ciphertext=sealed.blob, key_id=sealed.key_id, last4="1111")
    async with svc.uow() as uow:
        sub = await uow.subscriptions.get_by_org(org_id) or builders.subscription(org_id)
        await uow.subscriptions.save(attrs.evolve(sub, card=card))
        await uow.commit()
    return card


async def _card(svc: Services, org_id: str) -> StoredCard:
    async with svc.uow(read_only=True) as uow:
        sub = await uow.subscriptions.get_by_org(org_id)
    assert sub is not None
    assert sub.card is not None
    return sub.card


async def _seed(gym: Gym) -> None:
    """Two credential rows (one replaced) and a card, all sealed by k1."""
    for key in ("old-key", API_KEY):
        await save_provider_config(
            gym.svc, gym.owner, gym.org_id, api_key=key, email=None, password=None
        )
    await _store_card(gym.svc, gym.org_id)


def test_a_new_key_first_seals_while_the_old_one_still_opens() -> None:
    old = KeyringCipher.from_spec(K1)
    both = KeyringCipher.from_spec(f"{K2},{K1}")
    sealed_before = old.encrypt(b"secret", context="c")

    sealed_after = both.encrypt(b"secret", context="c")

    assert (sealed_before.key_id, sealed_after.key_id) == ("k1", "k2")
    assert both.decrypt(sealed_before, context="c") == b"secret"
    assert (both.current_key_id, both.key_ids) == ("k2", ("k2", "k1"))


async def test_rotate_reseals_everything_then_the_old_key_can_go(gym: Gym) -> None:
    await _seed(gym)
    rotating = with_keys(gym.svc, f"{K2},{K1}")

    before = await key_status(rotating)
    first = await rotate_keys(rotating, batch_size=1)
    after = await key_status(rotating)
    second = await rotate_keys(rotating)

    assert before.in_use == {
        SecretKind.PROVIDER_CREDENTIALS: {"k1": 2},
        SecretKind.CARD_TOKEN: {"k1": 1},
    }
    assert (before.droppable, before.missing, before.needs_rotation) == ((), (), True)
    assert (first.rotated, first.already_current, first.changed_meanwhile) == (3, 0, 0)
    assert first.kinds[SecretKind.PROVIDER_CREDENTIALS].rotated == 2
    assert first.kinds[SecretKind.CARD_TOKEN].rotated == 1
    assert first.unreadable == {}
    assert after.in_use == {
        SecretKind.PROVIDER_CREDENTIALS: {"k2": 2},
        SecretKind.CARD_TOKEN: {"k2": 1},
    }
    assert (after.droppable, after.needs_rotation) == (("k1",), False)
    # A second run finds nothing to do.
    assert (second.rotated, second.already_current) == (0, 3)

    only_new = with_keys(gym.svc, K2)
    resolved = await resolve_source_credentials(only_new, gym.org_id, None)
    assert resolved == SourceCredentials(api_key=API_KEY)
    assert open_card(only_new, gym.org_id, await _card(only_new, gym.org_id)) == CARD_TOKEN
    card = await _card(only_new, gym.org_id)
    assert card.last4 == "1111"  # only the sealed token changed


async def test_dropping_the_old_key_before_rotating_leaves_secrets_unreadable(gym: Gym) -> None:
    await _seed(gym)
    too_early = with_keys(gym.svc, K2)

    status = await key_status(too_early)
    report = await rotate_keys(too_early)

    assert status.missing == ("k1",)
    assert report.rotated == 0
    assert report.unreadable == {"k1": 3}
    assert report.kinds[SecretKind.CARD_TOKEN].unreadable == {"k1": 1}
    with pytest.raises(CredentialsUnreadable) as excinfo:
        await resolve_source_credentials(too_early, gym.org_id, None)
    assert excinfo.value.key_id == "k1"
    assert "'k1'" in excinfo.value.message
    # Nothing was lost: with the key back, rotation completes.
    recovered = await rotate_keys(with_keys(gym.svc, f"{K2},{K1}"))
    assert recovered.rotated == 3
    assert await resolve_source_credentials(too_early, gym.org_id, None) == SourceCredentials(
        api_key=API_KEY
    )


async def test_a_row_written_meanwhile_is_not_overwritten(gym: Gym) -> None:
    await _seed(gym)
    rotating = with_keys(gym.svc, f"{K2},{K1}")
    async with rotating.uow() as uow:
        [stale] = await uow.sealed_secrets.list_not_sealed_by(
            SecretKind.CARD_TOKEN, "k2", after=None, limit=10
        )
    # The service saves a new card (sealed by k2) after the rotation read the old one.
    newer = await _store_card(rotating, gym.org_id)

    async with rotating.uow() as uow:
        replaced = await uow.sealed_secrets.reseal(
            stale, Ciphertext(key_id="k2", blob=b"stale value re-sealed")
        )
        await uow.commit()

    assert replaced is False
    assert await _card(rotating, gym.org_id) == newer


async def test_batch_size_must_be_positive(gym: Gym) -> None:
    with pytest.raises(InvalidInput):
        await rotate_keys(gym.svc, batch_size=0)
