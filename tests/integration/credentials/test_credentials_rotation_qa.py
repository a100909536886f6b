"""QA row "Rotate the credential key, then use the saved config" (FIT-120, fixed) on Postgres.

A new key put first seals new values while the old one still opens old ones; ``fitdata keys
rotate`` re-seals provider credentials and card tokens under it; then the old key can leave
the keyring and everything still opens. Dropping the old key *before* rotating makes
``resolve_source_credentials`` fail with a clear error naming the key: never a 500.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from credentials_stack import (
    K1,
    K2,
    Gym,
    cli_env,
    make_gym,
    provider_rows,
    run_cli,
    running,
)

from fitdata_adapters.bootstrap import Runtime
from fitdata_core.errors import CredentialsUnreadable
from fitdata_core.model.billing import StoredCard
from fitdata_core.model.jobs import ImportProviderConfig
from fitdata_core.model.organizations import Role
from fitdata_core.ports.providers import SourceCredentials
from fitdata_core.ports.repositories import SecretKind
from fitdata_core.services import Actor
from fitdata_core.usecases.billing.common import card_context, open_card
from fitdata_core.usecases.credential_keys import key_status, rotate_keys
from fitdata_core.usecases.imports.credentials import (
    open_credentials,
    resolve_source_credentials,
)
from fitdata_core.usecases.imports.provider_config import save_provider_config
from support import builders

pytestmark = pytest.mark.integration

API_KEY = "arbox-key-before-rotation"
EMAIL = "ops@rotating-gym.io"
PASSWORD = "hunter2-but-longer"
CARD_TOKEN = "card-token-5326-1050"


async def _save_card(runtime: Runtime, org_id: str) -> None:
    sealed = runtime.services.cipher.encrypt(CARD_TOKEN.encode(), context=card_context(org_id))
    card = StoredCard(token_ciphertext=sealed.blob, key_id=sealed.key_id, last4="1050")
    async with runtime.services.uow() as uow:
        await uow.subscriptions.save(builders.subscription(org_id, card=card))
        await uow.commit()


async def _card_token(runtime: Runtime, org_id: str) -> str:
    async with runtime.services.uow(read_only=True) as uow:
        sub = await uow.subscriptions.get_by_org(org_id)
    assert sub is not None
    assert sub.card is not None
    return open_card(runtime.services, org_id, sub.card)


async def _keys(args: list[str], env: dict[str, str]) -> dict[str, object]:
    # The CLI runs its own event loop: give it a thread.
    outcome = await asyncio.to_thread(run_cli, ["keys", *args, "--json"], env)
    assert outcome.exit_code == 0, outcome.stderr
    data: dict[str, object] = outcome.json()
    return data


async def _store_under_k1(tmp_path: Path, database_url: str) -> Gym:
    async with running(tmp_path, database_url, K1) as (runtime, client):
        gym = await make_gym(runtime)
        posted = await client.post(
            gym.url,
            json={"apiKey": API_KEY, "email": EMAIL, "password": PASSWORD},
            headers=gym.headers(Role.OWNER),
        )
        assert posted.status_code == 201
        await _save_card(runtime, gym.org_id)
    return gym


async def test_rotate_with_a_new_key_first_then_drop_the_old_key(
    tmp_path: Path, database_url: str
) -> None:
    gym = await _store_under_k1(tmp_path, database_url)
    org_id = gym.org_id
    both = cli_env(tmp_path, database_url, f"{K2},{K1}")

    # The new key is current; the old one still opens what it sealed.
    async with running(tmp_path, database_url, f"{K2},{K1}") as (runtime, _):
        assert await resolve_source_credentials(runtime.services, org_id, None) == (
            SourceCredentials(api_key=API_KEY, email=EMAIL, password=PASSWORD)
        )
        assert await _card_token(runtime, org_id) == CARD_TOKEN
    before = await _keys(["status"], both)
    first = await _keys(["rotate"], both)
    second = await _keys(["rotate"], both)
    after = await _keys(["status"], both)

    assert before["in_use"] == {"provider_credentials": {"k1": 1}, "card_token": {"k1": 1}}
    assert (before["droppable"], before["needs_rotation"]) == ([], True)
    assert (first["rotated"], first["already_current"], first["unreadable"]) == (2, 0, {})
    assert (second["rotated"], second["already_current"]) == (0, 2)
    assert after["in_use"] == {"provider_credentials": {"k2": 1}, "card_token": {"k2": 1}}
    assert (after["droppable"], after["missing"]) == (["k1"], [])

    # The old key leaves the keyring: everything still opens.
    async with running(tmp_path, database_url, K2) as (runtime, client):
        resolved = await resolve_source_credentials(runtime.services, org_id, None)
        token = await _card_token(runtime, org_id)
        described = await client.get(gym.url, headers=gym.headers(Role.OWNER))
        rows = await provider_rows(runtime, org_id)

    assert resolved == SourceCredentials(api_key=API_KEY, email=EMAIL, password=PASSWORD)
    assert token == CARD_TOKEN
    assert described.status_code == 200
    data = described.json()["data"]
    assert (data["keyId"], data["readable"], data["hasManagementLogin"]) == ("k2", True, True)
    assert [(row["key_id"], row["is_active"]) for row in rows] == [("k2", True)]


async def test_dropping_the_old_key_before_rotating_fails_clearly_naming_it(
    tmp_path: Path, database_url: str
) -> None:
    gym = await _store_under_k1(tmp_path, database_url)
    org_id = gym.org_id
    too_early = cli_env(tmp_path, database_url, K2)

    async with running(tmp_path, database_url, K2) as (runtime, client):
        with pytest.raises(CredentialsUnreadable) as excinfo:
            await resolve_source_credentials(runtime.services, org_id, None)
        described = await client.get(gym.url, headers=gym.headers(Role.OWNER))
    status = await _keys(["status"], too_early)
    outcome = await asyncio.to_thread(run_cli, ["keys", "rotate", "--json"], too_early)

    error = excinfo.value
    assert error.key_id == "k1"
    assert "'k1'" in error.message
    assert "Re-enter" in error.message
    assert not [s for s in (API_KEY, EMAIL, PASSWORD) if s in error.message]
    # The dashboard's read still answers (no 500), saying what is wrong.
    assert described.status_code == 200
    data = described.json()["data"]
    assert (data["hasCredentials"], data["readable"], data["keyId"]) == (True, False, "k1")
    assert "'k1'" in data["problem"]
    assert status["missing"] == ["k1"]
    assert outcome.exit_code == 0
    assert outcome.json()["unreadable"] == {"k1": 2}
    assert outcome.json()["rotated"] == 0
    assert "no configured key opens them" in outcome.stderr


ROWS = 30


async def test_two_rotations_beside_a_writing_service_rotate_each_row_once(
    tmp_path: Path, database_url: str
) -> None:
    async with running(tmp_path, database_url, K1) as (runtime, _):
        gym = await make_gym(runtime)
        owner = Actor(gym.users[Role.OWNER])
        for n in range(ROWS):
            await save_provider_config(
                runtime.services, owner, gym.org_id, api_key=f"old-{n}", email=None, password=None
            )

    async with running(tmp_path, database_url, f"{K2},{K1}") as (runtime, _):
        svc = runtime.services
        writes = [
            save_provider_config(
                svc, owner, gym.org_id, api_key=f"new-{n}", email=None, password=None
            )
            for n in range(10)
        ]
        results = await asyncio.gather(
            rotate_keys(svc, batch_size=7), rotate_keys(svc, batch_size=7), *writes
        )
        first, second = results[0], results[1]
        status = await key_status(svc)

    # Each old row was re-sealed by exactly one of the two runs; the other saw it change.
    assert first.rotated + second.rotated == ROWS
    assert first.unreadable == second.unreadable == {}
    assert status.in_use[SecretKind.PROVIDER_CREDENTIALS] == {"k2": ROWS + 10}
    async with running(tmp_path, database_url, K2) as (runtime, _):
        rows = await provider_rows(runtime, gym.org_id)
        opened = {
            open_credentials(
                runtime.services,
                ImportProviderConfig(
                    id=row["id"],
                    organization_id=gym.org_id,
                    provider="arbox",
                    credentials_encrypted=bytes(row["credentials_encrypted"]),
                    key_id=row["key_id"],
                    is_active=row["is_active"],
                    created_at=runtime.services.clock.now(),
                ),
            ).api_key
            for row in rows
        }
    assert opened == {f"old-{n}" for n in range(ROWS)} | {f"new-{n}" for n in range(10)}
    assert [row["is_active"] for row in rows].count(True) == 1
