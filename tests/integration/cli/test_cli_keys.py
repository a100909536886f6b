"""``fitdata keys status`` and ``fitdata keys rotate`` in embedded mode (SQLite, the key file
in the data dir): what they print, and that a second rotation has nothing left to do."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cli_support import run_cli

from fitdata_adapters.bootstrap import bootstrap
from fitdata_adapters.crypto.keyring import EMBEDDED_KEY_FILE, KeyringCipher
from fitdata_adapters.settings import Settings
from fitdata_core.ports.providers import SourceCredentials
from fitdata_core.services import Actor
from fitdata_core.usecases.imports.credentials import resolve_source_credentials
from fitdata_core.usecases.imports.provider_config import save_provider_config
from fitdata_core.usecases.organizations import create_organization
from support.fakes import NoPayments

pytestmark = pytest.mark.integration

NEW_KEY = KeyringCipher.generate_spec("k-new")


async def _store_credentials() -> str:
    runtime = bootstrap(Settings.from_env(), payment_gateway=NoPayments())
    try:
        svc = runtime.services
        org = await create_organization(svc, name="Keys Gym", owner_email="owner@keys.io")
        async with svc.uow() as uow:
            owner = await uow.users.get_by_email("owner@keys.io")
        assert owner is not None
        for key in ("first-key", "second-key"):
            await save_provider_config(
                svc, Actor(owner.id), org.id, api_key=key, email=None, password=None
            )
        return org.id
    finally:
        await runtime.aclose()


async def _resolve(org_id: str) -> SourceCredentials:
    runtime = bootstrap(Settings.from_env(), payment_gateway=NoPayments())
    try:
        return await resolve_source_credentials(runtime.services, org_id, None)
    finally:
        await runtime.aclose()


def test_status_then_rotate_twice_then_the_embedded_key_can_go(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli(["migrate"]).exit_code == 0
    org_id = asyncio.run(_store_credentials())
    embedded = (data_dir / EMBEDDED_KEY_FILE).read_text().strip()

    status = run_cli(["keys", "status"])
    monkeypatch.setenv("FITDATA_CREDENTIAL_KEYS", f"{NEW_KEY},{embedded}")
    first = run_cli(["keys", "rotate"])
    second = run_cli(["keys", "rotate", "--json"])
    after = run_cli(["keys", "status", "--json"])
    monkeypatch.setenv("FITDATA_CREDENTIAL_KEYS", NEW_KEY)
    resolved = asyncio.run(_resolve(org_id))

    assert status.exit_code == 0
    assert status.stdout.splitlines() == [
        "current_key_id=embedded1 configured=embedded1",
        "provider_credentials: embedded1:2",
        "card_token: none",
        "droppable=none",
        "missing=none",
    ]
    assert first.exit_code == 0
    assert first.stdout.splitlines()[0] == (
        "current_key_id=k-new rotated=2 already_current=0 changed_meanwhile=0 unreadable=none"
    )
    assert second.json()["rotated"] == 0
    assert second.json()["already_current"] == 2
    assert after.json()["droppable"] == ["embedded1"]
    assert after.json()["in_use"] == {"provider_credentials": {"k-new": 2}, "card_token": {}}
    assert resolved == SourceCredentials(api_key="second-key")
    # Nothing secret on any output.
    for outcome in (status, first, second, after):
        assert "second-key" not in outcome.stdout + outcome.stderr
        assert embedded.split(":", 1)[1] not in outcome.stdout + outcome.stderr


def test_a_batch_size_below_one_is_refused() -> None:
    outcome = run_cli(["keys", "rotate", "--batch-size", "0"])

    assert outcome.exit_code == 2
    assert "batch-size" in outcome.stderr
