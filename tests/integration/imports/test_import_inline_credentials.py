"""Inline credentials (``arboxApiKey``/``arboxEmail``/``arboxPassword`` on POST /import) on
Postgres: sealed on the job row while the job can still run (a take-over needs them), erased
from it in the same commit that ends the job, however it ends, and never stored anywhere else.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from fitdata_adapters.db import tables as t
from fitdata_core.usecases.imports import run_import
from support.arbox_world import API_KEY, LOGIN, SANDBOX, World
from support.imports import drain

pytestmark = pytest.mark.integration

SECRETS = (SANDBOX.api_key, SANDBOX.password)


async def _sealed(world: World, job_id: str) -> tuple[str | None, bytes | None]:
    async with world.runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(
                    t.import_jobs.c.credentials_key_id, t.import_jobs.c.credentials_sealed
                ).where(t.import_jobs.c.id == job_id)
            )
        ).one()
    sealed = None if row.credentials_sealed is None else bytes(row.credentials_sealed)
    return row.credentials_key_id, sealed


async def _nothing_stored_in_clear(world: World) -> None:
    """No secret in clear on any job row, and no stored provider config was made."""
    async with world.runtime.engine.connect() as conn:
        assert (
            await conn.scalar(sa.select(sa.func.count()).select_from(t.import_provider_configs))
            == 0
        )
        rows = (await conn.execute(sa.select(t.import_jobs))).mappings().all()
    text = repr([dict(r) for r in rows])
    assert not [s for s in SECRETS if s in text]


async def _assert_erased(world: World, job_id: str, status: str) -> dict[str, Any]:
    job = await world.job(job_id)
    assert job["status"] == status, job
    assert await _sealed(world, job_id) == (None, None)
    await _nothing_stored_in_clear(world)
    return job


async def test_sealed_while_it_runs_and_erased_when_it_completes(one_step_world: World) -> None:
    world = one_step_world
    world.arbox.sandbox.generate(30)
    job_id = await world.start(**API_KEY, **LOGIN, entities={"plans": True, "members": True})
    key_id, sealed = await _sealed(world, job_id)
    assert key_id is not None  # kept for a take-over...
    assert sealed is not None
    assert not [s for s in SECRETS if s.encode() in sealed]  # ...sealed, never in clear
    await run_import(world.runtime.services, job_id)  # one step: the job is running
    assert (await world.job(job_id))["status"] == "in_progress"
    assert (await _sealed(world, job_id))[1] is not None
    await drain(world.runtime.services)
    job = await _assert_erased(world, job_id, "completed")
    assert job["results"]["members"]["created"] == 29


async def test_erased_when_it_fails(world: World) -> None:
    world.arbox.sandbox.generate(10)
    job_id = await world.start(arboxEmail=SANDBOX.email, arboxPassword="wrong-but-long-enough")
    assert (await _sealed(world, job_id))[1] is not None
    await drain(world.runtime.services)
    job = await _assert_erased(world, job_id, "failed")
    assert "401" in job["errorMessage"]
    assert "wrong-but-long-enough" not in repr(job)


async def test_erased_when_a_pending_job_is_cancelled(world: World) -> None:
    world.arbox.sandbox.generate(10)
    job_id = await world.start(**API_KEY)
    cancelled = await world.client.delete(f"{world.base}/jobs/{job_id}", headers=world.owner)
    assert cancelled.status_code == 200, cancelled.text
    await _assert_erased(world, job_id, "cancelled")
    await drain(world.runtime.services)  # its queued message finds nothing to do
    await _assert_erased(world, job_id, "cancelled")


async def test_erased_when_a_running_job_is_cancelled(one_step_world: World) -> None:
    world = one_step_world
    world.arbox.sandbox.generate(30)
    job_id = await world.start(**API_KEY, **LOGIN, entities={"plans": True, "members": True})
    await run_import(world.runtime.services, job_id)  # one step: the job is running
    cancelled = await world.client.delete(f"{world.base}/jobs/{job_id}", headers=world.owner)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["cancelRequested"] is True
    assert (await _sealed(world, job_id))[1] is not None  # its worker has not stopped yet
    await drain(world.runtime.services)
    await _assert_erased(world, job_id, "cancelled")
