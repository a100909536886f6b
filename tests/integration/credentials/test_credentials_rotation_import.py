"""Key rotation end to end, as an operator does it: stored Arbox credentials sealed with key
k1 keep importing (over HTTP, on Postgres, from the Arbox sandbox over a real socket) when a
new key k2 is put first, after ``fitdata keys rotate``, and after a restart with only k2; and
a secret whose key was dropped without rotating fails its import with a message naming the
key and what to do, never a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from credentials_stack import K1, K2, Client, Gym, cli_env, make_gym, run_cli, running

from fitdata_adapters.arbox_sandbox import SandboxConfig, SandboxThread
from fitdata_adapters.bootstrap import Runtime
from fitdata_core.model.organizations import Role
from support.imports import drain

pytestmark = pytest.mark.integration

MEMBERS = 40
LANDED = MEMBERS - 1  # the generated gym has one malformed email
SANDBOX = SandboxConfig(members=MEMBERS)
STORED = {"apiKey": SANDBOX.api_key, "email": SANDBOX.email, "password": SANDBOX.password}


@pytest.fixture(scope="module")
def arbox() -> Iterator[SandboxThread]:
    with SandboxThread(SANDBOX) as thread:
        yield thread


def _import_url(gym: Gym) -> str:
    return f"/organizations/{gym.org_id}/import"


async def _start(client: Client, gym: Gym) -> Any:
    return await client.post(
        _import_url(gym),
        json={"source": "arbox", "entities": {"plans": True, "members": True}, "enrich": False},
        headers=gym.headers(Role.OWNER),
    )


async def _import(runtime: Runtime, client: Client, gym: Gym) -> dict[str, Any]:
    """POST an import with the stored credentials, run it as a worker would, read the job."""
    started = await _start(client, gym)
    assert started.status_code == 202, started.text
    await drain(runtime.services)
    return await _job(client, gym, started.json()["data"]["jobId"])


async def _job(client: Client, gym: Gym, job_id: str) -> dict[str, Any]:
    job = await client.get(f"{_import_url(gym)}/jobs/{job_id}", headers=gym.headers(Role.OWNER))
    assert job.status_code == 200, job.text
    data: dict[str, Any] = job.json()["data"]
    return data


async def _keys(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    outcome = await asyncio.to_thread(run_cli, ["keys", *args, "--json"], env)  # own loop
    assert outcome.exit_code == 0, outcome.stderr
    data: dict[str, Any] = outcome.json()
    return data


async def _store_under_k1(tmp_path: Path, database_url: str, arbox: SandboxThread) -> Gym:
    arbox.sandbox.reset()
    async with running(tmp_path, database_url, K1, arbox.base_url) as (runtime, client):
        gym = await make_gym(runtime)
        stored = await client.post(gym.url, json=STORED, headers=gym.headers(Role.OWNER))
        assert stored.status_code == 201, stored.text
    return gym


async def test_imports_work_through_a_rotation_and_after_the_old_key_is_dropped(
    tmp_path: Path, database_url: str, arbox: SandboxThread
) -> None:
    gym = await _store_under_k1(tmp_path, database_url, arbox)
    both = cli_env(tmp_path, database_url, f"{K2},{K1}")

    # k2 first: it seals new values; k1 still opens the stored credentials.
    async with running(tmp_path, database_url, f"{K2},{K1}", arbox.base_url) as (rt, client):
        before = await _import(rt, client, gym)
    status_before = await _keys(["status"], both)
    rotated = await _keys(["rotate"], both)
    status_after = await _keys(["status"], both)

    # Restarted with only k2 configured.
    async with running(tmp_path, database_url, K2, arbox.base_url) as (rt, client):
        after = await _import(rt, client, gym)
        config = await client.get(gym.url, headers=gym.headers(Role.OWNER))
    only_k2 = await _keys(["status"], cli_env(tmp_path, database_url, K2))

    assert before["status"] == "completed", before
    assert before["results"]["members"]["created"] == LANDED
    assert status_before["in_use"]["provider_credentials"] == {"k1": 1}
    assert status_before["needs_rotation"] is True
    assert (rotated["rotated"], rotated["unreadable"]) == (1, {})
    assert status_after["in_use"]["provider_credentials"] == {"k2": 1}
    assert status_after["droppable"] == ["k1"]  # k1 seals nothing any more
    assert after["status"] == "completed", after
    assert after["results"]["members"]["unchanged"] == LANDED  # same source, nothing to write
    assert after["errorMessage"] is None
    assert config.json()["data"]["keyId"] == "k2"
    assert only_k2["configured_key_ids"] == ["k2"]
    assert all("k1" not in counts for counts in only_k2["in_use"].values())
    assert (only_k2["missing"], only_k2["needs_rotation"]) == ([], False)


async def test_a_key_dropped_without_rotating_fails_the_import_naming_it(
    tmp_path: Path, database_url: str, arbox: SandboxThread
) -> None:
    gym = await _store_under_k1(tmp_path, database_url, arbox)
    # An import queued while k1 was still configured...
    async with running(tmp_path, database_url, f"{K2},{K1}", arbox.base_url) as (_, client):
        queued = await _start(client, gym)
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["data"]["jobId"]

    async with running(tmp_path, database_url, K2, arbox.base_url) as (runtime, client):
        # ...is run by a worker restarted without k1: it fails, saying why and what to do.
        await drain(runtime.services)
        failed = await _job(client, gym, job_id)
        # A new import is refused up front with the same explanation (409, not a 500).
        refused = await _start(client, gym)

    assert failed["status"] == "failed", failed
    assert "'k1'" in failed["errorMessage"]
    assert "fitdata keys rotate" in failed["errorMessage"]
    assert "Re-enter" in failed["errorMessage"]
    assert refused.status_code == 409, refused.text
    message = refused.json()["detail"]
    assert "'k1'" in message
    assert "fitdata keys rotate" in message
    for secret in STORED.values():
        assert secret not in repr(failed)
        assert secret not in refused.text
    assert not arbox.sandbox.calls  # nothing reached Arbox without credentials


async def test_an_inline_credentials_job_whose_key_was_dropped_fails_naming_it(
    tmp_path: Path, database_url: str, arbox: SandboxThread
) -> None:
    """Inline credentials live sealed on their job only; a job left queued while its key was
    dropped fails saying which key, instead of a 500 or a silent retry loop."""
    arbox.sandbox.reset()
    inline = {
        "arboxApiKey": SANDBOX.api_key,
        "arboxEmail": SANDBOX.email,
        "arboxPassword": SANDBOX.password,
    }
    async with running(tmp_path, database_url, K1, arbox.base_url) as (runtime, client):
        gym = await make_gym(runtime)
        queued = await client.post(
            _import_url(gym),
            json={"source": "arbox", "entities": {"members": True}, "enrich": False, **inline},
            headers=gym.headers(Role.OWNER),
        )
    assert queued.status_code == 202, queued.text
    async with running(tmp_path, database_url, K2, arbox.base_url) as (runtime, client):
        await drain(runtime.services)
        failed = await _job(client, gym, queued.json()["data"]["jobId"])
    assert failed["status"] == "failed", failed
    assert "'k1'" in failed["errorMessage"]
    assert "Re-enter the credentials" in failed["errorMessage"]
    assert not [s for s in inline.values() if s in repr(failed)]
    assert not arbox.sandbox.calls
